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
so it does not depend on how many pictures are painted or how they are batched. With
``noise_like=`` another schedule, those draws are the other schedule's, carried onto the
run's levels (``core/noise.py``): how a short draft predicts the picture a long run makes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import RunFailedError, UserInputError
from ..exits import run_step
from ..images import quantize_uint8
from ..progress import progress_bar
from ..public import public_names
from .arguments import check_batch, check_flag, check_float_dtype, check_function, check_generator, check_keep, check_picture, check_whole
from .devices import as_device

# the schedule topic's modules, not its package: the package's planner imports the sampler's neighbours
from .noise import carried_noise
from .paintable import PaintableModel, check_model, model_traits
from .sampler_options import SamplerOptions
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
    "SamplerOptions",
    "NoiseSource",
    "paint",
    "paint_steps",
    "seeded_noise",
    "derive_seed",
    "auto_batch_size",
    "check_batch_memory",
    "batch_fits",
]

NoiseSource = Callable[[], torch.Tensor]  # each call: fresh standard normal noise shaped like the batch


class NonFiniteOutputError(RunFailedError, FloatingPointError):
    """The model produced NaN or inf: better to stop than to write black pictures."""


def derive_seed(seed: int, k: int) -> int:
    """Seed of sample k in a run; sample 0 uses the seed itself, so a run of N with
    seed s holds the pictures of N single runs with seeds derive_seed(s, k).

    Args:
        seed: the run's seed, a whole number in 0..2**63-1 (as ``paint`` takes it).
        k: the sample's index in the run, a whole number.
    """
    seed, k = check_whole("seed", seed, 0, 2**63), check_whole("k", k, 0)
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
    device, dtype = as_device(device), check_float_dtype(dtype)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise UserInputError(f"seeds must be a non-empty list of seeds, one per picture, got {type(seeds).__name__}")
    seeds = [check_whole(f"seeds[{i}]", s, 0, 2**64) for i, s in enumerate(seeds)]
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

    The arguments are checked as :func:`paint` checks them, before the first step. Stop
    early by not asking for the next step.
    """
    model = check_model(model)
    size = model.image_size
    image = check_picture(image, size, model_name=model.name, batched=True)
    mask = check_keep(keep, size, batched=True).to(device=image.device, dtype=image.dtype)
    if mask.shape[0] not in (1, image.shape[0]):
        raise UserInputError(f"keep holds {mask.shape[0]} masks for {image.shape[0]} pictures: give one mask, or one per picture")
    times = validate_times(times)
    model.check_t_T(times[0] + 1)
    check_function("noise", noise)
    check_generator(generator)
    return _walk(model, image, mask, times, noise or _randn_like(image, generator),
                 clip_x0=check_flag("clip_x0", clip_x0), eta=check_eta(eta))


def _randn_like(image: torch.Tensor, generator: torch.Generator | None) -> NoiseSource:
    def draw() -> torch.Tensor:
        return torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)

    return draw


def _walk(model: PaintableModel, image: torch.Tensor, keep: torch.Tensor, times: list[int], noise: NoiseSource, *,
          clip_x0: bool, eta: float, first_sample: int = 0) -> Iterator[Step]:
    """The algorithm on checked arguments (see :func:`paint_steps`)."""
    schedule = model.schedule(times[0] + 1)
    n, device = image.shape[0], image.device
    total_steps, total_nfe = len(times) - 1, count_nfe(times)
    start = time.perf_counter()
    x = noise()
    nfe = 0
    for index, (t_last, t_cur) in enumerate(zip(times[:-1], times[1:])):
        with run_step() as go:
            if not go:  # the interpreter is exiting and this thread would be cut inside a torch call
                return
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
            step = Step(
                index=index,
                t=t_last,
                direction="down" if t_cur < t_last else "up",
                x_t=keep * image + (1 - keep) * x if t_cur < 0 else x,
                x0_pred=x0_pred,
                nfe_so_far=nfe,
                elapsed_s=time.perf_counter() - start,
                total_steps=total_steps,
                total_nfe=total_nfe,
                first_sample=first_sample,
                model_s=model_s,
            )
        yield step


def _non_finite_message(model: PaintableModel, t: int, index: int) -> str:
    where = f"the model output at t={t} (step {index}) contains NaN or inf although the inputs are finite"
    if model_traits(model).half_precision:
        return f"{where}: half precision overflowed; load the model in float32 (dtype=torch.float32, CLI: --dtype float32)"
    return f"{where}: the checkpoint's weights are probably damaged (NaN or inf in them); download or copy it again"


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
# What a forward holds at least, in the same units: at its top level the skips kept for the way up
# (the first convolution's and each block's output) and a block's working maps. A batch whose
# share of these exceeds the device's whole memory cannot run at all.
_MIN_ACTIVATION_MAPS = 4


def auto_batch_size(model: PaintableModel, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> int:
    """How many pictures one model call should hold so that memory stays bounded.

    From the model's size (image side and channel count) and the device: on CUDA half the
    free memory, on CPU a fixed budget; capped where batching stops paying.

    Args:
        model: the model that will paint.
        device: its device (default: the model's).
        dtype: its dtype (default: the model's).
    """
    model = check_model(model, members=("image_size", "device"))
    device = as_device(device) if device is not None else model.device
    dtype = check_float_dtype(dtype)
    bytes_per_sample = _ACTIVATION_MAPS * model_traits(model).num_channels * model.image_size**2 * torch.finfo(dtype).bits // 8
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget, cap = free // 2, _CUDA_MAX_BATCH
    else:
        budget, cap = _CPU_BUDGET_BYTES, _CPU_MAX_BATCH
    return max(1, min(cap, budget // max(bytes_per_sample, 1)))


def _device_memory(device: torch.device) -> int | None:
    """The device's whole memory in bytes (a GPU's, or this machine's RAM), or None where it cannot be read."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if device.type == "cpu" else None
    except (AttributeError, ValueError, OSError):  # a platform without these names
        return None


def check_batch_memory(model: PaintableModel, batch_size: int, device: torch.device | str | None = None,
                       dtype: torch.dtype = torch.float32) -> int:
    """Refuse a micro-batch that cannot fit the device's memory whatever else runs: the run would
    allocate until the system killed it (on a CPU) or fail deep inside the model's first call.

    Args:
        model: the model that will paint.
        batch_size: pictures per model call.
        device: its device (default: the model's).
        dtype: its dtype.

    Returns:
        ``batch_size``.
    """
    model = check_model(model, members=("image_size", "device"))
    device = as_device(device) if device is not None else model.device
    dtype = check_float_dtype(dtype)
    return batch_fits(batch_size, model_traits(model).num_channels, model.image_size, device, dtype, "one model call",
                      lambda: f"or leave it unset (this model and device: {auto_batch_size(model, device, dtype)})")


def batch_fits(batch_size: int, num_channels: int, image_size: int, device: torch.device, dtype: torch.dtype, what: str,
               fix: Callable[[], str] | None = None) -> int:
    """``batch_size``, or a ``UserInputError`` when that many pictures cannot fit ``device``'s whole memory in a
    network's forward (training's too, which holds more): its first level alone holds a few maps of each.

    Args:
        batch_size: pictures at once.
        num_channels: the network's base channel count.
        image_size: the pictures' side.
        device: where they are computed.
        dtype: the activations' dtype.
        what: what runs on them, for the message (``one model call``, ``one training step``).
        fix: what else the user can do, said last (made only for the refusal).
    """
    at_least = _MIN_ACTIVATION_MAPS * num_channels * image_size**2 * torch.finfo(dtype).bits // 8
    memory = _device_memory(device)
    if memory is not None and batch_size * at_least > memory:
        raise UserInputError(
            f"batch_size={batch_size} cannot fit: {what} on that many {image_size}x{image_size} pictures holds at least "
            f"{batch_size * at_least / 2**30:.1f} GiB, and this {device.type} device has {memory / 2**30:.1f} GiB: pass a "
            f"smaller batch_size (CLI: --batch-size), well under {max(1, memory // at_least)}" + (f", {fix()}" if fix else ""))
    return batch_size


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
    *,
    options: SamplerOptions | None = None,
    **settings: Any,
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
        options: how the run goes (:class:`SamplerOptions`: ``eta``, ``clip_x0``,
            ``device``, ``dtype``, ``batch_size``, ``first_sample``, ``max_frames``,
            ``keep_samples``, ``on_samples``, ``progress``, ``cancel``, ``noise_like``).
        **settings: any field of :class:`SamplerOptions` by name, replacing the one in
            ``options`` (``paint(..., eta=0.5, progress=False)``).

    Returns:
        A :class:`PaintResult`.

    Raises:
        UserInputError: for arguments out of range (shapes, values, ``eta`` outside [0, 1],
            an unknown setting, a model that lacks part of :class:`PaintableModel`).
    """
    opts = SamplerOptions.merged(options, settings)
    model = check_model(model)
    check_function("callback", callback)
    num_samples = check_whole("num_samples", num_samples, 1)
    seed = check_whole("seed", seed, 0, 2**63)
    times, eta = _resolve_schedule(model, times, opts.eta)
    if opts.noise_like is not None:
        model.check_t_T(opts.noise_like[0] + 1)
    device = opts.device if opts.device is not None else model.device
    image = check_picture(image, model.image_size, model_name=model.name)
    keep = check_keep(keep, model.image_size)
    if opts.keep_samples:  # else the run would paint for hours, then fail to hold them all
        try:
            check_batch(num_samples, model.image_size, "num_samples")
        except UserInputError as exc:
            raise UserInputError(f"{exc} (the most of this size that result.samples can hold): pass keep_samples=False "
                                 "with on_samples=... to receive each micro-batch as it is finished, or paint fewer") from None
    if opts.batch_size is not None:
        check_batch_memory(model, min(opts.batch_size, num_samples), device, opts.dtype)
    batch_size = min(opts.batch_size or auto_batch_size(model, device, opts.dtype), num_samples)
    run = _Run(model, image.to(device=device, dtype=opts.dtype)[None], keep.to(device=device, dtype=opts.dtype)[None],
               times, eta, seed, callback, opts)
    return run.paint(num_samples, batch_size)


def _resolve_schedule(model: PaintableModel, times: Any, eta: float | None) -> tuple[list[int], float]:
    """The run's checked times and eta: a config brings its own eta (``eta`` given wins), a list uses 1."""
    if times is None:
        times = model_traits(model).default_schedule
    if isinstance(times, ScheduleConfig):
        eta = times.eta if eta is None else eta
        times = times.times()
    times = validate_times(model.default_times() if times is None else times)
    model.check_t_T(times[0] + 1)
    return times, 1.0 if eta is None else eta


class _Run:
    """One ``paint()`` call on checked arguments: its micro-batches, frames and tallies."""

    def __init__(self, model: PaintableModel, image: torch.Tensor, keep: torch.Tensor, times: list[int], eta: float,
                 seed: int, callback: Callable[[Step], bool | None] | None, opts: SamplerOptions) -> None:
        self.model, self.image, self.keep, self.times, self.eta = model, image, keep, times, eta
        self.seed, self.callback, self.opts = seed, callback, opts
        self.total_steps = len(times) - 1
        self.keep_frames = _frame_indices(self.total_steps, opts.max_frames)
        self.frames: list[Frame] = []
        self.finished: list[torch.Tensor] = []
        self.partial: torch.Tensor | None = None
        self.nfe = self.steps_done = self.num_finished = 0
        self.model_s = 0.0
        self.stop_asked = False

    def stopping(self) -> bool:
        cancel = self.opts.cancel
        return self.stop_asked or (cancel is not None and cancel.is_set())

    def paint(self, num_samples: int, batch_size: int) -> PaintResult:
        with run_step() as go:  # at the interpreter's exit the run stops before its next step: its last tensors are made here
            self.stop_asked = self.stop_asked or not go
            return self._paint(num_samples, batch_size)

    def _paint(self, num_samples: int, batch_size: int) -> PaintResult:
        first = self.opts.first_sample
        num_batches = math.ceil(num_samples / batch_size)
        calls = f"{count_nfe(self.times)} model calls" + (f" × {num_batches} batches" if num_batches > 1 else "")
        start = time.perf_counter()
        with progress_bar(self.total_steps * num_batches, f"painting ({calls})", enabled=self.opts.progress) as bar:
            for b, k0 in enumerate(range(first, first + num_samples, batch_size)):
                if self.stopping() or not self.batch(bar, b == 0, k0, min(batch_size, first + num_samples - k0)):
                    break
        parts = self.finished + ([self.partial] if self.partial is not None else [])
        elapsed = time.perf_counter() - start
        return PaintResult(
            samples=torch.cat(parts) if parts else self.image[:0].clone(),
            frames=self.frames,
            times=self.times,
            nfe=self.nfe,
            elapsed_s=elapsed,
            seed=self.seed,
            stopped=self.num_finished < num_samples,
            steps_done=self.steps_done,
            num_finished=self.num_finished,
            first_sample=first,
            batch_size=batch_size,
            timings={"total_s": elapsed, "model_s": self.model_s, "overhead_s": elapsed - self.model_s},
        )

    def batch(self, bar: Any, first_batch: bool, k0: int, n: int) -> bool:
        """Paint pictures k0..k0+n-1; False when no step ran (the run was stopped before)."""
        opts = self.opts
        seeds = [derive_seed(self.seed, k) for k in range(k0, k0 + n)]
        if opts.noise_like is None:
            noise = seeded_noise(seeds, self.image.shape[1:], self.image.device, self.image.dtype)
        else:
            like = list(opts.noise_like)
            noise = carried_noise(seeds, self.image.shape[1:], self.times, self.model.schedule(self.times[0] + 1), like,
                                  self.model.schedule(like[0] + 1), self.image.device, self.image.dtype)
        image, keep = self.image.expand(n, -1, -1, -1), self.keep.expand(n, -1, -1, -1)
        last: Step | None = None
        last_x0: torch.Tensor | None = None
        steps = _walk(self.model, image, keep, self.times, noise, clip_x0=opts.clip_x0, eta=self.eta, first_sample=k0)
        try:
            for step in steps:
                last = step
                last_x0 = step.x0_pred if step.x0_pred is not None else last_x0
                self.nfe += step.direction == "down"
                self.model_s += step.model_s
                if first_batch and step.index in self.keep_frames:
                    self.frames.append(_frame(step))
                if step.index % 25 == 0 or step.index == self.total_steps - 1:
                    bar.set_postfix(t=step.t, nfe=self.nfe)
                bar.update(1)
                if self.callback is not None and self.callback(step) is False:
                    self.stop_asked = True
                if self.stopping():
                    break
        finally:
            steps.close()
        if last is None:
            return False
        self.steps_done = last.index + 1
        if self.steps_done == self.total_steps:
            pictures = last.x_t.clamp(-1, 1)
            self.num_finished += n
            if opts.keep_samples:
                self.finished.append(pictures)
            if opts.on_samples is not None:
                opts.on_samples(k0, pictures)
        else:
            # the best picture that exists: the latest clean-image prediction
            best = last_x0 if last_x0 is not None else last.x_t
            self.partial = (keep * image + (1 - keep) * best).clamp(-1, 1)
        return True


public_names(globals())  # after every public definition
