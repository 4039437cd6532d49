"""Inpainting with RePaint-style resampling over any time-travel schedule.

Two layers, in the shape of guided-diffusion's ``p_sample_loop_progressive`` (the loop as
a generator) and ``p_sample_loop`` (a thin collector over it):

- :func:`paint_steps` is the algorithm and nothing else. The schedule (see
  ``schedules.py``) is the list of levels visited; each pair of neighbours is one step,
  yielded as a :class:`Step`:

  - down (t → s < t, usually s = t-1; a strided walk skips levels): noise the known image
    to level t, paste it into the sample where ``keep`` is 1, call the model at t, draw the
    sample at level s with the DDPM step (``eta = 1``) or DDIM's (``eta < 1``);
  - up (s → t > s): forward-noise the sample ("jump back").

  The noise source is passed in (as k-diffusion's samplers take theirs).
- :func:`paint` is what applications call: it checks the inputs, paints ``num_samples``
  pictures in micro-batches, keeps frames for replay, shows progress, times the run and
  stops cleanly on a callback returning ``False`` or a :class:`CancelToken`.

Sample ``k`` of a run is drawn from its own generator seeded with ``derive_seed(seed, k)``,
so it does not depend on how many pictures are painted or how they are batched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import IPainterError, UserInputError
from ..images import quantize_uint8
from ..progress import progress_bar
from .devices import as_device
from .diffusion import DiffusionSchedule

# the schedule topic's modules, not its package: the package's planner reads masks with checked_keep
from .schedules.builders import check_eta
from .schedules.config import ScheduleConfig
from .schedules.times import count_nfe, validate_times
from .steps import CancelToken, Frame, PaintResult, Step  # the sampler's public types, re-exported

__all__ = [
    "Step",
    "Frame",
    "PaintResult",
    "CancelToken",
    "NonFiniteOutputError",
    "PaintableModel",
    "NoiseSource",
    "paint",
    "paint_steps",
    "seeded_noise",
    "derive_seed",
    "auto_batch_size",
]

NoiseSource = Callable[[], torch.Tensor]  # each call: fresh standard normal noise shaped like the batch


class PaintableModel(Protocol):
    """What the sampler needs of a model (``DiffusionModel`` and the exact Gaussian model)."""

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




class _Cancel(Protocol):
    def is_set(self) -> bool: ...


class NonFiniteOutputError(IPainterError, FloatingPointError):
    """The model produced NaN or inf: better to stop than to write black pictures."""


def derive_seed(seed: int, k: int) -> int:
    """Seed of sample k in a run; sample 0 uses the seed itself, so a run of N with
    seed s holds the pictures of N single runs with seeds derive_seed(s, k).

    Args:
        seed: the run's seed.
        k: the sample's index in the run.
    """
    if k == 0:
        return seed
    return (seed + k * 0x9E3779B97F4A7C15) % (2**63)


def seeded_noise(seeds: Sequence[int], shape: Sequence[int], device: torch.device | str, dtype: torch.dtype) -> NoiseSource:
    """A noise source drawing sample i from a generator seeded with ``seeds[i]``; ``shape``
    is one sample's (C,H,W).

    Args:
        seeds: one seed per picture of the batch.
        shape: the batch's shape, (n, 3, H, W).
        device: where the noise is made.
        dtype: its dtype.
    """
    generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    one = (1, *shape)

    def draw() -> torch.Tensor:
        return torch.cat([torch.randn(one, generator=g, device=device, dtype=dtype) for g in generators])

    return draw


# --------------------------------------------------------------------------- the algorithm


def paint_steps(
    model: PaintableModel,
    image: torch.Tensor,
    keep: torch.Tensor,
    times: Sequence[int],
    *,
    noise: NoiseSource | None = None,
    generator: torch.Generator | None = None,
    clip_x0: bool = True,
    eta: float = 1.0,
) -> Iterator[Step]:
    """RePaint-style resampling along ``times``, one :class:`Step` per transition.

    Args:
        model: called as ``model(x, t, schedule)``; returns eps (or eps and the learned
            variance) for the schedule respaced to ``t_T = times[0] + 1`` steps.
        image: (n,3,H,W) in [-1,1] on the device and dtype to paint in.
        keep: (n or 1,1,H,W) in {0,1}, 1 = keep the pixel of ``image``.
        times: a valid schedule (``schedules.validate_times``).
        noise: the source of every random draw, returning tensors shaped like ``image``;
            default: ``torch.randn`` with ``generator``.
        generator: the generator of the default noise source (ignored with ``noise``).
        clip_x0: clip the predicted clean image to [-1,1] (as guided-diffusion does).
        eta: stochasticity of every down step, in [0, 1]: 1 = the DDPM (ancestral) step,
            0 = the deterministic DDIM step, between = DDIM's family
            (``DiffusionSchedule.step_coefficients``). Up steps (jumps back) are the
            forward process whatever ``eta``.

    Yields:
        One :class:`Step` per transition of ``times``.

    The inputs are used as given: :func:`paint` is the checked entry point. Stop early by
    not asking for the next step.
    """
    if noise is None:
        def noise() -> torch.Tensor:
            return torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)

    schedule = model.schedule(times[0] + 1)
    n, device = image.shape[0], image.device
    total_steps, total_nfe = len(times) - 1, count_nfe(times)
    start = time.perf_counter()
    x = noise()
    nfe = 0
    for index, (t_last, t_cur) in enumerate(zip(times[:-1], times[1:])):
        model_s = 0.0
        if t_cur < t_last:
            t_vec = torch.full((n,), t_last, device=device, dtype=torch.long)
            known = schedule.q_sample(image, t_vec, noise())
            x = keep * known + (1 - keep) * x
            tick = time.perf_counter()
            out = model(x, t_vec, schedule)
            model_s = time.perf_counter() - tick
            if not torch.isfinite(out).all():
                raise NonFiniteOutputError(_non_finite_message(model, t_last, index))
            mean, log_var, x0_pred = schedule.p_mean_variance(out.to(image.dtype), x, t_vec, clip_x0=clip_x0, eta=eta,
                                                              to=t_cur)
            fresh = noise()  # drawn at t=0 and with eta=0 too, so every step consumes the same draws
            x = mean + torch.exp(0.5 * log_var) * fresh if t_cur >= 0 and eta > 0 else mean
            nfe += 1
        else:
            x = schedule.q_jump(x, t_last, t_cur, noise())
            x0_pred = None
        shown = keep * image + (1 - keep) * x if t_cur < 0 else x
        yield Step(index, t_last, "down" if t_cur < t_last else "up", shown, x0_pred, nfe,
                   time.perf_counter() - start, total_steps, total_nfe, 0, model_s)


def _non_finite_message(model: PaintableModel, t: int, index: int) -> str:
    where = f"the model output at t={t} (step {index}) contains NaN or inf although the inputs are finite"
    half = getattr(model, "dtype", None) in (torch.float16, torch.bfloat16) or getattr(model, "autocast_dtype", None) is not None
    if half:
        return f"{where}: half precision overflowed; load the model in float32 (dtype=torch.float32, CLI: --dtype float32)"
    return f"{where}: the checkpoint's weights are probably damaged (NaN or inf in them); download or copy it again"


# --------------------------------------------------------------------------- input checks


def _as_tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise UserInputError(f"{name} must be a torch tensor or numpy array, got {type(value).__name__}")
    if value.dtype == torch.bool:
        return value.float()
    if value.is_complex():
        raise UserInputError(f"{name} must hold real numbers, got {value.dtype}")
    return value if value.is_floating_point() else value.float()


def _check_finite(name: str, value: torch.Tensor) -> None:
    bad = int((~torch.isfinite(value)).sum())
    if bad:
        nans = int(torch.isnan(value).sum())
        raise UserInputError(f"{name} holds {bad} non-finite values ({nans} NaN, {bad - nans} inf) of {value.numel()}: "
                             f"fix the input (e.g. torch.nan_to_num({name}) or reload it) before painting")


def _describe_values(values: torch.Tensor, counts: torch.Tensor, shown: int = 5) -> str:
    order = counts.argsort(descending=True)[:shown]
    parts = [f"{values[i].item():g} ({int(counts[i])} pixels)" for i in order]
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(parts) + more


def _check_binary(keep: torch.Tensor) -> None:
    # a soft mask would silently mix known and generated pixels: refuse it
    off = keep[(keep != 0) & (keep != 1)]
    if off.numel():
        values, counts = off.unique(return_counts=True)
        raise UserInputError(
            f"keep mask must hold only 0 (generate) and 1 (keep); found {off.numel()} pixels with other values: "
            f"{_describe_values(values, counts)}. Binarise it, e.g. keep = (keep > 0.5).float()"
        )


def checked_keep(keep: Any, size: int) -> torch.Tensor:
    """``keep`` as a (1, size, size) float tensor of 0 and 1, or the ``UserInputError`` that ``paint()`` gives.

    Args:
        keep: the mask (1 = keep), (1, H, W), (H, W) or (1, 1, H, W), tensor or array.
        size: the picture side it must have.
    """
    keep = _as_tensor("keep", keep)
    if keep.dim() == 4 and keep.shape[0] == 1:
        keep = keep[0]
    if keep.dim() == 2:
        keep = keep[None]
    if keep.shape != (1, size, size):
        raise UserInputError(f"keep mask must be (1, {size}, {size}) with 1 = keep, got shape {tuple(keep.shape)}")
    _check_finite("keep", keep)
    _check_binary(keep)
    return keep


def _checked_inputs(model: PaintableModel, image: Any, keep: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``image`` as (3,H,W) and ``keep`` as (1,H,W), both float, or a UserInputError saying what is wrong."""
    image = _as_tensor("image", image)
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    size = model.image_size
    if image.dim() != 3 or image.shape[0] != 3:
        raise UserInputError(f"image must be (3, {size}, {size}) in [-1, 1], got shape {tuple(image.shape)} "
                             "(ipainter_nb.images.pil_to_tensor converts a PIL picture)")
    if tuple(image.shape[1:]) != (size, size):
        raise UserInputError(
            f"image is {image.shape[2]}x{image.shape[1]} but model {model.name!r} paints {size}x{size}: "
            f"compose at Composition(size={size}) or resize the picture"
        )
    keep = checked_keep(keep, size)
    _check_finite("image", image)
    if image.min() < -1.001 or image.max() > 1.001:
        raise UserInputError(f"image values must lie in [-1, 1], found {image.min().item():g}..{image.max().item():g} "
                             "(use ipainter_nb.images.pil_to_tensor, or x / 127.5 - 1 for 0..255 values)")
    return image, keep


