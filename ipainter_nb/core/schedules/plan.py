"""One function that plans a whole schedule for a mask and a model: :func:`plan_schedule`.

A plan is a grid window (``ScheduleConfig`` with ``window_levels``): a strided walk of a few
calls down to the window's top, then the window ``0..top`` walked on levels spaced in
``log(t + 1)``, with jumps back up and repeats that may grow up the window, and DDPM/DDIM steps
of some η. Which of these numbers is best depends on the picture model: on spectra other
than the one a fixed rule was tuned on, fixed numbers lose to RePaint. So the planner
**calibrates to the model in front of it**:

1. **the surrogate**: the Gaussian picture model that stands for the model's pictures
   (:func:`surrogate_of`): the exact model's own, the one a trained network's checkpoint
   records (its training pictures'), the demo scenes' fit for the demo model, a
   natural-picture default otherwise, or the one passed as ``surrogate=``;
2. **the hole's scale**: ``rule.mask_frequency`` of the mask (cycles per pixel), rounded to an
   eighth of an octave;
3. **the search** (``calibrate.search``): the grid-window family tried knob by knob on the
   exact law of a small proxy problem: the user's mask itself when its hole is small, else the
   mask resampled to a smaller picture (kept islands, thin frames and the hole's place kept)
   with the spectrum rescaled so that the hole band has the same SNR (``calibrate.proxy_keep``,
   ``calibrate.proxy_model``); every candidate is given the most repeats within the target's
   calls and scored on the proxy's known pictures: the draft by its KL to the exact
   conditional on the hole's leading components, the quality plan by its worst ratio to
   RePaint's KL there and on the whole law of the generated pixels, its few best candidates
   then scored again on a finer proxy (a coarse one ranks close candidates wrongly). The
   number of laws computed is fixed per target, which bounds the planning time;
4. **the cache**: plans are kept per (surrogate, hole scale, proxy masks, picture size, target,
   calls, t_T, η, noise schedule): masks with the same proxy share a plan, so the Painter's
   drafts, planned again at every edit, come from the cache (:func:`clear_plan_cache`
   empties it).

Targets: ``"quality"`` searches within :data:`QUALITY_CALLS` model calls, ``"draft"`` within
:data:`DRAFT_CALLS` and fewer laws (a quicker plan); ``budget=`` lowers either cap. A mask
that keeps every pixel has nothing to fill and is refused; a mask that keeps nothing has no
seam to harmonise, so its plan is a plain strided walk within the target's calls.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ...errors import UserInputError
from ...public import public_names
from ..arguments import check_keep
from ..exact_images import GaussianImageModel, demo_image_model
from ..paintable import check_model
from .builders import check_eta
from .calibrate import PROXY_PIXELS, Knobs, proxy_keep, proxy_law, score, search
from .config import ScheduleConfig
from .rule import DEFAULT_BETA, DEFAULT_PIXEL_VAR, band_snr_at, mask_frequency

__all__ = ["plan_schedule", "clear_plan_cache", "surrogate_of", "hole_scale", "planned_hole_band", "PlanTarget", "PlanShape",
           "PLAN_TARGETS", "PLAN_T_T", "QUALITY_CALLS", "DRAFT_CALLS", "MAX_PLAN_SIZE", "NETWORK_ETA", "NETWORK_MAX_RAMP"]

PlanTarget = Literal["quality", "draft"]

#: Levels of the plan's noise schedule: fine enough at the low levels where the error is made.
PLAN_T_T = 250
#: The quality plan's model calls at most (RePaint 250/10/10 makes 2410: just under 0.15× of it).
QUALITY_CALLS = 360
#: The draft's model calls at most.
DRAFT_CALLS = 120
#: The η of a plan for a network (a model whose pictures' law is not known), unless ``eta=`` is given.
NETWORK_ETA = 1.0
#: The steepest ramp of repeats a network's plan takes: the exact law rewards steeper ones, which move the
#: repeats off the low levels where a network's seam is settled.
NETWORK_MAX_RAMP = 1.5
#: The largest picture side a plan is made for (the largest model paints 256²).
MAX_PLAN_SIZE = 4096
_CACHE_SIZE = 512
_LAW_CACHE_SIZE = 8


@dataclass(frozen=True)
class PlanShape:
    """How a target searches.

    Attributes:
        calls: the most model calls of its plans.
        laws: the most exact laws computed by the search (bounds the planning time).
        start: where the search starts.
        against_repaint: score a candidate by its worst ratio to RePaint's KL over the proxy's
            pictures and two measures, the hole's leading components and the whole law of the
            generated pixels (one more law, RePaint's, computed once per proxy); False: by its KL
            on the leading components averaged over the pictures.
        proxy_pixels: about the most generated pixels of the proxy problem
            (``calibrate.proxy_keep``): a finer proxy judges the windows better, at a cost that
            grows with their cube.
        finalists: the search's best candidates, its starting point among them, scored again on a
            finer proxy of about ``finalist_pixels`` generated pixels, the best there kept (1: no
            second look). Close candidates are where a coarse proxy ranks wrongly; a few laws on a
            finer one settle them.
        finalist_pixels: the finer proxy's generated pixels (when it is the same problem as the
            search's proxy, the search's ranking stands).
    """

    calls: int
    laws: int
    start: Knobs
    against_repaint: bool = False
    proxy_pixels: int = PROXY_PIXELS
    finalists: int = 1
    finalist_pixels: int = 96


#: Per target: the quality plan aims at RePaint's exact-law KL in 0.15× its calls, searched on a finer
#: proxy (on a 48-pixel one it picked windows that lost on the real mask), its three best candidates and
#: its starting point judged again on a finer one still; the draft at a quarter more in a twentieth, planned in a fraction
#: of the time.
PLAN_TARGETS: dict[str, PlanShape] = {
    "quality": PlanShape(QUALITY_CALLS, 48, Knobs(window_snr=1.0, levels=20, jump=2, ramp=1.0, eta=0.5, walk=10), True, 64,
                         finalists=4, finalist_pixels=96),
    "draft": PlanShape(DRAFT_CALLS, 20, Knobs(window_snr=2.0, levels=10, jump=1, ramp=1.0, eta=0.5, walk=5)),
}

_PLANS: OrderedDict[tuple, ScheduleConfig] = OrderedDict()
_LAWS: OrderedDict[tuple, Any] = OrderedDict()
_REFERENCES: OrderedDict[tuple, dict[bool, np.ndarray]] = OrderedDict()


def clear_plan_cache() -> None:
    """Forget every cached plan and proxy law (the next plans are searched afresh)."""
    _PLANS.clear()
    _LAWS.clear()
    _REFERENCES.clear()


def _remember(cache: OrderedDict, key: tuple, value: Any, size: int) -> Any:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
    return value


def _is_exact(model: Any) -> bool:
    """Whether ``model``'s denoiser is the exact one of a known Gaussian picture model."""
    return isinstance(getattr(model, "image_model", None), GaussianImageModel)


