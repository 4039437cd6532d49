"""One function that plans a whole schedule for a mask: :func:`plan_schedule`.

The exact benchmark (``benchmarks/exact_schedules.py``) says where a schedule's error is
made: at the low levels, where the bands between the hole's scale and the seam are being
decided (``schedule_rule`` explains the band-SNR argument), and that the number of times
each stretch there is denoised matters most. A plan therefore spends its model calls there
and nowhere else:

* **the walk**: above the window, a strided walk of a few calls (:data:`WALK_CALLS` for the
  quality plan) brings the picture down through the levels where nothing needs harmonising;
* **the window**: ``0 <= t <= start``, ``start`` being the level where the forward SNR of
  the hole's band falls to the target's ``window_snr`` (:data:`WINDOW_SNR` for the quality
  plan; below it the hole's band is still being decided, so harmonising pays; above it
  resampling costs calls for little);
* **the grid**: the window is walked on a few levels spaced evenly in ``log(t + 1)``
  (``ScheduleConfig.window_levels``): dense near 0, where the seam is decided, sparse
  higher up. A window walked level by level costs calls in proportion to its height, which
  grows with the picture and the hole; on the grid the cost stays put;
* **the jumps**: a few grid levels back up, each stretch denoised ``jump_n_sample`` times,
  the target's number (or the most that fit a budget of model calls). Every down step of a
  DDPM sampler loses a little variance and a jump back restores it, so many repeats over
  short jumps leave the output too narrow: the quality plan jumps 6 of its grid levels;
* **the ramp** (draft): with few calls, the repeats grow up the window
  (``ScheduleConfig.repeat_ramp``): a stretch near the top, where the hole's coarse modes
  mix slowly, is denoised several times as often as one near 0;
* **η** (:data:`PLAN_ETA`): searched from 0 to 1; the DDPM step (η = 1) was the best on
  every case searched, so the plan keeps it (``eta=`` overrides).

The quality plan's numbers were searched on the exact laws of centre holes and borders at
16² and 32² of the benchmark's picture model, and its jump length also on two other spectra
(β = 2.6 and 2.0). The draft's were searched on the two hardest 32² centre holes, then
picked among seven candidates on the benchmark's 32² masks (cutout-shaped holes included)
and on eight further masks at 24² and 32² on other pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ...errors import UserInputError
from .config import ScheduleConfig
from .grid import jump_within_grid
from .rule import DEFAULT_BETA, DEFAULT_PIXEL_VAR, band_snr_at, mask_frequency

__all__ = ["plan_schedule", "PlanTarget", "PlanShape", "PLAN_TARGETS", "PLAN_T_T", "PLAN_ETA", "WINDOW_SNR", "WALK_CALLS"]

PlanTarget = Literal["quality", "draft"]

#: Levels of the plan's noise schedule: fine enough at the low levels where the error is made.
PLAN_T_T = 250
#: Stochasticity of the plan's down steps.
PLAN_ETA = 1.0
#: The window ends where the hole band's forward SNR falls to this value.
WINDOW_SNR = 0.5
#: Model calls of the strided walk above the window.
WALK_CALLS = 10


@dataclass(frozen=True)
class PlanShape:
    """How a target spends its calls.

    Attributes:
        window_levels: levels of the window's grid (fewer when the window is lower).
        jump_length: grid levels travelled back up per jump.
        jump_n_sample: times each stretch is denoised (the highest stretch, with a ramp).
        window_snr: the window ends where the hole band's forward SNR falls to this value.
        walk_calls: model calls of the strided walk above the window.
        repeat_ramp: how the repeats grow up the window (``ScheduleConfig.repeat_ramp``).
        calls: when set, ``jump_n_sample`` is lowered until the plan fits this many calls (and no
            more than the quality plan's for the same mask: a draft is never the dearer plan).
    """

    window_levels: int
    jump_length: int
    jump_n_sample: int
    window_snr: float = WINDOW_SNR
    walk_calls: int = WALK_CALLS
    repeat_ramp: float = 0.0
    calls: int | None = None


#: Per target: "quality" aims at RePaint's exact-law KL within a tenth, "draft" within a
#: quarter in a twentieth of RePaint's calls (120 of its 2410). The draft's window is lower
#: and its grid coarser, and its repeats grow up the window: the hole's coarse modes are
#: still mixing at the top, and a stretch denoised many times over one coarse DDPM step
#: comes out too narrow near 0, where the fine modes settle in a few passes.
PLAN_TARGETS: dict[str, PlanShape] = {
    "quality": PlanShape(30, 6, 14),
    "draft": PlanShape(11, 1, 60, window_snr=3.0, walk_calls=5, repeat_ramp=1.0, calls=120),
}


def _alphas_and_spectrum(model: Any, t_T: int) -> tuple[np.ndarray, float, float | None, float]:
    alphas = model.schedule(t_T).alphas_cumprod
    image_model = getattr(model, "image_model", None)
    if image_model is not None:  # the exact model knows its spectrum
        return alphas, image_model.beta, image_model.f0, float(np.trace(np.asarray(image_model.channel_cov)) / 3)
    return alphas, DEFAULT_BETA, None, DEFAULT_PIXEL_VAR


def _check_budget(budget: object, t_T: int) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise UserInputError(f"budget must be a whole number of model calls, got {type(budget).__name__} {budget!r}")
    if budget < 2:
        raise UserInputError(f"budget={budget} is invalid: it must be at least 2 model calls (a plan needs a walk "
                             "down and the last step)")
    return int(budget)


def plan_schedule(
    model: Any,
    keep: Any = None,
    *,
    target: PlanTarget = "quality",
    budget: int | None = None,
    t_T: int | None = None,
    eta: float | None = None,
    image_size: int | None = None,
) -> ScheduleConfig:
    """Plan the whole schedule for a mask: walk stride, window, jump length, repeats and η.

    Args:
        model: a ``DiffusionModel`` or ``ExactDiffusionModel`` (its noise schedule, its
            picture size and, for the exact model, its spectrum).
        keep: the mask (1 = keep); the scale of its hole sets the window. None: a hole a
            quarter of the picture across.
        target: ``"quality"`` (RePaint's accuracy) or ``"draft"`` (the cheapest plan
            within a quarter of RePaint's exact-law KL, for live drafts).
        budget: at most this many model calls: the grid, the jumps and the repeats are
            shrunk together until the plan fits (on the exact benchmark that beats
            lowering the repeats alone). None: the target's shape.
        t_T: levels of the noise schedule (default :data:`PLAN_T_T`, or the most the
            model allows).
        eta: the down steps' stochasticity in [0, 1] (default :data:`PLAN_ETA`).
        image_size: the picture's side (default: the model's).

    Returns:
        A ``ScheduleConfig`` (``describe()`` says what it does and its model calls;
        ``to_dict()`` saves it).

    Raises:
        UserInputError: an unknown target, a budget below 2 calls, ``eta`` outside
            [0, 1] or ``t_T`` the model cannot walk.
    """
    if target not in PLAN_TARGETS:
        raise UserInputError(f"target={target!r} is invalid: it must be one of {sorted(PLAN_TARGETS)}")
    if t_T is None:
        limit = getattr(model, "num_train_steps", None) or PLAN_T_T
        t_T = min(PLAN_T_T, int(limit))
    t_T = model.check_t_T(t_T) if hasattr(model, "check_t_T") else t_T
    budget = _check_budget(budget, t_T)
    eta = PLAN_ETA if eta is None else eta
    size = image_size or model.image_size
    alphas, beta, f0, pixel_var = _alphas_and_spectrum(model, t_T)
    hole_band = band_snr_at(alphas, mask_frequency(keep, size), size, beta, f0, pixel_var)
    shape = PLAN_TARGETS[target]
    below = np.flatnonzero(hole_band < shape.window_snr)
    start = int(below[0]) if len(below) else t_T - 1
    start = max(1, min(start, t_T - 2))
    calls = shape.calls
    if calls is not None and target != "quality":
        calls = min(calls, plan_schedule(model, keep, t_T=t_T, eta=eta, image_size=size).nfe)
    for percent in range(100, 0, -5):  # a budget shrinks the grid, the jumps and the repeats together
        scale = percent / 100
        levels = max(2, min(round(shape.window_levels * scale), start + 1))
        jump = max(1, round(shape.jump_length * scale))
        config = _plan(t_T, start, levels, jump, max(2, round(shape.jump_n_sample * scale)), eta, shape, calls)
        if budget is None or config.nfe <= budget:
            return config
    # not even one short jump fits: a strided walk alone
    walk = ScheduleConfig(t_T, jump_length=1, jump_n_sample=1, stop_resampling_at=None, eta=eta,
                          stride=max(1, -(-t_T // max(budget - 1, 1))))
    if walk.nfe > budget:
        raise UserInputError(f"budget={budget} model calls is too small for a walk over t_T={t_T} levels")
    return walk


def _plan(t_T: int, start: int, levels: int, jump_length: int, repeats: int, eta: float, shape: PlanShape,
          calls: int | None) -> ScheduleConfig:
    """The plan's numbers for a window ``0..start`` on a grid of ``levels``: jumps within it, a strided walk
    above; with ``calls``, the most repeats (up to ``repeats``) that fit them."""
    stride = max(1, round((t_T - 1 - start) / shape.walk_calls))
    jump = jump_within_grid(jump_length, start, levels)

    def config(r: int) -> ScheduleConfig:
        return ScheduleConfig(t_T, jump_length=jump, jump_n_sample=r, stop_resampling_at=0, start_resampling_at=start, eta=eta,
                              stride=stride, window_levels=levels, repeat_ramp=shape.repeat_ramp)

    full = config(repeats)
    if calls is None or full.nfe <= calls:
        return full
    low, high = 2, repeats  # the calls grow with the repeats: the most that fit, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if config(mid).nfe <= calls else (low, mid - 1)
    return config(low)