def _check_count(name: str, value: Any, lowest: int, below: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserInputError(f"{name} must be a whole number, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < lowest or (below is not None and value >= below):
        limit = f"in {lowest}..{below - 1}" if below is not None else f"at least {lowest}"
        raise UserInputError(f"{name}={value} is out of range: it must be {limit}")
    return value


# --------------------------------------------------------------------------- micro-batches

# Past a few pictures per call a CPU's throughput stops growing (see
# benchmarks/results/sampler_overhead.md), while memory keeps growing.
_CPU_MAX_BATCH = 8
_CUDA_MAX_BATCH = 64
_CPU_BUDGET_BYTES = 2 << 30
# Bytes per picture of a forward without autograd, in units of num_channels × H × W values:
# a bound with room to spare over the peak measured on CUDA for the demo and places256
# networks, which also covers the sampler's own tensors and the allocator's slack.
_ACTIVATION_MAPS = 24


def auto_batch_size(model: PaintableModel, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> int:
    """How many pictures one model call should hold so that memory stays bounded.

    From the model's size (image side and channel count) and the device: on CUDA half the
    free memory, on CPU a fixed budget; capped where batching stops paying.

    Args:
        model: the model that will paint.
        device: its device (default: the model's).
        dtype: its dtype (default: the model's).
    """
    device = as_device(device) if device is not None else model.device
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise UserInputError(f"dtype={dtype!r} is not a floating-point torch dtype: use torch.float32 (or float16/bfloat16 on a GPU)")
    config = getattr(model, "config", None) or {}
    channels = int(config.get("num_channels", 3))
    bytes_per_sample = _ACTIVATION_MAPS * channels * model.image_size**2 * torch.finfo(dtype).bits // 8
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget, cap = free // 2, _CUDA_MAX_BATCH
    else:
        budget, cap = _CPU_BUDGET_BYTES, _CPU_MAX_BATCH
    return max(1, min(cap, budget // max(bytes_per_sample, 1)))


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


def _frame(step: Step) -> Frame:
    return Frame(step.index, step.t, step.direction, step.nfe_so_far, step.elapsed_s, quantize_uint8(step.x_t),
                 None if step.x0_pred is None else quantize_uint8(step.x0_pred))


# --------------------------------------------------------------------------- the collector


def paint(
    model: PaintableModel,
    image: torch.Tensor | np.ndarray,
    keep: torch.Tensor | np.ndarray,
    times: Sequence[int] | ScheduleConfig | None = None,
    num_samples: int = 1,
    seed: int = 0,
    callback: Callable[[Step], bool | None] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    cancel: _Cancel | None = None,
    progress: bool | None = None,
    max_frames: int = 100,
    clip_x0: bool = True,
    batch_size: int | None = None,
    first_sample: int = 0,
    on_samples: Callable[[int, torch.Tensor], None] | None = None,
    keep_samples: bool = True,
    eta: float | None = None,
) -> PaintResult:
    """Fill the region where ``keep`` is 0 so that it agrees with the kept pixels.

    Args:
        model: a ``DiffusionModel`` (see ``load_model``) or any :class:`PaintableModel`.
        image: (3,H,W) in [-1,1] (tensor or numpy array); only the pixels where ``keep``
            is 1 matter.
        keep: (1,H,W) in {0,1}: 1 = keep the known pixel, 0 = generate. Soft masks are
            refused (they would mix known and generated pixels silently).
        times: the schedule: a list of levels (``schedules.repaint(...)``) or a
            ``ScheduleConfig`` (its ``times()`` and its ``eta``); default: the model's
            recommended schedule. Its first level + 1 is the number of respaced steps
            (t_T), checked against the model by ``model.check_t_T``.
        num_samples: how many pictures to paint.
        seed: a whole number in 0..2**63-1; picture k comes from ``derive_seed(seed, k)``.
        callback: called with every :class:`Step`; returning False stops the run.
        device: where to run (default: the model's device). dtype: dtype of the samples
            (the diffusion arithmetic); the model's own precision is set at load time.
        cancel: anything with ``is_set()`` (a ``CancelToken``); checked before every step.
            It ends a run exactly as a callback returning False does.
        progress: True shows progress (a bar in a terminal or notebook, a few summary
            lines in a log); None only where someone watches (terminal or notebook);
            False never.
        max_frames: how many steps of the first micro-batch to keep (evenly spread) in
            ``result.frames`` for replay.
        clip_x0: clip the predicted clean image to [-1,1] (as guided-diffusion does).
        batch_size: pictures per model call; None chooses from the model and device
            (``auto_batch_size``) so memory stays bounded however many are asked for.
        first_sample: paint pictures ``first_sample..first_sample+num_samples-1`` of a
            bigger run with this seed (each the same as in the bigger run).
        on_samples: called as ``on_samples(k, pictures)`` with each finished micro-batch,
            ``pictures`` (n,3,H,W) being pictures k..k+n-1 of the run, so a caller can
            write them at once.
        keep_samples: False leaves finished pictures out of ``result.samples`` (they go
            to ``on_samples`` only), so that memory stays bounded however many are painted.
        eta: stochasticity of the down steps in [0, 1] (see :func:`paint_steps`); None
            takes the ``ScheduleConfig``'s (given as ``times`` or the model's default),
            else 1 (DDPM steps).
        dtype: the dtype of the sampler's arithmetic (the model keeps its own).

    Returns:
        A :class:`PaintResult`.

    Raises:
        UserInputError: for inputs out of range (shapes, values, ``eta`` outside [0, 1]).
    """
    for name, hook in (("callback", callback), ("on_samples", on_samples)):
        if hook is not None and not callable(hook):
            raise UserInputError(f"{name} must be a function (or None), got {type(hook).__name__} {hook!r}")
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise UserInputError(f"cancel must have an is_set() method (a CancelToken or threading.Event), got {type(cancel).__name__}")
    num_samples = _check_count("num_samples", num_samples, 1)
    seed = _check_count("seed", seed, 0, 2**63)
    first_sample = _check_count("first_sample", first_sample, 0)
    max_frames = _check_count("max_frames", max_frames, 0)
    if times is None and isinstance(getattr(model, "default_schedule", None), ScheduleConfig):
        times = model.default_schedule
    if isinstance(times, ScheduleConfig):
        eta = times.eta if eta is None else eta
        times = times.times()
    eta = check_eta(1.0 if eta is None else eta)
    times = validate_times(model.default_times() if times is None else times)
    model.check_t_T(times[0] + 1)
    device = as_device(device) if device is not None else model.device
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise UserInputError(f"dtype={dtype!r} is not a floating-point torch dtype: use torch.float32 (or float16/bfloat16 on a GPU)")
    image, keep = _checked_inputs(model, image, keep)
    if batch_size is None:
        batch_size = auto_batch_size(model, device, dtype)
    batch_size = min(_check_count("batch_size", batch_size, 1), num_samples)
    image = image.to(device=device, dtype=dtype)[None]
    keep = keep.to(device=device, dtype=dtype)[None]

    stop_asked = False

    def stopping() -> bool:
        return stop_asked or (cancel is not None and cancel.is_set())

    total_steps, total_nfe = len(times) - 1, count_nfe(times)
    num_batches = math.ceil(num_samples / batch_size)
    keep_frames = _frame_indices(total_steps, max_frames)
    frames: list[Frame] = []
    finished: list[torch.Tensor] = []
    partial: torch.Tensor | None = None
    nfe = steps_done = num_finished = 0
    model_s = 0.0
    start = time.perf_counter()
    calls = f"{total_nfe} model calls" + (f" × {num_batches} batches" if num_batches > 1 else "")
    with progress_bar(total_steps * num_batches, f"painting ({calls})", enabled=progress) as bar:
        for b, k0 in enumerate(range(first_sample, first_sample + num_samples, batch_size)):
            if stopping():
                break
            n = min(batch_size, first_sample + num_samples - k0)
            noise = seeded_noise([derive_seed(seed, k) for k in range(k0, k0 + n)], image.shape[1:], device, dtype)
            batch_image, batch_keep = image.expand(n, -1, -1, -1), keep.expand(n, -1, -1, -1)
            last: Step | None = None
            last_x0: torch.Tensor | None = None
            steps = paint_steps(model, batch_image, batch_keep, times, noise=noise, clip_x0=clip_x0, eta=eta)
            try:
                for step in steps:
                    step.first_sample = k0
                    last = step
                    last_x0 = step.x0_pred if step.x0_pred is not None else last_x0
                    nfe += step.direction == "down"
                    model_s += step.model_s
                    if b == 0 and step.index in keep_frames:
                        frames.append(_frame(step))
                    if step.index % 25 == 0 or step.index == total_steps - 1:
                        bar.set_postfix(t=step.t, nfe=nfe)
                    bar.update(1)
                    if callback is not None and callback(step) is False:
                        stop_asked = True
                    if stopping():
                        break
            finally:
                steps.close()
            if last is None:
                break
            steps_done = last.index + 1
            if steps_done == total_steps:
                pictures = last.x_t.clamp(-1, 1)
                num_finished += n
                if keep_samples:
                    finished.append(pictures)
                if on_samples is not None:
                    on_samples(k0, pictures)
            else:
                # the best picture that exists: the latest clean-image prediction
                best = last_x0 if last_x0 is not None else last.x_t
                partial = (batch_keep * batch_image + (1 - batch_keep) * best).clamp(-1, 1)
    parts = finished + ([partial] if partial is not None else [])
    samples = torch.cat(parts) if parts else image[:0].clone()
    elapsed = time.perf_counter() - start
    return PaintResult(
        samples=samples,
        frames=frames,
        times=times,
        nfe=nfe,
        elapsed_s=elapsed,
        seed=seed,
        stopped=num_finished < num_samples,
        steps_done=steps_done,
        num_finished=num_finished,
        first_sample=first_sample,
        batch_size=batch_size,
        timings={"total_s": elapsed, "model_s": model_s, "overhead_s": elapsed - model_s},
    )