def surrogate_of(model: Any) -> GaussianImageModel:
    """The Gaussian picture model a plan for ``model`` is calibrated on.

    Args:
        model: an ``ExactDiffusionModel`` (its own picture model), a network whose checkpoint
            records the model of its training pictures (``DiffusionModel.picture_model``:
            ``ipainter train`` exports it), the demo model (the Gaussian fit of the demo scenes,
            ``exact.demo_image_model()``) or any other model (a natural-picture default:
            spectral exponent ``rule.DEFAULT_BETA``, knee one cycle per picture, pixel variance
            ``rule.DEFAULT_PIXEL_VAR``, correlated colours).
    """
    check_model(model, members=("image_size",))  # a plan's model needs more (_check_model); the surrogate, its size
    if _is_exact(model):
        return model.image_model
    carried = getattr(model, "picture_model", None)
    if isinstance(carried, GaussianImageModel):
        return carried
    if getattr(model, "name", None) == "demo":
        return demo_image_model()
    size = int(model.image_size)
    return GaussianImageModel(beta=DEFAULT_BETA, f0=1.0 / size).scaled(std=DEFAULT_PIXEL_VAR**0.5)


def _check_model(model: Any) -> None:
    if not (callable(getattr(model, "schedule", None)) and hasattr(model, "image_size")):
        raise UserInputError(f"model must be a DiffusionModel or ExactDiffusionModel (ip.load_model(...)), got "
                             f"{type(model).__name__}")


def _check_budget(budget: object) -> int | None:
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise UserInputError(f"budget must be a whole number of model calls (at least 2) or None, got "
                             f"{type(budget).__name__} {budget!r}")
    if budget < 2:
        raise UserInputError(f"budget={budget} is invalid: it must be at least 2 model calls (a plan needs a walk "
                             "down and the last step), or None for the target's calls")
    return int(budget)


def _check_size(image_size: object, model: Any) -> int:
    if image_size is None:
        return int(model.image_size)
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or not 1 <= image_size <= MAX_PLAN_SIZE:
        raise UserInputError(f"image_size={image_size!r} is invalid: it must be a whole number of pixels in "
                             f"1..{MAX_PLAN_SIZE} (the picture's side), or None for the model's")
    return int(image_size)


