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

from .exact_denoiser import ExactDiffusionModel, wiener_gain
from .exact_images import ExactConditional, GaussianImageModel, _binary_keep
from .schedules import ScheduleConfig, check_eta, count_nfe, validate_times

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


def _sandwich(cov: torch.Tensor, gain: torch.Tensor, size: int) -> torch.Tensor:
    """``M cov M^T`` for the circulant M with real even rfft gain (3, n, n//2+1), per eigen-channel."""
    d = size * size

    def right(x: torch.Tensor) -> torch.Tensor:  # x M^T: M applied to every row, seen as a picture
        f = torch.fft.rfft2(x.reshape(3, d, size, size), norm="ortho") * gain[:, None]
        return torch.fft.irfft2(f, s=(size, size), norm="ortho").reshape(3, d, d)

    return right(right(cov).transpose(1, 2).contiguous())


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
    eigen-channel). Cost grows as (H·W)^1.5 per step: 16² grids take milliseconds per step.

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
    times = validate_times(times)
    eta = check_eta(eta)
    size = model.size
    if variance is not None and variance != model.variance_type:
        model = ExactDiffusionModel(model.image_model, size, model.beta_schedule, model.num_train_steps, variance,
                                    model.default_schedule, _device=torch.device("cpu"), _dtype=torch.float64)
    sched = model.schedule(times[0] + 1)
    keep_flat = _binary_keep(keep, size).astype(np.float64)
    d = size * size
    q = torch.from_numpy(keep_flat)
    p = 1 - q
    # the sampler works on uncentred pictures (the noised state's mean is √a·mean): rotate without centring
    y = model.image_model._to_eigen(image.detach().cpu(), centre=False).reshape(3, d)
    mu = model.image_model._to_eigen(torch.tensor(model.image_model.mean).view(3, 1, 1), centre=False).reshape(3, 1)
    lam, _ = model.image_model.eigen()
    power = torch.as_tensor(lam[:, None, None] * model.image_model.spectrum(size)[None, :, : size // 2 + 1])
    eye = torch.eye(d, dtype=torch.float64)
    mean = torch.zeros(3, d, dtype=torch.float64)
    cov = eye.repeat(3, 1, 1)
    for t_last, t_cur in zip(times[:-1], times[1:]):
        if t_cur > t_last:  # forward noise, over one level or several (a long jump back)
            b = float(sched.betas[t_cur]) if t_cur == t_last + 1 else 1.0 - sched.alpha_bar(t_cur) / sched.alpha_bar(t_last)
            mean = math.sqrt(1 - b) * mean
            cov = (1 - b) * cov + b * eye
            continue
        a = float(sched.alphas_cumprod[t_last])
        c1, c2, small, large = sched.step_coefficients(t_last, t_cur, eta)
        w = wiener_gain(power, a)  # (3, n, n//2+1)
        gain = c1 * w + c2
        # paste the noised known picture
        mean = p * mean + q * math.sqrt(a) * y
        cov = p[:, None] * cov * p[None, :] + (1 - a) * torch.diag(q * q)
        # x0 = W (x - √a mean) + mean; next = c1 x0 + c2 x: M x + c1 (1 - √a w(0)) mean
        centred = mean - math.sqrt(a) * mu
        filt = torch.fft.irfft2(torch.fft.rfft2(centred.reshape(3, size, size), norm="ortho") * w, s=(size, size),
                                norm="ortho").reshape(3, d)
        mean = c1 * (filt + mu) + c2 * mean
        cov = _sandwich(cov, gain, size)
        if t_cur >= 0 and eta > 0:
            cov = cov + eta**2 * (small if model.variance_type == "fixed_small" else large) * eye
    mean = p * mean + q * y
    cov = p[:, None] * cov * p[None, :]
    return GaussianLaw(model.image_model, size, (mean - mu).numpy(), cov.numpy())


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

    A lesson-sized call: at 16² a plain 100-step schedule takes well under a second.

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
    cond = conditional or model.image_model.conditional(image, keep)
    law = schedule_output_law(model, image, keep, times, variance=variance, eta=eta)
    s = cond.score_law(law, k=k)
    return ScheduleError(count_nfe(list(times)), s["kl"], s["bias"], s["var_ratio"])
