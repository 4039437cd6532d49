"""The planner's search: the grid-window family tried on the exact law of a small stand-in problem.

A plan is judged where the truth is known: on the model's Gaussian surrogate (its spectrum,
its colour covariance), the exact output law of any schedule is computed
(:class:`~ipainter_nb.core.exact_hole_law.HoleLaw`), and so its KL to the exact conditional.
Computing it on a large picture would take seconds to minutes, so the search runs on a
**proxy** that keeps the mask's geometry (:func:`proxy_keep`, :func:`proxy_model`):

* a hole of at most ``pixels`` pixels (:data:`PROXY_PIXELS` for drafts, more for the quality plan:
  a coarse proxy misjudges which window wins) on a picture of at most :data:`PROXY_SIDE` a side is
  searched on the problem itself;
* a larger one is the user's mask resampled to a smaller picture (side P) where the hole keeps
  about ``pixels`` pixels: a proxy pixel is generated when half of its area is, and
  frames, rings, bands and kept cutouts thinner than a proxy pixel stay one pixel wide, so kept
  islands inside the hole, the hole's place and its thin parts are all still there; the
  spectrum is shrunk with the picture (the knee times ``size / P``: the same spectrum in cycles
  per picture);
* the proxy's pixel variance is set so that the power of the hole's band equals the user's:
  that band's forward SNR, which decides where harmonising pays, is then the same at every t.

The search (:func:`search`) walks the knobs of a grid window one at a time (coordinate
descent: η, the window's top, the grid's levels, the jump, the ramp of repeats, the walk's
calls), every candidate given the most repeats that fit the call cap, and keeps the best score:
the KL on the hole's leading components (its coarse modes, where a seam shows) averaged over
the proxy's pictures, or (the quality plan) the worst ratio to RePaint's KL over the pictures
and two measures, those components and the whole law of the generated pixels (fine texture
too), so that a plan is not bought by losing badly on some known pictures or on one measure. It stops
after a fixed number of laws, so a plan costs a bounded time and the same inputs give the
same plan. It can return its few best candidates and its starting point (``finalists``): a
coarse proxy can rank close candidates wrongly, so the planner may score these again on a finer
proxy (:func:`score`) and keep the best there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ...public import public_names
from ..exact_images import GaussianImageModel
from .config import ScheduleConfig
from .grid import jump_within_grid
from .rule import _power_at

if TYPE_CHECKING:
    from ..exact_hole_law import HoleLaw

__all__ = ["Knobs", "PROXY_PIXELS", "PROXY_SIDE", "proxy_keep", "proxy_model", "proxy_law", "score", "search", "config_for",
           "MAX_REPEATS"]

#: About the most generated pixels of the proxy problem by default (its law is carried on them).
PROXY_PIXELS = 48
#: The proxy picture's largest and smallest side.
PROXY_SIDE, PROXY_MIN_SIDE = 16, 6
#: Known pictures the proxy's KL is measured on (the mean's error depends on them).
PROXY_PICTURES = 12
#: The most repeats a candidate gets.
MAX_REPEATS = 60


@dataclass(frozen=True)
class Knobs:
    """One point of the searched family (a grid window from t = 0, a strided walk above it).

    Attributes:
        window_snr: the window's top is the level where the hole band's forward SNR falls to this.
        levels: levels of the window's grid.
        jump: grid levels travelled back up per jump.
        ramp: how the repeats grow up the window (``ScheduleConfig.repeat_ramp``).
        eta: the down steps' stochasticity.
        walk: model calls of the strided walk above the window.
    """

    window_snr: float
    levels: int
    jump: int
    ramp: float
    eta: float
    walk: int


#: The values each knob takes in the search.
KNOB_VALUES: dict[str, tuple[float, ...]] = {
    "eta": (0.25, 0.5, 0.75, 1.0),
    "window_snr": (8.0, 4.0, 2.0, 1.0, 0.5, 0.25),
    "levels": (10, 15, 20, 30, 40),
    "jump": (1, 2, 3, 4, 6),
    "ramp": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    "walk": (5, 10, 20),
}


def _thin(share: torch.Tensor) -> torch.Tensor:
    """Where ``share`` (a proxy pixel's share of one kind, 0..1) peaks strictly across one axis: the
    cross-section of a line thinner than a proxy pixel, which then stays one pixel wide (the
    picture wraps around)."""
    rows = share > torch.maximum(share.roll(1, -2), share.roll(-1, -2))
    cols = share > torch.maximum(share.roll(1, -1), share.roll(-1, -1))
    return rows | cols


def proxy_keep(keep: Any, size: int, pixels: int = PROXY_PIXELS) -> tuple[torch.Tensor, float]:
    """The user's mask on the proxy picture, ``(mask (1, P, P), shrink)``: itself (shrink 1) when its
    hole has at most ``pixels`` pixels and its side is at most :data:`PROXY_SIDE`, else
    resampled to the side ``P`` (at least :data:`PROXY_MIN_SIDE`) at which the hole keeps about
    ``pixels`` pixels; ``shrink`` is ``size / P``.

    A proxy pixel is generated when at least half of its area is; a hole or a kept part thinner than
    a proxy pixel (a frame, a ring, a kept cutout's thin limb) stays one pixel wide.

    Args:
        keep: the mask (1 = keep), (1, size, size); None: a square hole a quarter of the picture across.
        size: the picture side.
        pixels: about the most generated pixels of the proxy (the law's cost grows with their cube).
    """
    if keep is None:
        keep = torch.ones(1, size, size)
        side = max(size // 4, 1)
        a = (size - side) // 2
        keep[:, a:a + side, a:a + side] = 0
    keep = torch.as_tensor(keep, dtype=torch.float32).reshape(1, size, size)
    hole = 1.0 - keep.double()
    generated = float(hole.sum())
    side = min(size, PROXY_SIDE, max(PROXY_MIN_SIDE, int(size * (pixels / max(generated, 1.0)) ** 0.5)))
    if side == size:
        return keep, 1.0
    while True:  # thin parts kept whole may add pixels: a smaller side until the hole fits
        share = F.adaptive_avg_pool2d(hole[None], side)[0]  # each proxy pixel's share of hole
        out = ((share >= 0.5) | ((share > 0) & _thin(share))) & ~((share < 1) & _thin(1.0 - share))
        if int(out.sum()) <= pixels or side <= PROXY_MIN_SIDE:
            break
        side -= 1
    if bool(out.all()):  # a kept pixel remains one
        out.view(-1)[int(share.argmin())] = False
    if not bool(out.any()):
        out.view(-1)[int(share.argmax())] = True
    return (~out).float(), size / side


def proxy_model(surrogate: GaussianImageModel, f_hole: float, size: int, shrink: float) -> GaussianImageModel:
    """The surrogate seen on the proxy picture: the user's picture shrunk ``shrink`` times.

    The spectrum is shrunk with it (the knee times the shrink: the same spectrum in cycles per
    picture) and the pixel variance set so that the hole's band has the user's power: that
    band's forward SNR, which decides where harmonising pays, is then the same at every t.

    Args:
        surrogate: the Gaussian model of the user's pictures.
        f_hole: the hole's frequency in cycles per pixel (``rule.mask_frequency``).
        size: the user's picture side.
        shrink: how many times smaller the proxy picture is (:func:`proxy_keep`).
    """
    picture = round(size / shrink)
    beta, knee = surrogate.beta, min(surrogate.f0 * shrink, 0.5)  # a knee past Nyquist: flat, as far as the proxy sees
    gain = _power_at(f_hole, size, beta, surrogate.f0, 1.0) / _power_at(min(f_hole * shrink, 0.5), picture, beta, knee, 1.0)
    cov = tuple(tuple(v * gain for v in row) for row in surrogate.channel_cov)
    return GaussianImageModel(beta, knee, cov, surrogate.mean)


def proxy_law(surrogate: GaussianImageModel, keep: torch.Tensor, shrink: float, f_hole: float, size: int,
              beta_schedule: str, num_train_steps: int, variance_type: str) -> HoleLaw:
    """The exact law of schedules on the proxy problem (:func:`proxy_keep`, :func:`proxy_model`).

    Args:
        surrogate: the Gaussian model of the user's pictures.
        keep: the proxy's mask (:func:`proxy_keep`).
        shrink: how many times smaller than the user's picture it is.
        f_hole: the hole's frequency in cycles per pixel.
        size: the user's picture side.
        beta_schedule: the user's model's noise schedule.
        num_train_steps: its training steps.
        variance_type: its reverse variance (``fixed_small`` or ``fixed_large``).
    """
    # the exact modules import the schedule topic's modules: read at call time, after the package
    from ..exact_denoiser import ExactDiffusionModel
    from ..exact_hole_law import HoleLaw

    picture = keep.shape[-1]
    image_model = proxy_model(surrogate, f_hole, size, shrink)
    model = ExactDiffusionModel.create(image_model, picture, variance_type=variance_type, beta_schedule=beta_schedule,
                                       num_train_steps=num_train_steps, dtype=torch.float64)
    images = image_model.sample(PROXY_PICTURES, picture, torch.Generator().manual_seed(0))
    return HoleLaw(model, images, keep)


def config_for(knobs: Knobs, t_T: int, hole_band: np.ndarray, calls: int) -> ScheduleConfig | None:
    """The grid window these knobs describe with the most repeats that fit ``calls`` (None: not even two fit).

    Args:
        knobs: the point of the family.
        t_T: levels of the noise schedule.
        hole_band: the hole band's forward SNR at every level (``rule.band_snr_at``).
        calls: the most model calls.
    """
    below = np.flatnonzero(hole_band < knobs.window_snr)
    start = max(1, min(int(below[0]) if len(below) else t_T - 1, t_T - 2))
    levels = max(2, min(knobs.levels, start + 1))
    jump = jump_within_grid(knobs.jump, start, levels)
    stride = max(1, round((t_T - 1 - start) / knobs.walk))

    def config(repeats: int) -> ScheduleConfig:
        return ScheduleConfig(t_T, jump_length=jump, jump_n_sample=repeats, stop_resampling_at=0,
                              start_resampling_at=start, eta=knobs.eta, stride=stride, window_levels=levels,
                              repeat_ramp=knobs.ramp)

    if config(2).nfe > calls:
        return None
    low, high = 2, MAX_REPEATS  # the calls grow with the repeats: the most that fit, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if config(mid).nfe <= calls else (low, mid - 1)
    return config(low)


def score(law: HoleLaw, config: ScheduleConfig, references: dict[bool, np.ndarray] | None) -> float:
    """A candidate's score on a proxy law (lower is better).

    Args:
        law: the proxy's exact law.
        config: the candidate.
        references: a reference schedule's KL on each of the law's pictures per measure
            (``{full: law.kls(reference, full=full)}``): the score is the worst ratio to it over the
            pictures and the measures. None: the KL on the leading components averaged over the pictures.
    """
    if references is None:
        return law.kl(config)
    return max(float((law.kls(config, full=full) / ref).max()) for full, ref in references.items())


def search(law: HoleLaw, start: Knobs, t_T: int, hole_band: np.ndarray, calls: int, max_laws: int,
           eta: float | None = None, references: dict[bool, np.ndarray] | None = None, max_ramp: float | None = None,
           finalists: int = 1) -> list[ScheduleConfig]:
    """The lowest-scoring grid windows within ``calls`` found by coordinate descent from ``start``.

    Args:
        law: the proxy's exact law (:func:`proxy_law`).
        start: where the descent starts.
        t_T: levels of the noise schedule.
        hole_band: the hole band's forward SNR at every level.
        calls: the most model calls of a plan.
        max_laws: the most laws computed (bounds the time).
        eta: a fixed η (None: searched).
        max_ramp: the steepest ramp of repeats tried (None: every value of the family).
        references: how a candidate is scored (:func:`score`).
        finalists: how many candidates to return: the best, and (when more than one) the starting
            point's among them, so that a second look on a finer proxy can fall back on it.

    Returns:
        Up to ``finalists`` configs, the best first; empty when no candidate fits ``calls``.
    """
    values: dict[str, Any] = dict(KNOB_VALUES, eta=(eta,) if eta is not None else KNOB_VALUES["eta"])
    if max_ramp is not None:
        values["ramp"] = tuple(v for v in KNOB_VALUES["ramp"] if v <= max_ramp)
        start = replace(start, ramp=min(start.ramp, max_ramp))
    if eta is not None:
        start = replace(start, eta=eta)
    seen: dict[ScheduleConfig, float] = {}

    def scored(config: ScheduleConfig) -> float:
        if config not in seen:
            seen[config] = score(law, config, references)
        return seen[config]

    best_knobs, best = start, config_for(start, t_T, hole_band, calls)
    if best is None:  # the starting point does not fit: the cheapest shape that does
        best_knobs = replace(start, levels=min(KNOB_VALUES["levels"]), walk=min(KNOB_VALUES["walk"]), jump=1)
        best = config_for(best_knobs, t_T, hole_band, calls)
        if best is None:
            return []
    first, best_kl = best, scored(best)
    improved = True
    while improved and len(seen) < max_laws:
        improved = False
        for name, options in values.items():
            for value in options:
                if len(seen) >= max_laws:
                    break
                knobs = replace(best_knobs, **{name: value})
                config = config_for(knobs, t_T, hole_band, calls)
                if config is None or config in seen:
                    continue
                kl = scored(config)
                if kl < best_kl:
                    best_knobs, best, best_kl, improved = knobs, config, kl, True
    chosen = sorted(seen, key=seen.__getitem__)[:finalists]
    if len(chosen) > 1 and first not in chosen:  # a second look can fall back on where the search started
        chosen[-1] = first
    return chosen


public_names(globals())  # after every public definition
