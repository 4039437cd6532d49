"""The exact output law of any time-travel schedule run on the exact denoiser.

With a linear denoiser every sampler step (a DDPM or DDIM down step, a jump back up, the
paste of the noised known pixels) is affine in the state plus independent Gaussian noise,
so the output of ``paint()`` is Gaussian and its mean and covariance can be carried step by
step (:func:`schedule_output_law`); :func:`schedule_error` scores it against the exact
conditional, noise-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserInputError
from ..exits import run_step
from ..public import public_names
from .arguments import check_picture, check_whole
from .exact_denoiser import ExactDiffusionModel, wiener_gain
from .exact_images import MAX_DENSE_PIXELS, ExactConditional, GaussianImageModel, _binary_keep

# the schedule topic's modules, not its package: the package's planner imports this module
from .schedules.builders import check_eta
from .schedules.config import ScheduleConfig
from .schedules.times import count_nfe, validate_times

__all__ = ["GaussianLaw", "ScheduleError", "schedule_output_law", "schedule_error"]


@dataclass
class GaussianLaw:
    """A Gaussian over pictures in eigen-channel coordinates (channels independent there).

    Args:
        image_model: the picture model whose eigen-channel coordinates the law uses.
        size: the picture side.
        mean_eigen: the mean, (3, H·W), centred and rotated into eigen channels.
        cov_eigen: the covariance per eigen channel, (3, H·W, H·W).
    """

    image_model: GaussianImageModel
    size: int
    mean_eigen: np.ndarray  # (3, H·W), centred and rotated
    cov_eigen: np.ndarray  # (3, H·W, H·W)

    def mean(self) -> torch.Tensor:
        """(3, H, W) mean picture in channel coordinates."""
        z = torch.from_numpy(self.mean_eigen.reshape(3, self.size, self.size))
        return self.image_model._from_eigen(z, torch.device("cpu"))

    def pixel_variance(self) -> torch.Tensor:
        """(3, H, W) variance of every pixel."""
        _, u = self.image_model.eigen()
        diag = np.diagonal(self.cov_eigen, axis1=1, axis2=2)
        return torch.from_numpy((u**2 @ diag).reshape(3, self.size, self.size))

    def covariance(self) -> np.ndarray:
        """Dense (3HW, 3HW) covariance in channel coordinates, channel-major (small grids only)."""
        _, u = self.image_model.eigen()
        d = self.size * self.size
        out = np.zeros((3 * d, 3 * d))
        for c in range(3):
            for e in range(3):
                out[c * d:(c + 1) * d, e * d:(e + 1) * d] = np.einsum("j,jpq->pq", u[c] * u[e], self.cov_eigen)
        return out


@dataclass(frozen=True)
class _Up:
    """A jump back up: ``x ← √(1-b) x + √b ε``."""

    b: float


@dataclass(frozen=True)
class _Down:
    """A down step from level ᾱ = ``a``: paste ``√a y + √(1-a) ε`` where kept, then
    ``x ← M x + c1 (1 - √a w(0)) μ + √noise ε'`` with the circulant ``M = c1 W + c2``."""

    a: float
    c1: float
    c2: float
    wiener: torch.Tensor  # W's real even rfft gain, (3, n, n//2+1)
    gain: torch.Tensor  # M's, c1 W + c2
    noise: float  # variance injected after the step (0 on the last step and at eta = 0)


