"""The DDPM noise schedule and its closed forms (pure tensor math, no model).

Index convention (guided-diffusion's): the sample "at level t" has been noised with
``alphas_cumprod[t]``; the model called at level t predicts the sample at level t-1, and
level -1 is the clean image. A schedule respaced to N steps keeps a subset of the 1000
training timesteps; ``timestep_map[t]`` is the training timestep the model must be called
with at respaced level t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import UserInputError
from ..public import public_names
from .arguments import check_real, check_whole
from .schedules.settings import check_setting

__all__ = [
    "linear_betas",
    "cosine_betas",
    "named_betas",
    "BETA_SCHEDULES",
    "space_timesteps",
    "DiffusionSchedule",
    "VARIANCE_TYPES",
    "MAX_DIFFUSION_STEPS",
]

VARIANCE_TYPES = ("learned_range", "fixed_small", "fixed_large")


#: The most diffusion (training) steps a noise schedule has (published models have 1000 or 4000).
MAX_DIFFUSION_STEPS = 100_000


def _steps(num_steps: object) -> int:
    return check_whole("num_steps", num_steps, 1, MAX_DIFFUSION_STEPS + 1)


def linear_betas(num_steps: int = 1000) -> np.ndarray:
    """Ho et al.'s linear schedule, scaled so that any step count spans the same noise.

    Args:
        num_steps: the number of diffusion steps, 1..:data:`MAX_DIFFUSION_STEPS`.
    """
    num_steps = _steps(num_steps)
    scale = 1000 / num_steps
    return np.linspace(scale * 1e-4, scale * 0.02, num_steps, dtype=np.float64)


def cosine_betas(num_steps: int = 1000, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal's cosine schedule (betas capped to avoid a singular last step).

    Args:
        num_steps: the number of diffusion steps, 1..:data:`MAX_DIFFUSION_STEPS`.
        max_beta: the cap on every beta, in (0, 1].
    """
    num_steps = _steps(num_steps)
    max_beta = check_real("max_beta", max_beta, 0.0, 1.0, low_open=True)

    def alpha_bar(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    return np.array(
        [min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), max_beta) for i in range(num_steps)],
        dtype=np.float64,
    )


#: The named noise schedules.
BETA_SCHEDULES = ("linear", "cosine")


def named_betas(name: str, num_steps: int = 1000) -> np.ndarray:
    """The betas of a named noise schedule.

    Args:
        name: ``linear`` or ``cosine``.
        num_steps: the number of diffusion steps.
    """
    if not isinstance(name, str):
        raise UserInputError(f"beta schedule must be 'linear' or 'cosine', got {type(name).__name__}")
    if name == "linear":
        return linear_betas(num_steps)
    if name == "cosine":
        return cosine_betas(num_steps)
    raise UserInputError(f"beta schedule must be 'linear' or 'cosine', got {name!r}")


def space_timesteps(num_steps: int, spacing: str | int | list[int]) -> list[int]:
    """Which of ``num_steps`` training timesteps a respaced schedule keeps (sorted).

    ``"250"`` keeps 250 evenly spread steps (rounded fractional stride, first and last
    included); ``"10,15,20"`` splits the range into 3 equal sections with that many steps
    each; ``"ddimN"`` keeps every k-th step with the integer stride k that yields exactly N.

    Args:
        num_steps: the number of training timesteps.
        spacing: how to respace them: a step count, ``'10,15,20'`` sections, or ``'ddimN'``.
    """
    num_steps = check_whole("num_steps", num_steps, 1)
    if isinstance(spacing, (int, np.integer)) and not isinstance(spacing, bool):
        spacing = str(int(spacing))
    if isinstance(spacing, str) and spacing.startswith("ddim"):
        wanted = _spacing_count(spacing[len("ddim"):], spacing)
        for stride in range(1, num_steps):
            if len(range(0, num_steps, stride)) == wanted:
                return list(range(0, num_steps, stride))
        raise UserInputError(f"no integer stride gives exactly {wanted} steps out of {num_steps} (respacing {spacing!r})")
    if isinstance(spacing, str):
        counts = [_spacing_count(c, spacing) for c in spacing.split(",")]
    elif isinstance(spacing, (list, tuple)) and spacing:
        counts = [check_whole("spacing", c, 1) for c in spacing]
    else:
        raise UserInputError(f"spacing must be a step count, '10,15,20' (steps per section) or 'ddimN', got "
                             f"{type(spacing).__name__} {spacing!r}")
    base, extra = divmod(num_steps, len(counts))
    kept: list[int] = []
    start = 0
    for i, count in enumerate(counts):
        size = base + (1 if i < extra else 0)
        if not 1 <= count <= size:
            raise UserInputError(f"cannot take {count} steps from a section of {size} steps (respacing {spacing!r})")
        stride = 1.0 if count == 1 else (size - 1) / (count - 1)
        kept.extend(start + round(k * stride) for k in range(count))
        start += size
    return sorted(set(kept))


