"""The exact denoiser of the Gaussian picture model, run by ``paint()`` like a trained model.

For a Gaussian picture model ``E[x0 | x_t]`` is a Wiener filter, diagonal in
(eigen-channel, frequency) and applied by FFT (:func:`wiener_gain`);
:class:`ExactDiffusionModel` wraps it with the interface of ``DiffusionModel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import UserInputError
from ..public import public_names
from .arguments import as_tensor, check_finite, check_float_dtype, check_side, check_whole
from .devices import as_device
from .diffusion import BETA_SCHEDULES, DiffusionSchedule
from .exact_images import GaussianImageModel, demo_image_model

__all__ = ["ExactDiffusionModel", "wiener_gain"]


def wiener_gain(power: torch.Tensor, alpha_bar: torch.Tensor | float) -> torch.Tensor:
    """``√a P / (a P + 1 - a)``: the posterior-mean gain of a component of prior power P seen
    as ``√a x0 + √(1-a) ε`` (the one formula of the exact denoiser).

    Args:
        power: the data spectrum's power per frequency (any shape).
        alpha_bar: the forward process's ᾱ at the level.
    """
    power = check_finite("power", as_tensor("power", power))
    if bool((power < 0).any()):
        raise UserInputError("power must be non-negative (a spectrum's power per frequency)")
    if isinstance(alpha_bar, (int, float)) and not isinstance(alpha_bar, bool):
        alpha_bar = torch.tensor(float(alpha_bar), dtype=torch.float64)
    a = check_finite("alpha_bar", as_tensor("alpha_bar", alpha_bar))
    if bool(((a < 0) | (a > 1)).any()):
        raise UserInputError("alpha_bar must lie in [0, 1] (the forward process's ᾱ at a level)")
    a = a.to(dtype=power.dtype, device=power.device)
    return a.sqrt() * power / (a * power + 1 - a)


def _check_schedule(schedule: Any, num_train_steps: int) -> Any:
    from .schedules.config import ScheduleConfig  # the schedules import the exact model (the planner)

    if not isinstance(schedule, ScheduleConfig):
        raise UserInputError(f"default_schedule must be a ScheduleConfig (or None for the default), got {type(schedule).__name__}")
    check_whole("default_schedule.t_T", schedule.t_T, 1, num_train_steps + 1)
    return schedule


@dataclass
class ExactDiffusionModel:
    """The exact denoiser of a :class:`GaussianImageModel`, called like a ``DiffusionModel``.

    ``paint(model, image, keep, times)`` runs on it unchanged: it has ``image_size``,
    ``device``, ``dtype``, ``name``, ``variance_type``, ``schedule(t_T)``,
    ``default_times()`` and returns the noise prediction from ``model(x, t, schedule)``.
    Any batch size; the arithmetic runs on ``device`` in ``dtype``.

    Note: ``paint()`` clamps the predicted x0 and the final samples to [-1, 1]; for exact
    statistics use a contrast well inside that range (``GaussianImageModel.scaled``) and
    ``clip_x0=False``.

    Args:
        image_model: the Gaussian picture model whose exact denoiser this is.
        size: the picture side in pixels.
        beta_schedule: the noise schedule (``linear`` or ``cosine``).
        num_train_steps: the number of training timesteps of that schedule.
        variance_type: the reverse steps' variance (``fixed_small`` or ``fixed_large``).
        default_schedule: the ``ScheduleConfig`` used when ``paint`` gets no times (None: the paper's proportions).
        name: the model's name in logs and tables.
    """

    image_model: GaussianImageModel
    size: int = 32
    beta_schedule: str = "linear"
    num_train_steps: int = 1000
    variance_type: str = "fixed_small"
    default_schedule: Any = None
    name: str = "exact-gaussian"
    _device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _dtype: torch.dtype = torch.float32
    _schedules: dict[int, DiffusionSchedule] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.image_model, GaussianImageModel):
            raise UserInputError(f"image_model must be a GaussianImageModel (ip.exact.demo_image_model()), "
                                 f"got {type(self.image_model).__name__}")
        self.size = check_side(self.size, "size")
        self.num_train_steps = check_whole("num_train_steps", self.num_train_steps, 1, 100_001)
        if not isinstance(self.name, str):
            raise UserInputError(f"name must be a str, got {type(self.name).__name__}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise UserInputError(f"beta_schedule must be one of {', '.join(map(repr, BETA_SCHEDULES))}, got {self.beta_schedule!r}")
        if self.variance_type not in ("fixed_small", "fixed_large"):
            raise UserInputError(f"variance_type must be 'fixed_small' or 'fixed_large', got {self.variance_type!r}")
        if self.default_schedule is None:
            from .schedules.config import ScheduleConfig

            self.default_schedule = ScheduleConfig(t_T=100, jump_length=5, jump_n_sample=5, stop_resampling_at=40)
        self.default_schedule = _check_schedule(self.default_schedule, self.num_train_steps)
        self._device = as_device(self._device)
        self._dtype = check_float_dtype(self._dtype)
        self._rebuild_tables()

    @classmethod
    def create(cls, image_model: GaussianImageModel | None = None, size: int = 32, *, variance_type: str = "fixed_small",
               beta_schedule: str = "linear", num_train_steps: int = 1000, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32, default_schedule: Any = None) -> ExactDiffusionModel:
        """The exact model of ``image_model`` (default: fitted to the demo scenes) at ``size``².

        Args:
            image_model: the Gaussian picture model.
            size: the picture side in pixels.
            variance_type: ``fixed_small`` or ``fixed_large``.
            beta_schedule: ``linear`` or ``cosine``.
            num_train_steps: the number of training timesteps.
            device: where the arithmetic runs.
            dtype: the dtype of the arithmetic.
            default_schedule: the schedule used when ``paint`` gets no times.
        """
        return cls(image_model or demo_image_model(), size, beta_schedule, num_train_steps, variance_type, default_schedule,
                   _device=device or "cpu", _dtype=dtype)

    def _rebuild_tables(self) -> None:
        lam, _ = self.image_model.eigen()
        # the spectrum on the rfft grid: the filter is real and even, so rfft/irfft are exact
        spec = self.image_model.spectrum(self.size)[:, : self.size // 2 + 1]
        self._power = torch.as_tensor(lam[:, None, None] * spec[None], device=self._device, dtype=torch.float64)

    @property
    def image_size(self) -> int:
        """The picture side in pixels."""
        return self.size

    @property
    def device(self) -> torch.device:
        """Where the arithmetic runs."""
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the arithmetic."""
        return self._dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> ExactDiffusionModel:
        """Move the arithmetic to another device or dtype (returns self, like ``nn.Module.to``).

        Args:
            device: the new device, or None to keep it.
            dtype: the new dtype, or None to keep it.
        """
        if device is not None:
            self._device = as_device(device)
        if dtype is not None:
            self._dtype = check_float_dtype(dtype)
        self._rebuild_tables()
        return self

    def check_t_T(self, t_T: int) -> int:
        """Refuse a walk longer than the training schedule (``UserInputError``).

        Args:
            t_T: the number of respaced steps asked for.
        """
        return check_whole("t_T", t_T, 1, self.num_train_steps + 1)  # the message names this model's range

    def schedule(self, t_T: int) -> DiffusionSchedule:
        """The training noise schedule respaced to ``t_T`` steps (cached), variance type fixed.

        Args:
            t_T: the number of respaced steps.
        """
        self.check_t_T(t_T)
        if t_T not in self._schedules:
            self._schedules[t_T] = DiffusionSchedule.create(self.beta_schedule, self.num_train_steps, str(t_T), self.variance_type)
        return self._schedules[t_T]

    def default_times(self) -> list[int]:
        """The times of the default schedule."""
        return self.default_schedule.times()

    def wiener_gain(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        """Gain of ``E[x0 | x_t]`` per (sample, eigen-channel, rfft frequency).

        Args:
            alpha_bar: the forward process's ᾱ at the level.
        """
        return wiener_gain(self._power, alpha_bar.to(self._power).view(-1, 1, 1, 1))

    def predict_x0(self, x: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
        """The posterior mean of the clean picture given ``x`` noised with ``alpha_bar`` (per sample).

        Args:
            x: noisy pictures, (N, 3, H, W).
            alpha_bar: ᾱ of their level.
        """
        work = torch.float64 if self._dtype == torch.float64 else torch.float32
        a = alpha_bar.to(device=x.device, dtype=torch.float64).reshape(-1)
        if bool((a == a[0]).all()):
            a = a[:1]  # one level for the whole batch (every schedule step): one gain table
        n, size = x.shape[0], x.shape[-1]
        mean = torch.as_tensor(self.image_model.mean, dtype=work, device=x.device).view(1, 3, 1)
        u = torch.as_tensor(self.image_model.eigen()[1], dtype=work, device=x.device)
        centred = x.to(work).reshape(n, 3, -1) - a.to(work).sqrt().view(-1, 1, 1) * mean
        z = (u.T @ centred).reshape(n, 3, size, size)  # eigen-channels
        gain = self.wiener_gain(a).to(work)
        z = torch.fft.irfft2(torch.fft.rfft2(z, norm="ortho") * gain, s=(size, size), norm="ortho")
        return (u @ z.reshape(n, 3, -1) + mean).reshape(n, 3, size, size)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, schedule: DiffusionSchedule) -> torch.Tensor:
        """The noise prediction ``(x - √a x0_hat) / √(1 - a)`` at respaced levels ``t``."""
        a = torch.as_tensor(schedule.alphas_cumprod, dtype=torch.float64, device=x.device)[t.to(x.device).long()]
        x0 = self.predict_x0(x, a)
        a_ = a.to(x0.dtype).view(-1, 1, 1, 1)
        return ((x.to(x0.dtype) - a_.sqrt() * x0) / (1 - a_).sqrt()).to(x.dtype)


public_names(globals())  # after every public definition