def _affine_steps(model: ExactDiffusionModel, times: list[int], eta: float) -> list[_Up | _Down]:
    """Every step of ``paint()`` on the exact model, as the affine map plus noise it is."""
    sched = model.schedule(times[0] + 1)
    lam, _ = model.image_model.eigen()
    size = model.size
    power = torch.as_tensor(lam[:, None, None] * model.image_model.spectrum(size)[None, :, : size // 2 + 1])
    steps: list[_Up | _Down] = []
    downs: dict[tuple[int, int], _Down] = {}  # resampling repeats the same down steps: build each once
    for t_last, t_cur in zip(times[:-1], times[1:]):
        if t_cur > t_last:  # forward noise, over one level or several (a long jump back)
            b = float(sched.betas[t_cur]) if t_cur == t_last + 1 else 1.0 - sched.alpha_bar(t_cur) / sched.alpha_bar(t_last)
            steps.append(_Up(b))
            continue
        if (t_last, t_cur) not in downs:
            a = float(sched.alphas_cumprod[t_last])
            c1, c2, small, large = sched.step_coefficients(t_last, t_cur, eta)
            w = wiener_gain(power, a)
            noise = eta**2 * (small if model.variance_type == "fixed_small" else large) if t_cur >= 0 else 0.0
            downs[t_last, t_cur] = _Down(a, c1, c2, w, c1 * w + c2, noise)
        steps.append(downs[t_last, t_cur])
    return steps


def _filter(x: torch.Tensor, gain: torch.Tensor, size: int) -> torch.Tensor:
    """Pictures ``x`` (3, m, H·W) through the circulant filter with real even rfft ``gain`` per eigen-channel.

    The filter is symmetric, so on the rows of a matrix this is both ``X M`` and ``X Mᵀ``."""
    m = x.shape[1]
    f = torch.fft.rfft2(x.reshape(3, m, size, size), norm="ortho") * gain[:, None]
    return torch.fft.irfft2(f, s=(size, size), norm="ortho").reshape(3, m, size * size)


def _output_mean(steps: list[_Up | _Down], y: torch.Tensor, mu: torch.Tensor, q: torch.Tensor, size: int) -> torch.Tensor:
    """The output's mean (3, H·W), uncentred eigen coordinates: ``y`` the known picture, ``mu`` the data mean."""
    p = 1 - q
    mean = torch.zeros_like(y)
    for step in steps:
        with run_step():  # the interpreter's exit parks a daemon thread between two steps
            if isinstance(step, _Up):
                mean = math.sqrt(1 - step.b) * mean
                continue
            mean = p * mean + q * math.sqrt(step.a) * y  # paste the noised known picture
            # x0 = W (x - √a μ) + μ; next = c1 x0 + c2 x
            filt = _filter((mean - math.sqrt(step.a) * mu)[:, None], step.wiener, size)[:, 0]
            mean = step.c1 * (filt + mu) + step.c2 * mean
    return p * mean + q * y


def _dense_covariance(steps: list[_Up | _Down], q: torch.Tensor, size: int) -> torch.Tensor:
    """The output's covariance (3, H·W, H·W) per eigen-channel, carried forward step by step."""
    p = 1 - q
    d = size * size
    eye = torch.eye(d, dtype=torch.float64)
    cov = eye.repeat(3, 1, 1)
    for step in steps:
        with run_step():
            if isinstance(step, _Up):
                cov = (1 - step.b) * cov + step.b * eye
                continue
            cov = p[:, None] * cov * p[None, :] + (1 - step.a) * torch.diag(q)
            cov = _filter(_filter(cov, step.gain, size).transpose(1, 2).contiguous(), step.gain, size)  # M cov Mᵀ
            if step.noise:
                cov = cov + step.noise * eye
    return p[:, None] * cov * p[None, :]


def _projected_covariance(steps: list[_Up | _Down], q: torch.Tensor, size: int, rows: torch.Tensor,
                          full: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The covariance of ``rows · output`` without the dense covariance, carried backward.

    The output is a linear map of the start noise and of every step's noise, all independent,
    so ``Cov(R x_out) = Σ_k R_k N_k R_kᵀ`` with ``R_k = R · (the steps after noise k)``: the
    rows are carried back through the steps (one filter per down step on ``m`` rows instead
    of two on ``H·W``).

    Args:
        steps: the schedule's affine steps.
        q: the keep mask, flat.
        size: the picture side.
        rows: (3, m, H·W) linear functionals of the output per eigen-channel.
        full: the first ``full`` rows get their whole covariance; every row gets its variance.

    Returns:
        ``(cov, var)``: (3, full, full) and (3, m).
    """
    p = 1 - q
    r = rows * p  # the output's kept pixels are pasted, noise-free
    cov = torch.zeros(3, full, full, dtype=torch.float64)
    var = torch.zeros(3, rows.shape[1], dtype=torch.float64)

    def add(scale: float, x: torch.Tensor) -> None:
        nonlocal cov, var
        head = x[:, :full]
        cov = cov + scale * head @ head.transpose(1, 2)
        var = var + scale * (x * x).sum(-1)

    for step in reversed(steps):
        with run_step():
            if isinstance(step, _Up):
                add(step.b, r)
                r = math.sqrt(1 - step.b) * r
                continue
            if step.noise:
                add(step.noise, r)
            r = _filter(r, step.gain, size)
            add(1 - step.a, r * q)  # the noise of the pasted known pixels
            r = r * p
    add(1.0, r)  # the start: x_T ~ N(0, I)
    return cov, var


def schedule_output_law(model: ExactDiffusionModel, image: torch.Tensor, keep: torch.Tensor, times: Sequence[int],
                        variance: str | None = None, eta: float = 1.0) -> GaussianLaw:
    """The exact law of ``paint(model, image, keep, times, clip_x0=False, eta=eta)``'s output.

    Every step of the sampler is affine in its state plus independent Gaussian noise:

    * down from t: paste ``√a_t y + √(1-a_t) ε`` where keep = 1, denoise with the Wiener
      filter W_t, step to ``c1 x0 + c2 x + η σ_t ε'`` (``c1, c2`` the DDPM posterior's
      coefficients at η = 1, DDIM's otherwise: ``DiffusionSchedule.step_coefficients``): the
      state is multiplied by the circulant ``M = c1 W_t + c2`` after the paste;
    * up to t: ``√(1-β_t) x + √β_t ε``;

    so the mean and covariance are carried exactly (float64, dense ``H·W × H·W`` per
    eigen-channel). Cost grows as (H·W)^2 per step: 16² grids take milliseconds per step;
    :func:`schedule_error` needs only a few projections and is much cheaper at 32².

    Args:
        model: the exact model the schedule runs on.
        image: (3, H, W) the known picture.
        keep: (1, H, W) the mask, 1 = keep.
        times: the schedule.
        variance: "fixed_small" or "fixed_large"; default the model's.
        eta: the down steps' stochasticity in [0, 1] (1 = DDPM, 0 = DDIM).

    Returns:
        The output's :class:`GaussianLaw`.
    """
    if isinstance(model, ExactDiffusionModel) and model.size**2 > MAX_DENSE_PIXELS:
        raise UserInputError(f"the output law is dense, up to {MAX_DENSE_PIXELS} pixels; this model paints "
                             f"{model.size}x{model.size}: use schedule_error, which works at any size")
    model, steps, y, mu, q = _setup(model, image, keep, times, variance, eta)
    mean = _output_mean(steps, y, mu, q, model.size)
    cov = _dense_covariance(steps, q, model.size)
    return GaussianLaw(model.image_model, model.size, (mean - mu).numpy(), cov.numpy())


def _setup(model: ExactDiffusionModel, image: torch.Tensor, keep: torch.Tensor, times: Sequence[int],
           variance: str | None, eta: float) -> tuple[ExactDiffusionModel, list[_Up | _Down], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked inputs: the model (with the variance asked for), the steps, the known picture
    and the data mean (uncentred eigen coordinates, (3, H·W) and (3, 1)) and the flat mask."""
    if not isinstance(model, ExactDiffusionModel):
        raise UserInputError(f"model must be an ExactDiffusionModel (ip.exact.ExactDiffusionModel.create()), "
                             f"got {type(model).__name__}")
    times = validate_times(times)
    model.check_t_T(times[0] + 1)
    eta = check_eta(eta)
    size = model.size
    image = check_picture(image, size, bounded=False)
    if variance not in (None, "fixed_small", "fixed_large"):
        raise UserInputError(f"variance={variance!r} is invalid: use 'fixed_small', 'fixed_large' or None (the model's)")
    if variance is not None and variance != model.variance_type:
        model = ExactDiffusionModel(model.image_model, size, model.beta_schedule, model.num_train_steps, variance,
                                    model.default_schedule, _device=torch.device("cpu"), _dtype=torch.float64)
    q = torch.from_numpy(_binary_keep(keep, size).astype(np.float64))
    # the sampler works on uncentred pictures (the noised state's mean is √a·mean): rotate without centring
    y = model.image_model._to_eigen(image.detach().cpu(), centre=False).reshape(3, size * size)
    mu = model.image_model._to_eigen(torch.tensor(model.image_model.mean).view(3, 1, 1), centre=False).reshape(3, 1)
    return model, _affine_steps(model, times, eta), y, mu, q


# --------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class ScheduleError:
    """How far a schedule's output is from the exact answer (noise-free).

    Args:
        nfe: the schedule's model calls.
        kl: Gaussian KL(output law ‖ exact conditional) on the leading components.
        bias: the distance between the two means, relative to the exact spread.
        var_ratio: the output's variance over the exact conditional's.
    """

    nfe: int
    kl: float
    bias: float
    var_ratio: float


def schedule_error(model: ExactDiffusionModel, image: torch.Tensor, keep: torch.Tensor, times: Sequence[int] | ScheduleConfig,
                   k: int = 16, conditional: ExactConditional | None = None, variance: str | None = None,
                   eta: float = 1.0) -> ScheduleError:
    """Exact distance between a schedule's output law and the exact conditional.

    Only the law's mean, its pixel variances and its covariance on the ``k`` components are
    needed, so they are carried backward as projections (no dense covariance): at 16² a
    plain 100-step schedule takes a fraction of a second, at 32² RePaint's 2410 calls
    well under a minute.

    Args:
        model: the exact model.
        image: (3, H, W) the known picture.
        keep: (1, H, W) the mask, 1 = keep.
        times: the schedule, or a ``ScheduleConfig`` (its times and its ``eta``).
        k: principal components of the exact conditional the KL is measured on.
        conditional: ``model.image_model.conditional(image, keep)``, to reuse it across schedules.
        variance: "fixed_small" or "fixed_large"; default the model's.
        eta: the down steps' stochasticity (ignored for a ``ScheduleConfig``, which has its own).

    Returns:
        A :class:`ScheduleError` (model calls, KL, bias, variance ratio).
    """
    if isinstance(times, ScheduleConfig):
        times, eta = times.times(), times.eta
    k = check_whole("k", k, 1)
    if conditional is not None and not isinstance(conditional, ExactConditional):
        raise UserInputError(f"conditional must be an ExactConditional (or None), got {type(conditional).__name__}")
    model, steps, y, mu, q = _setup(model, image, keep, times, variance, eta)
    cond = conditional or model.image_model.conditional(image, keep)
    g = cond.generated
    components = torch.from_numpy(cond.component_rows(k))
    pixels = torch.zeros(3, len(g), model.size**2, dtype=torch.float64)
    pixels[:, torch.arange(len(g)), torch.from_numpy(g)] = 1.0
    comp_cov, var = _projected_covariance(steps, q, model.size, torch.cat([components, pixels], 1), components.shape[1])
    mean = (_output_mean(steps, y, mu, q, model.size) - mu).numpy()
    s = cond.score_moments(mean[:, g], var[:, components.shape[1]:].numpy(), comp_cov.numpy(), k)
    return ScheduleError(count_nfe(list(times)), s["kl"], s["bias"], s["var_ratio"])


public_names(globals())  # after every public definition