def _spacing_count(text: str, spacing: str) -> int:
    """One step count of a respacing string, or a ``UserInputError`` naming the string."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise UserInputError(f"spacing={spacing!r} is invalid: it must be a step count, '10,15,20' (steps per section) "
                             "or 'ddimN'")
    return int(text)


def _extract(table: np.ndarray, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """table[t] as a tensor broadcastable against ``like`` (N, C, H, W), on its device and dtype."""
    values = torch.as_tensor(table, dtype=torch.float64, device=t.device)[t.long()]
    return values.to(device=like.device, dtype=like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


@dataclass
class DiffusionSchedule:
    """Tables of a (possibly respaced) DDPM forward process and the reverse-step formulas.

    Args:
        betas: the forward process's betas, one per (respaced) step.
        timestep_map: for each respaced level, the training timestep the model is called with.
        variance_type: ``fixed_small``, ``fixed_large`` or ``learned_range`` (the model predicts it).
    """

    betas: np.ndarray
    timestep_map: np.ndarray
    variance_type: str = "learned_range"
    alphas_cumprod: np.ndarray = field(init=False)
    alphas_cumprod_prev: np.ndarray = field(init=False)
    posterior_variance: np.ndarray = field(init=False)
    posterior_log_variance_clipped: np.ndarray = field(init=False)
    fixed_large_log_variance: np.ndarray = field(init=False)
    posterior_mean_coef1: np.ndarray = field(init=False)
    posterior_mean_coef2: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.betas = np.asarray(self.betas, dtype=np.float64)
        self.timestep_map = np.asarray(self.timestep_map, dtype=np.int64)
        if self.variance_type not in VARIANCE_TYPES:
            raise ValueError(f"variance_type must be one of {VARIANCE_TYPES}, got {self.variance_type!r}")
        if not ((self.betas > 0) & (self.betas <= 1)).all():
            raise ValueError("betas must lie in (0, 1]")
        alphas = 1.0 - self.betas
        self.alphas_cumprod = np.cumprod(alphas)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.posterior_variance = self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # the variance at level 0 is 0; its log is clipped to the next one to stay finite
        # (a one-step schedule has no next one: beta_0 then, never used for noise at level 0)
        first = self.posterior_variance[1] if self.num_steps > 1 else self.betas[0]
        self.posterior_log_variance_clipped = np.log(np.append(first, self.posterior_variance[1:]))
        # Improved DDPM's "fixed large" variance: beta_t, with level 0 as in the clipped posterior
        self.fixed_large_log_variance = np.log(np.append(first, self.betas[1:]))
        self.posterior_mean_coef1 = self.betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        beta_schedule: str = "linear",
        num_train_steps: int = 1000,
        respacing: str | int | None = None,
        variance_type: str = "learned_range",
    ) -> DiffusionSchedule:
        """The training schedule, respaced to ``respacing`` steps (None keeps all of them).

        Args:
            beta_schedule: ``linear`` or ``cosine``.
            num_train_steps: the training schedule's number of steps.
            respacing: the number of steps to keep (or a spacing string), None for all.
            variance_type: ``fixed_small``, ``fixed_large`` or ``learned_range``.
        """
        base = named_betas(beta_schedule, num_train_steps)
        if respacing is None or str(respacing) == str(num_train_steps):
            return cls(base, np.arange(num_train_steps), variance_type)
        kept = space_timesteps(num_train_steps, respacing)
        cumprod = np.cumprod(1.0 - base)
        # consecutive kept steps must reproduce the same alphas_cumprod at those steps
        previous = np.append(1.0, cumprod[kept][:-1])
        betas = 1.0 - cumprod[kept] / previous
        return cls(betas, np.array(kept), variance_type)

    @property
    def num_steps(self) -> int:
        """The number of (respaced) levels."""
        return len(self.betas)

    def model_timesteps(self, t: torch.Tensor) -> torch.Tensor:
        """The training timesteps the model is called with at respaced levels ``t``.

        Args:
            t: respaced levels (an integer tensor).
        """
        return torch.as_tensor(self.timestep_map, device=t.device)[t.long()]

    # -- forward process ----------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Noise a clean image straight to level t.

        Args:
            x0: the clean images, NCHW in [-1, 1].
            t: the levels, one per image.
            noise: standard normal noise shaped like ``x0``.
        """
        ac = _extract(self.alphas_cumprod, t, x0)
        return ac.sqrt() * x0 + (1 - ac).sqrt() * noise

    def q_step(self, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """One forward step: from level t-1 to level t (RePaint's jump back).

        Args:
            x_prev: the images at level t-1.
            t: the levels, one per image.
            noise: standard normal noise shaped like ``x_prev``.
        """
        beta = _extract(self.betas, t, x_prev)
        return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise

    # -- reverse process ----------------------------------------------------------------
    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The clean image implied by ``x_t`` and the predicted noise ``eps``.

        Args:
            x_t: the noisy images at levels ``t``.
            t: the levels, one per image.
            eps: the model's noise prediction.
        """
        ac = _extract(self.alphas_cumprod, t, x_t)
        return (x_t - (1 - ac).sqrt() * eps) / ac.sqrt()

    def posterior_mean(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean of q(x_{t-1} | x_t, x0).

        Args:
            x0: the (predicted) clean images.
            x_t: the noisy images at levels ``t``.
            t: the levels, one per image.
        """
        return _extract(self.posterior_mean_coef1, t, x_t) * x0 + _extract(self.posterior_mean_coef2, t, x_t) * x_t

    def model_log_variance(self, t: torch.Tensor, like: torch.Tensor, var_values: torch.Tensor | None) -> torch.Tensor:
        """Log variance of p(x_{t-1} | x_t) for this schedule's variance type.

        learned_range: the model's extra channels v ∈ [-1, 1] interpolate in log space
        between the posterior variance (v = -1) and beta_t (v = 1), as in Improved DDPM.

        Args:
            t: the levels, one per image.
            like: a tensor whose shape, dtype and device the result takes.
            var_values: the model's variance output in [-1, 1] for ``learned_range``, else None.
        """
        if self.variance_type == "learned_range":
            if var_values is None:
                raise ValueError("a learned-range model must output 6 channels (eps and variance)")
            lo = _extract(self.posterior_log_variance_clipped, t, like)
            hi = _extract(np.log(self.betas), t, like)
            frac = (var_values.to(like.dtype) + 1) / 2
            return frac * hi + (1 - frac) * lo
        if self.variance_type == "fixed_small":
            return _extract(self.posterior_log_variance_clipped, t, like).expand_as(like)
        return _extract(self.fixed_large_log_variance, t, like).expand_as(like)

    def alpha_bar(self, t: int) -> float:
        """``alphas_cumprod[t]``, with level -1 (the clean image) at 1.

        Args:
            t: a level in -1..num_steps-1.
        """
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def step_coefficients(self, t: int, s: int | None = None, eta: float = 1.0) -> tuple[float, float, float, float]:
        """Coefficients of the reverse step from level ``t`` down to level ``s``: ``x_s = a x0 + b x_t + noise``.

        The DDIM family (Song et al., 2021) with stochasticity ``eta``: whatever ``eta``, the
        step maps ``q(x_t | x0)`` onto ``q(x_s | x0)``; the injected noise has ``eta²`` times
        the variance of the DDPM step between the two levels. ``eta = 1`` is the DDPM
        posterior ``q(x_s | x_t, x0)`` (for ``s = t - 1`` exactly ``posterior_mean_coef1/2``
        and ``posterior_variance``), ``eta = 0`` the deterministic DDIM step. ``s < t - 1``
        is a strided step (the walk skips levels).

        Args:
            t: the level the step starts from.
            s: the level it arrives at (default ``t - 1``; ``-1`` = the clean image).
            eta: stochasticity in [0, 1].

        Returns:
            ``(a, b, small, large)``: the mean coefficients and the two DDPM variances of the
            step (the posterior's, "fixed_small", and ``1 - ā_t / ā_s``, "fixed_large");
            the injected variance is ``eta²`` times the model's choice between them.
        """
        s = t - 1 if s is None else s
        if not -1 <= s < t < self.num_steps:
            raise ValueError(f"a down step needs -1 <= s < t < {self.num_steps}, got t={t}, s={s}")
        eta = check_setting("eta", eta)  # the schedule settings' one check of its range
        ac, prev = self.alpha_bar(t), self.alpha_bar(s)
        if s == t - 1:
            small, large = float(self.posterior_variance[t]), float(self.betas[t])
            if eta == 1.0:
                return float(self.posterior_mean_coef1[t]), float(self.posterior_mean_coef2[t]), small, large
        else:
            large = 1.0 - ac / prev
            small = (1.0 - prev) / (1.0 - ac) * large
        # what is left of level s's noise after the injected part: the deterministic direction to x_t
        b = math.sqrt(max(1.0 - prev - eta**2 * small, 0.0) / (1.0 - ac))
        return math.sqrt(prev) - b * math.sqrt(ac), b, small, large

    def q_jump(self, x_s: torch.Tensor, s: int, t: int, noise: torch.Tensor) -> torch.Tensor:
        """Forward noise from level ``s`` up to level ``t > s`` (a jump back of any length).

        Args:
            x_s: samples at level ``s``.
            s: their level.
            t: the level to noise them to.
            noise: standard normal noise shaped like ``x_s``.
        """
        if t == s + 1:
            return self.q_step(x_s, torch.full((x_s.shape[0],), t, device=x_s.device, dtype=torch.long), noise)
        keep = self.alpha_bar(t) / self.alpha_bar(s)
        return math.sqrt(keep) * x_s + math.sqrt(1.0 - keep) * noise

    def p_mean_variance(
        self, model_output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, clip_x0: bool = True, eta: float = 1.0,
        to: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """From the raw model output: (mean, log variance, predicted x0) of the reverse step.

        Args:
            model_output: eps, or eps and the learned-variance channels.
            x_t: the samples at level ``t``.
            t: (n,) respaced levels.
            clip_x0: clip the predicted clean image to [-1, 1].
            eta: the step's stochasticity (:meth:`step_coefficients`): 1 = DDPM, 0 = DDIM.
                With ``eta = 0`` the log variance is ``-inf`` (no noise).
            to: the level the step arrives at (default ``t - 1``); lower skips levels
                (one level for the whole batch: ``t`` must then hold one value).
        """
        channels = x_t.shape[1]
        if model_output.shape[1] == 2 * channels:
            eps, var_values = model_output.split(channels, dim=1)
        elif model_output.shape[1] == channels:
            eps, var_values = model_output, None
        else:
            raise ValueError(
                f"model output has {model_output.shape[1]} channels; expected {channels} (eps) "
                f"or {2 * channels} (eps and learned variance)"
            )
        eps = eps.to(x_t.dtype)
        x0 = self.predict_x0(x_t, t, eps)
        if clip_x0:
            x0 = x0.clamp(-1, 1)
        level = int(t.reshape(-1)[0])
        if (to is None or to == level - 1) and eta == 1.0:
            return self.posterior_mean(x0, x_t, t), self.model_log_variance(t, x_t, var_values), x0
        if to is not None and to != level - 1 and not bool((t == level).all()):
            raise ValueError("a strided step needs one level for the whole batch")
        if to is None or to == level - 1:
            log_var = self.model_log_variance(t, x_t, var_values)
            coef = [self.step_coefficients(int(v), None, eta)[:2] for v in t.reshape(-1).tolist()]
            a = torch.tensor([c[0] for c in coef], dtype=x_t.dtype, device=x_t.device).view(-1, *([1] * (x_t.dim() - 1)))
            b = torch.tensor([c[1] for c in coef], dtype=x_t.dtype, device=x_t.device).view_as(a)
        else:
            a, b, small, large = self.step_coefficients(level, to, eta)
            log_var = self._strided_log_variance(small, large, x_t, var_values)
        mean = a * x0 + b * x_t
        return mean, log_var + 2 * math.log(eta) if eta > 0 else torch.full_like(log_var, -math.inf), x0

    def _strided_log_variance(self, small: float, large: float, like: torch.Tensor,
                              var_values: torch.Tensor | None) -> torch.Tensor:
        """The model's log variance for a step that skips levels: the same rule as
        :meth:`model_log_variance`, between the strided step's own two variances."""
        lo = math.log(max(small, 1e-20))  # zero only for the step to the clean image, which adds no noise
        hi = math.log(large)
        if self.variance_type == "learned_range":
            if var_values is None:
                raise ValueError("a learned-range model must output 6 channels (eps and variance)")
            frac = (var_values.to(like.dtype) + 1) / 2
            return frac * hi + (1 - frac) * lo
        return torch.full_like(like, lo if self.variance_type == "fixed_small" else hi)


public_names(globals())  # after every public definition
