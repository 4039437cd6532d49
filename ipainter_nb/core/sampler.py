"""``paint()``: inpainting with RePaint-style resampling over any time-travel schedule.

A sampler is a plain function over a model, inputs and a schedule, with a callback (the
shape of k-diffusion's samplers). The schedule (see ``schedules.py``) is the list of
levels visited; each pair of neighbours is one step:

- down (t → t-1): noise the known image to level t, paste it into the sample where
  ``keep`` is 1, call the model at t, draw the sample at level t-1;
- up (t-1 → t): forward-noise the sample by one step ("jump back").

The sampler knows nothing of widgets: it reports every step as a ``Step``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import torch

from .schedules import count_nfe, validate_times

if TYPE_CHECKING:  # pragma: no cover
    from .models import DiffusionModel

__all__ = ["Step", "Frame", "PaintResult", "CancelToken", "NonFiniteOutputError", "paint", "derive_seed"]


@dataclass
class Step:
    """One step of a run, as handed to the callback (tensors live on the run's device)."""

    index: int  # position in the schedule (0 = first step)
    t: int  # the level the step starts from
    direction: str  # "down" (a model call) or "up" (forward noise)
    x_t: torch.Tensor  # (N,3,H,W) the sample after this step, known pixels pasted in
    x0_pred: torch.Tensor | None  # (N,3,H,W) the model's clean-image prediction; None on up steps
    nfe_so_far: int
    elapsed_s: float
    total_steps: int = 0
    total_nfe: int = 0


@dataclass
class Frame:
    """A step kept for replay after the run: images as uint8 (N,3,H,W) on the CPU."""

    index: int
    t: int
    direction: str
    nfe: int
    elapsed_s: float
    x_t: torch.Tensor
    x0_pred: torch.Tensor | None


@dataclass
class PaintResult:
    samples: torch.Tensor  # (N,3,H,W) in [-1,1], known pixels exactly as given
    steps: list[Frame]
    times: list[int]
    nfe: int
    elapsed_s: float
    seed: int
    cancelled: bool = False
    steps_done: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds_per_nfe(self) -> float:
        return self.elapsed_s / max(self.nfe, 1)


class CancelToken:
    """Set it from another thread (a Stop button) to end a run after the current step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()


class _Cancel(Protocol):
    def is_set(self) -> bool: ...


class NonFiniteOutputError(FloatingPointError):
    """The model produced NaN or inf: better to stop than to write black pictures."""


def derive_seed(seed: int, k: int) -> int:
    """Seed of sample k in a batch; sample 0 uses the seed itself, so a batch of N with
    seed s holds the pictures of N single runs with seeds derive_seed(s, k)."""
    if k == 0:
        return seed
    return (seed + k * 0x9E3779B97F4A7C15) % (2**63)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def _frame_indices(num_steps: int, max_frames: int) -> set[int]:
    """Evenly spread steps to keep for replay, always including the last one."""
    if max_frames <= 0 or num_steps == 0:
        return set()
    if num_steps <= max_frames:
        return set(range(num_steps))
    stride = num_steps / max_frames
    picked = {min(num_steps - 1, int(round(i * stride))) for i in range(max_frames)}
    picked.add(num_steps - 1)
    return picked


def _check_inputs(model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if keep.dim() == 4 and keep.shape[0] == 1:
        keep = keep[0]
    if keep.dim() == 2:
        keep = keep[None]
    size = model.image_size
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be (3, H, W) in [-1, 1], got shape {tuple(image.shape)}")
    if tuple(image.shape[1:]) != (size, size):
        raise ValueError(
            f"image is {image.shape[2]}x{image.shape[1]} but model {model.name!r} paints {size}x{size}: "
            f"compose at Composition(size={size}) or resize the picture"
        )
    if keep.shape != (1, *image.shape[1:]):
        raise ValueError(f"keep mask must be (1, {size}, {size}) with 1 = keep, got shape {tuple(keep.shape)}")
    if image.min() < -1.001 or image.max() > 1.001:
        raise ValueError("image values must lie in [-1, 1] (use ipainter_nb.images.pil_to_tensor)")
    return image, keep


def paint(
    model: DiffusionModel,
    image: torch.Tensor,
    keep: torch.Tensor,
    times: Sequence[int] | None = None,
    num_samples: int = 1,
    seed: int = 0,
    callback: Callable[[Step], bool | None] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    cancel: _Cancel | None = None,
    progress: bool = True,
    max_frames: int = 100,
    clip_x0: bool = True,
) -> PaintResult:
    """Fill the region where ``keep`` is 0 so that it agrees with the kept pixels.

    Args:
        model: a ``DiffusionModel`` (see ``load_model``).
        image: (3,H,W) in [-1,1]; only the pixels where ``keep`` is 1 matter.
        keep: (1,H,W), 1 = keep the known pixel, 0 = generate.
        times: the schedule (``schedules.repaint(...)``); default: the model's
            recommended truncated-resampling schedule. Its first level + 1 is the number of
            respaced steps (t_T), e.g. 250 for the paper's places256 settings.
        num_samples: pictures painted as one batch.
        seed: every random draw comes from generators seeded from it (one per sample).
        callback: called with a ``Step`` after every step; returning False stops the run.
        device: where to run (default: the model's device). dtype: dtype of the samples
            (the diffusion arithmetic); the model's own precision is set at load time.
        cancel: anything with ``is_set()`` (a ``CancelToken``); checked every step.
        progress: show a tqdm bar (notebook or terminal).
        max_frames: how many steps to keep (evenly spread) in ``result.steps`` for replay.
        clip_x0: clip the predicted clean image to [-1,1] (as guided-diffusion does).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    times = list(model.default_times() if times is None else times)
    validate_times(times)
    t_T = times[0] + 1
    schedule = model.schedule(t_T)
    device = torch.device(device) if device is not None else model.device
    image, keep = _check_inputs(model, image, keep)
    image = image.to(device=device, dtype=dtype)[None].expand(num_samples, -1, -1, -1)
    keep = keep.to(device=device, dtype=dtype)[None].expand(num_samples, -1, -1, -1)
    shape = (1, *image.shape[1:])
    generators = [torch.Generator(device=device).manual_seed(derive_seed(seed, k)) for k in range(num_samples)]

    def randn() -> torch.Tensor:
        # one draw per sample from its own generator, so sample k does not depend on N
        return torch.cat([torch.randn(shape, generator=g, device=device, dtype=dtype) for g in generators])

    total_steps, total_nfe = len(times) - 1, count_nfe(times)
    keep_frames = _frame_indices(total_steps, max_frames)
    frames: list[Frame] = []
    x = randn()
    x0_pred: torch.Tensor | None = None
    nfe = 0
    cancelled = False
    steps_done = 0
    model_s = 0.0
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, desc=f"painting ({total_nfe} model calls)", unit="step", leave=False)

    try:
        for index, (t_last, t_cur) in enumerate(zip(times[:-1], times[1:])):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            t_vec = torch.full((num_samples,), t_last, device=device, dtype=torch.long)
            if t_cur < t_last:
                known = schedule.q_sample(image, t_vec, randn())
                x = keep * known + (1 - keep) * x
                tick = time.perf_counter()
                out = model(x, t_vec, schedule)
                model_s += time.perf_counter() - tick
                if not torch.isfinite(out).all():
                    raise NonFiniteOutputError(
                        f"the model output at t={t_last} (step {index}) contains NaN or inf. "
                        "With half precision, load the model in float32 (dtype=torch.float32); "
                        "otherwise the checkpoint may be corrupt."
                    )
                mean, log_var, x0_pred = schedule.p_mean_variance(out.to(dtype), x, t_vec, clip_x0=clip_x0)
                noise = randn()
                x = mean + (torch.exp(0.5 * log_var) * noise if t_last > 0 else 0)
                nfe += 1
                direction = "down"
            else:
                x = schedule.q_step(x, torch.full((num_samples,), t_cur, device=device, dtype=torch.long), randn())
                direction = "up"
            steps_done = index + 1
            shown = keep * image + (1 - keep) * x if t_cur < 0 else x
            elapsed = time.perf_counter() - start
            step_x0 = x0_pred if direction == "down" else None
            if index in keep_frames:
                frames.append(Frame(index, t_last, direction, nfe, elapsed, _to_uint8(shown),
                                    None if step_x0 is None else _to_uint8(step_x0)))
            if bar is not None:
                bar.update(1)
                if index % 25 == 0:
                    bar.set_postfix(t=t_last, nfe=nfe, refresh=False)
            if callback is not None:
                step = Step(index, t_last, direction, shown, step_x0, nfe, elapsed, total_steps, total_nfe)
                if callback(step) is False:
                    cancelled = steps_done < total_steps
                    break
    finally:
        if bar is not None:
            bar.close()

    if cancelled and x0_pred is not None:
        # the best picture that exists: the latest clean-image prediction
        x = x0_pred
    samples = (keep * image + (1 - keep) * x).clamp(-1, 1)
    elapsed = time.perf_counter() - start
    return PaintResult(
        samples=samples,
        steps=frames,
        times=times,
        nfe=nfe,
        elapsed_s=elapsed,
        seed=seed,
        cancelled=cancelled,
        steps_done=steps_done,
        timings={"total_s": elapsed, "model_s": model_s, "overhead_s": elapsed - model_s},
    )
