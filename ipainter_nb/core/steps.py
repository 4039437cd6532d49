"""What a run yields, keeps and returns: ``Step`` events, replay ``Frame`` s, the ``PaintResult``,
and the ``CancelToken`` that stops a run from another thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import torch

from ..public import public_names

__all__ = ["Step", "Frame", "PaintResult", "CancelToken"]


@dataclass
class Step:
    """One step of a run, as :func:`paint_steps` yields it (tensors on the run's device).

    Args:
        index: position in the schedule (0 = first step).
        t: the level the step starts from.
        direction: ``down`` (a model call) or ``up`` (forward noise).
        x_t: (n,3,H,W) the sample after this step; on the last step, the picture with the known pixels pasted.
        x0_pred: (n,3,H,W) the model's clean-image prediction; None on up steps.
        nfe_so_far: model calls of this micro-batch so far.
        elapsed_s: seconds since the micro-batch started.
        total_steps: steps in the schedule.
        total_nfe: model calls in the schedule.
        first_sample: run index of the micro-batch's first picture (``x_t[i]`` is picture ``first_sample + i``).
        model_s: seconds inside the model call of this step.
    """

    index: int  # position in the schedule (0 = first step)
    t: int  # the level the step starts from
    direction: str  # "down" (a model call) or "up" (forward noise)
    x_t: torch.Tensor  # (n,3,H,W) the sample after this step; on the last step, the picture with known pixels pasted
    x0_pred: torch.Tensor | None  # (n,3,H,W) the model's clean-image prediction; None on up steps
    nfe_so_far: int  # model calls of this micro-batch so far
    elapsed_s: float  # since the micro-batch started
    total_steps: int = 0
    total_nfe: int = 0
    first_sample: int = 0  # run index of the micro-batch's first picture (x_t[i] is picture first_sample + i)
    model_s: float = 0.0  # time inside the model call of this step


@dataclass
class Frame:
    """A step kept for replay after the run: images as uint8 (n,3,H,W) on the CPU.

    Args:
        index: position in the schedule.
        t: the level the step starts from.
        direction: ``down`` or ``up``.
        nfe: model calls so far.
        elapsed_s: seconds since the micro-batch started.
        x_t: the sample after the step, uint8 (n,3,H,W).
        x0_pred: the clean-image prediction, uint8, or None on up steps.
    """

    index: int
    t: int
    direction: str
    nfe: int
    elapsed_s: float
    x_t: torch.Tensor
    x0_pred: torch.Tensor | None


@dataclass
class PaintResult:
    """What a run produced.

    ``samples`` holds the pictures that went through the whole schedule (``num_finished``
    of them, or none with ``paint(keep_samples=False)``), then, if the run was stopped
    (``stopped``), the best pictures of the micro-batch it stopped in (their latest
    clean-image prediction, known pixels pasted). Micro-batches never started are absent.

    Args:
        samples: (M,3,H,W) in [-1,1], known pixels exactly as given.
        frames: steps of the first micro-batch kept for replay.
        times: the schedule that was run.
        nfe: model calls made, over all micro-batches.
        elapsed_s: seconds the run took.
        seed: the run's seed.
        stopped: whether the run was stopped before its end.
        steps_done: steps of the schedule done by the last micro-batch that ran.
        num_finished: how many samples went through the whole schedule.
        first_sample: run index of the first sample.
        batch_size: samples painted at once.
        timings: seconds spent per part of the run (model calls, previews, ...).
    """

    samples: torch.Tensor  # (M,3,H,W) in [-1,1], known pixels exactly as given
    frames: list[Frame]  # steps of the first micro-batch kept for replay (max_frames of them)
    times: list[int]
    nfe: int  # model calls made, over all micro-batches
    elapsed_s: float
    seed: int
    stopped: bool = False
    steps_done: int = 0  # steps of the schedule done by the last micro-batch that ran
    num_finished: int = 0
    first_sample: int = 0
    batch_size: int = 1
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds_per_nfe(self) -> float:
        """Seconds per model call (wall time over NFE)."""
        return self.elapsed_s / max(self.nfe, 1)


class CancelToken:
    """Set it from another thread (a Stop button) to end a run after the current step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask the run to stop after its current step."""
        self._event.set()

    def clear(self) -> None:
        """Withdraw the request (the token can then serve another run)."""
        self._event.clear()

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()


public_names(globals())  # after every public definition
