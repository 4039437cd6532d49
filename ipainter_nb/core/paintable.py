"""What a model must offer to be painted with, declared once and checked once.

:class:`PaintableModel` is the protocol (``DiffusionModel`` and the exact Gaussian model
follow it; so can a user's own model). :func:`check_model` checks a model against it and
names every member it lacks in one ``UserInputError``; :func:`model_traits` reads the
optional members (a default schedule, the precision, the network's width, the exact picture
model) in one place, so no other module probes a model with ``getattr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

from ..errors import UserInputError
from ..public import public_names

if TYPE_CHECKING:  # hints only: the schedule package's planner imports this module
    from .diffusion import DiffusionSchedule
    from .schedules.config import ScheduleConfig

__all__ = ["PaintableModel", "MEMBERS", "ModelTraits", "check_model", "model_traits"]


class PaintableModel(Protocol):
    """What the sampler needs of a model (``DiffusionModel`` and the exact Gaussian model).

    Optional members, read by :func:`model_traits`: ``default_schedule`` (a
    ``ScheduleConfig``, what ``paint`` runs when given no times), ``dtype`` and
    ``autocast_dtype`` (the precision, named when a half-precision output overflows),
    ``config`` (a dict whose ``num_channels`` sizes the micro-batches), ``num_train_steps``
    and ``image_model`` (the exact model's Gaussian picture model).
    """

    name: str

    @property
    def image_size(self) -> int:
        """The picture side the model paints."""
        ...

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        ...

    def check_t_T(self, t_T: int) -> int:
        """Refuse a walk the model cannot take (``UserInputError``); returns ``t_T``.

        Args:
            t_T: the number of respaced steps.
        """
        ...

    def schedule(self, t_T: int) -> DiffusionSchedule:
        """The model's noise schedule respaced to ``t_T`` steps.

        Args:
            t_T: the number of respaced steps.
        """
        ...

    def default_times(self) -> list[int]:
        """The times of the model's default schedule."""
        ...

    def __call__(self, x: torch.Tensor, t: torch.Tensor, schedule: DiffusionSchedule) -> torch.Tensor: ...


_METHODS = ("check_t_T", "schedule", "default_times")


#: every member of the protocol, as check_model names them
MEMBERS = ("check_t_T", "schedule", "default_times", "__call__", "name", "image_size", "device")


def _read(model: Any, member: str) -> Any:
    try:
        return getattr(model, member, None)
    except Exception:  # a property that fails counts as missing
        return None


def _lacks(model: Any, member: str) -> str | None:
    """How ``member`` should look, if ``model`` lacks it."""
    value = _read(model, member)
    if member in ("check_t_T", "schedule", "default_times"):
        return None if callable(value) else f"{member}()"
    if member == "__call__":
        return None if callable(model) else "__call__(x, t, schedule)"
    if member == "name":
        return None if isinstance(value, str) else "name (a str)"
    if member == "image_size":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if ok else "image_size (a positive int)"
    return None if isinstance(value, torch.device) else "device (a torch.device)"


def check_model(model: Any, name: str = "model", members: tuple[str, ...] = MEMBERS) -> PaintableModel:
    """``model`` itself if it offers every member of :class:`PaintableModel`, else one
    ``UserInputError`` naming what it lacks.

    Args:
        model: the model.
        name: the argument's name in messages.
        members: the members needed (default: all of ``MEMBERS``).
    """
    lacks = [lack for lack in (_lacks(model, member) for member in members) if lack is not None]
    if lacks:
        raise UserInputError(f"{name} must be a paintable model (ip.load_model(...) or ip.exact.ExactDiffusionModel); "
                             f"{type(model).__name__} lacks {', '.join(lacks)}")
    return model


@dataclass(frozen=True)
class ModelTraits:
    """The optional members of a model, read once (absent ones as None).

    Args:
        default_schedule: the schedule ``paint`` runs when given no times.
        half_precision: whether the model computes in float16 or bfloat16.
        num_channels: the network's base width (3 for a model that has no network).
        num_train_steps: the number of training timesteps.
        image_model: the exact model's Gaussian picture model.
    """

    default_schedule: ScheduleConfig | None
    half_precision: bool
    num_channels: int
    num_train_steps: int | None
    image_model: Any


def model_traits(model: PaintableModel) -> ModelTraits:
    """The optional members of ``model`` (see :class:`PaintableModel`).

    Args:
        model: a checked model (:func:`check_model`).
    """
    from .schedules.config import ScheduleConfig  # here: the schedules package reads models through this module

    default = getattr(model, "default_schedule", None)
    half = (torch.float16, torch.bfloat16)
    config = getattr(model, "config", None)
    steps = getattr(model, "num_train_steps", None)
    return ModelTraits(
        default_schedule=default if isinstance(default, ScheduleConfig) else None,
        half_precision=getattr(model, "dtype", None) in half or getattr(model, "autocast_dtype", None) is not None,
        num_channels=int(config.get("num_channels", 3)) if isinstance(config, dict) else 3,
        num_train_steps=steps if isinstance(steps, int) and not isinstance(steps, bool) else None,
        image_model=getattr(model, "image_model", None),
    )


public_names(globals())  # after every public definition
