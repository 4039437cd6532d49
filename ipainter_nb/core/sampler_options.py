"""How ``paint()`` runs, as one checked value: :class:`SamplerOptions`.

The sampler's arithmetic (``eta``, ``clip_x0``, ``device``, ``dtype``), its micro-batches
(``batch_size``, ``first_sample``), what it keeps and reports (``max_frames``,
``keep_samples``, ``on_samples``, ``progress``) and how it is stopped (``cancel``). Every
field is checked when the options are made, so a bad value is refused before anything runs.
``paint(..., eta=0.5)`` and ``paint(..., options=SamplerOptions(eta=0.5))`` are the same call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from ..errors import UserInputError
from ..public import public_names
from .arguments import check_flag, check_float_dtype, check_function, check_whole
from .devices import as_device
from .schedules.builders import check_eta
from .schedules.config import ScheduleConfig
from .schedules.times import validate_times

__all__ = ["SamplerOptions", "Cancel"]


class Cancel(Protocol):
    """Anything with ``is_set()``: a ``CancelToken`` or a ``threading.Event``."""

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        ...


@dataclass(frozen=True)
class SamplerOptions:
    """Every setting of a ``paint()`` run besides its inputs, schedule, count, seed and callback.

    Args:
        eta: stochasticity of the down steps in [0, 1] (1 = DDPM steps, 0 = deterministic DDIM
            steps); None takes the ``ScheduleConfig``'s (given as ``times`` or the model's
            default), else 1.
        clip_x0: clip the predicted clean image to [-1, 1] (as guided-diffusion does).
        device: where to run (default: the model's device).
        dtype: the dtype of the sampler's arithmetic (the model keeps its own precision).
        batch_size: pictures per model call; None chooses from the model and device
            (``auto_batch_size``) so memory stays bounded however many are asked for.
        first_sample: paint pictures ``first_sample..first_sample+num_samples-1`` of a bigger
            run with the same seed (each the same as in the bigger run).
        max_frames: how many steps of the first micro-batch to keep (evenly spread) in
            ``result.frames`` for replay.
        keep_samples: False leaves finished pictures out of ``result.samples`` (they go to
            ``on_samples`` only), so that memory stays bounded however many are painted.
        on_samples: called as ``on_samples(k, pictures)`` with each finished micro-batch,
            ``pictures`` (n,3,H,W) being pictures k..k+n-1 of the run.
        progress: True shows progress (a bar in a terminal or notebook, summary lines in a
            log); None only where someone watches (terminal or notebook); False never.
        cancel: anything with ``is_set()`` (a ``CancelToken``), checked before every step; it
            ends a run exactly as a callback returning False does.
        noise_like: a schedule (list of levels or ``ScheduleConfig``) whose noise the run
            draws, carried onto its own levels (``core/noise.py``): a short run with
            ``noise_like=`` a long run's schedule and the same seed predicts the long run's
            pictures (the Painter's drafts). None (default): the run's own draws.
    """

    eta: float | None = None
    clip_x0: bool = True
    device: torch.device | str | None = None
    dtype: torch.dtype = torch.float32
    batch_size: int | None = None
    first_sample: int = 0
    max_frames: int = 100
    keep_samples: bool = True
    on_samples: Callable[[int, torch.Tensor], None] | None = None
    progress: bool | None = None
    cancel: Cancel | None = None
    noise_like: Sequence[int] | ScheduleConfig | None = None

    def __post_init__(self) -> None:
        checked = {
            "eta": None if self.eta is None else check_eta(self.eta),
            "clip_x0": check_flag("clip_x0", self.clip_x0),
            "device": None if self.device is None else as_device(self.device),
            "dtype": check_float_dtype(self.dtype),
            "batch_size": None if self.batch_size is None else check_whole("batch_size", self.batch_size, 1),
            "first_sample": check_whole("first_sample", self.first_sample, 0),
            "max_frames": check_whole("max_frames", self.max_frames, 0),
            "keep_samples": check_flag("keep_samples", self.keep_samples),
            "on_samples": check_function("on_samples", self.on_samples),
            "progress": None if self.progress is None else check_flag("progress", self.progress),
        }
        if self.cancel is not None and not callable(getattr(self.cancel, "is_set", None)):
            raise UserInputError(f"cancel must have an is_set() method (a CancelToken or threading.Event), "
                                 f"got {type(self.cancel).__name__}")
        if self.noise_like is not None:
            like = self.noise_like.times() if isinstance(self.noise_like, ScheduleConfig) else self.noise_like
            try:
                checked["noise_like"] = tuple(validate_times(like))
            except UserInputError as exc:
                raise UserInputError(f"noise_like is not a schedule: {exc}") from None
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def merged(cls, options: SamplerOptions | None, settings: Mapping[str, Any]) -> SamplerOptions:
        """``options`` (default: the defaults) with ``settings`` (field names as keywords) replacing fields.

        Args:
            options: the options given as one value, or None.
            settings: single fields given as keywords (``paint(..., eta=0.5)``).
        """
        if options is not None and not isinstance(options, cls):
            raise UserInputError(f"options must be a SamplerOptions, got {type(options).__name__} {options!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise UserInputError(f"paint() got unknown setting(s) {', '.join(unknown)}: "
                                 f"the settings are {', '.join(sorted(fields))} (see SamplerOptions)")
        base = options if options is not None else cls()
        return dataclasses.replace(base, **settings) if settings else base


public_names(globals())  # after every public definition