def _check_target(target: object) -> str:
    if not isinstance(target, str) or target not in PLAN_TARGETS:
        raise UserInputError(f"target={target!r} is invalid: it must be one of {sorted(PLAN_TARGETS)}")
    return target


def _check_surrogate(surrogate: object, model: Any) -> GaussianImageModel:
    if surrogate is None:
        return surrogate_of(model)
    if not isinstance(surrogate, GaussianImageModel):
        raise UserInputError(f"surrogate must be an exact.GaussianImageModel (e.g. GaussianImageModel.fit(pictures)) or "
                             f"None for the model's, got {type(surrogate).__name__}")
    return surrogate


@contextmanager
def _one_thread() -> Iterator[None]:
    """The proxy's matrices are tiny: threads would only wait on each other (badly, on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _rounded(value: float) -> float:
    return float(2.0 ** (round(8 * np.log2(value)) / 8))


def _plain(t_T: int, calls: int, eta: float) -> ScheduleConfig:
    """A strided walk within ``calls`` (no resampling)."""
    stride = max(1, -(-t_T // max(calls - 1, 1)))
    return ScheduleConfig(t_T, jump_length=1, jump_n_sample=1, stop_resampling_at=None, start_resampling_at=None,
                          eta=eta, stride=stride)


def _repaint(t_T: int) -> ScheduleConfig:
    """RePaint's schedule on ``t_T`` levels (jumps of 10 steps, 10 times), the quality plan's yardstick."""
    return ScheduleConfig(t_T, jump_length=min(10, max(t_T - 1, 1)), jump_n_sample=10, stop_resampling_at=None)


def hole_scale(keep: Any, size: int) -> float:
    """The hole's frequency (cycles per pixel, ``rule.mask_frequency``) rounded to an eighth of an octave, as the
    planner takes it: nearby masks share a plan.

    Args:
        keep: the mask (checked), or None for a hole a quarter of the picture across.
        size: the picture's side.
    """
    return _rounded(mask_frequency(keep, size))


def planned_hole_band(model: Any, image_model: GaussianImageModel, f_hole: float, size: int, t_T: int) -> np.ndarray:
    """The hole band's forward SNR at every level of the plan's noise schedule, from the surrogate: where the
    search places a window's top.

    Args:
        model: the model (its noise schedule).
        image_model: the surrogate.
        f_hole: the hole's frequency (:func:`hole_scale`).
        size: the picture's side.
        t_T: levels of the plan's noise schedule.
    """
    pixel_var = float(np.trace(np.asarray(image_model.channel_cov)) / 3)
    return band_snr_at(model.schedule(t_T).alphas_cumprod, f_hole, size, image_model.beta, image_model.f0, pixel_var)


def plan_schedule(
    model: Any,
    keep: Any = None,
    *,
    target: PlanTarget = "quality",
    budget: int | None = None,
    t_T: int | None = None,
    eta: float | None = None,
    image_size: int | None = None,
    surrogate: GaussianImageModel | None = None,
) -> ScheduleConfig:
    """Plan the whole schedule for a mask, calibrated on the model's picture statistics.

    Args:
        model: a ``DiffusionModel`` or ``ExactDiffusionModel`` (its noise schedule, its picture
            size and the surrogate it stands for, :func:`surrogate_of`).
        keep: the mask (1 = keep, the same checks as ``paint()``); the scale of its hole picks
            the plan. None: a hole a quarter of the picture across.
        target: ``"quality"`` (RePaint's accuracy in 0.15× its calls) or ``"draft"``
            (within a quarter of it in a twentieth, planned faster, for live drafts).
        budget: at most this many model calls (at least 2); None: the target's
            (:data:`QUALITY_CALLS`, :data:`DRAFT_CALLS`).
        t_T: levels of the noise schedule (default :data:`PLAN_T_T`, or the most the model allows).
        eta: the down steps' stochasticity in [0, 1] (default: searched for an exact model,
            :data:`NETWORK_ETA` (DDPM steps) for a network). A network's plan also ramps its
            repeats at most :data:`NETWORK_MAX_RAMP`.
        image_size: the picture's side in 1..:data:`MAX_PLAN_SIZE` (default: the model's).
        surrogate: the Gaussian picture model to calibrate on (default: :func:`surrogate_of`).

    Returns:
        A ``ScheduleConfig`` (``describe()`` says what it does and its model calls;
        ``to_dict()`` saves it).

    Raises:
        UserInputError: a model that is not one, an unknown target, a budget that is not a whole
            number of at least 2 calls, ``eta`` outside [0, 1], a ``t_T`` the model cannot walk,
            an ``image_size`` out of range, a surrogate that is not a ``GaussianImageModel``, a
            mask that ``paint()`` would refuse, or a mask that keeps every pixel (nothing to fill).
    """
    _check_model(model)
    target = _check_target(target)
    steps = int(getattr(model, "num_train_steps", 1000))
    if t_T is None:
        t_T = min(PLAN_T_T, steps)
    if isinstance(t_T, bool) or not isinstance(t_T, (int, np.integer)):
        raise UserInputError(f"t_T={t_T!r} is invalid: it must be a whole number of levels in 1..{steps}, or None "
                             f"for {min(PLAN_T_T, steps)}")
    t_T = model.check_t_T(int(t_T))
    budget = _check_budget(budget)
    eta = None if eta is None else check_eta(eta)
    if eta is None and not _is_exact(model):
        # the search scores η with the exact denoiser, which makes no error to correct; a network's denoiser errs, and
        # the fresh noise of DDPM steps corrects earlier steps' errors where DDIM's carry them on
        eta = NETWORK_ETA
    size = _check_size(image_size, model)
    image_model = _check_surrogate(surrogate, model)
    aim = PLAN_TARGETS[target]
    calls = aim.calls if budget is None else min(budget, aim.calls)
    if keep is not None:
        keep = check_keep(keep, size)
        if bool((keep == 1).all()):
            raise UserInputError("keep keeps every pixel: there is nothing to generate, so there is no schedule to plan "
                                 "(mark the pixels to fill with 0)")
        if bool((keep == 0).all()):  # nothing kept: no seam to harmonise, so no resampling
            return _plain(t_T, calls, 1.0 if eta is None else eta)
    # the hole's scale, to an eighth of an octave, and the mask on the proxy pictures: nearby masks share a plan
    f_hole = hole_scale(keep, size)
    proxies: dict[tuple, tuple[torch.Tensor, float]] = {}  # by shape: a finer proxy that is the same problem is dropped
    for pixels in (aim.proxy_pixels, aim.finalist_pixels) if aim.finalists > 1 else (aim.proxy_pixels,):
        small, shrink = proxy_keep(keep, size, pixels)
        proxies.setdefault((shrink, small.shape[-1], small.numpy().tobytes()), (small, shrink))
    shapes = tuple(proxies)
    variance = getattr(model, "variance_type", "fixed_small")
    variance = variance if variance in ("fixed_small", "fixed_large") else "fixed_small"
    beta_schedule = getattr(model, "beta_schedule", "linear")
    max_ramp = None if _is_exact(model) else NETWORK_MAX_RAMP
    key = (image_model, f_hole, shapes, size, target, calls, t_T, eta, max_ramp, beta_schedule, steps, variance)
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    hole_band = planned_hole_band(model, image_model, f_hole, size, t_T)

    def judged(shape: tuple) -> tuple[Any, dict[bool, np.ndarray] | None]:
        """The proxy's law (cached) and, for a target scored against RePaint, RePaint's KLs on it (cached:
        the law keeps RePaint's last law, so the second measure reuses it)."""
        law_key = (image_model, f_hole, shape, size, beta_schedule, steps, variance)
        law = _LAWS.get(law_key)
        if law is None:
            law = _remember(_LAWS, law_key, proxy_law(image_model, *proxies[shape], f_hole, size, beta_schedule, steps,
                                                      variance), _LAW_CACHE_SIZE)
        if not aim.against_repaint:
            return law, None
        references = _REFERENCES.get((law_key, t_T))
        if references is None:
            references = _remember(_REFERENCES, (law_key, t_T), {full: law.kls(_repaint(t_T), full=full)
                                                                 for full in (False, True)}, _LAW_CACHE_SIZE)
        return law, references

    with torch.inference_mode(), _one_thread():
        law, references = judged(shapes[0])
        finalists = search(law, aim.start, t_T, hole_band, calls, aim.laws, eta, references, max_ramp, aim.finalists)
        if len(finalists) > 1 and len(shapes) > 1:  # the finer proxy settles the order of the close candidates
            law, references = judged(shapes[1])
            finalists.sort(key=lambda config: score(law, config, references))
    # not even a window of two levels fits: a strided walk alone
    config = finalists[0] if finalists else _plain(t_T, calls, 1.0 if eta is None else eta)
    return _remember(_PLANS, key, config, _CACHE_SIZE)


public_names(globals())  # after every public definition
