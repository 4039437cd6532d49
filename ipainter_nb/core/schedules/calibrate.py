"""The planner's search: the grid-window family tried on the exact law of a small stand-in problem.

A plan is judged where the truth is known: on the model's Gaussian surrogate (its spectrum,
its colour covariance), the exact output law of any schedule is computed
(:class:`~ipainter_nb.core.exact_hole_law.HoleLaw`), and so its KL to the exact conditional.
Computing it on the user's picture would take seconds to minutes, so the search runs on a
**proxy**: a rectangular hole on a small picture whose hole band has the same forward SNR at
every level as the user's hole band (:func:`proxy_model`):

* the user's hole is seen as a rectangle (:func:`hole_shape`): its width twice the largest
  distance to a kept pixel, its length the area over the width (a compact hole is about
  square; a frame, a ring or a band is long and thin, and becomes a band across the proxy);
* a hole up to :data:`PROXY_HOLE` pixels wide keeps its size (the same frequencies in cycles
  per pixel); a wider one is shrunk to :data:`PROXY_HOLE` pixels by a factor s, and the
  spectrum with it (the knee times s: the same spectrum in cycles per hole width);
* the proxy's pixel variance is set so that the power of the hole's band equals the user's:
  that band's forward SNR, which decides where harmonising pays, is then the same at every t.

The search (:func:`search`) walks the knobs of a grid window one at a time (coordinate
descent: η, the window's top, the grid's levels, the jump, the ramp of repeats, the walk's
calls), every candidate given the most repeats that fit the call cap, and keeps the lowest KL.
It stops after a fixed number of laws, so a plan costs a bounded time and the same inputs give
the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..exact_images import GaussianImageModel
from .config import ScheduleConfig
from .grid import jump_within_grid
from .rule import _power_at, hole_radius

if TYPE_CHECKING:
    from ..exact_hole_law import HoleLaw

__all__ = ["Knobs", "PROXY_HOLE", "PROXY_SIDE", "hole_shape", "proxy_model", "proxy_law", "search", "config_for", "MAX_REPEATS"]

#: The largest hole side (pixels) of the proxy problem: its law is carried on at most this squared.
PROXY_HOLE = 5
#: The proxy picture's largest side.
PROXY_SIDE = 12
#: Known pictures the proxy's KL is averaged over (the mean's error depends on them).
PROXY_PICTURES = 6
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
    "ramp": (0.0, 0.5, 1.0, 1.5),
    "walk": (5, 10),
}


def hole_shape(keep: Any, size: int) -> tuple[float, float]:
    """The hole as a rectangle: ``(width, length)`` in pixels, the width twice the largest distance
    from a generated pixel to a kept one, the length its area over the width (a compact hole is
    about square, a frame or a band long and thin).

    Args:
        keep: the mask (1 = keep); None: a square hole a quarter of the picture across.
        size: the picture side.
    """
    if keep is None:
        return size / 4, size / 4
    width = 2.0 * max(hole_radius(keep), 1)
    area = float((torch.as_tensor(keep) < 0.5).sum())
    return width, max(width, area / width)


def _rectangle_keep(picture: int, width: int, length: int) -> torch.Tensor:
    keep = torch.ones(1, picture, picture)
    a, b = (picture - width) // 2, (picture - min(length, picture)) // 2
    keep[:, a:a + width, b:b + min(length, picture)] = 0
    return keep


def proxy_model(surrogate: GaussianImageModel, shape: tuple[float, float], f_hole: float, size: int
                ) -> tuple[GaussianImageModel, torch.Tensor]:
    """The stand-in problem for a hole of this shape on a ``size`` picture of ``surrogate``.

    Args:
        surrogate: the Gaussian model of the user's pictures.
        shape: the hole's ``(width, length)`` in pixels (:func:`hole_shape`).
        f_hole: the hole's frequency in cycles per pixel (``rule.mask_frequency``).
        size: the user's picture side.

    Returns:
        ``(picture model, keep mask)`` of the proxy.
    """
    width, length = shape
    shrink = max(1.0, width / PROXY_HOLE)
    w = max(1, min(PROXY_HOLE, round(width / shrink)))
    n = max(w, round(length / shrink))
    picture = min(PROXY_SIDE, max(8, 2 * w, n + 4))
    keep = _rectangle_keep(picture, w, n if n <= picture - 2 else picture)  # a long hole: a band across
    # the same power at the hole's frequency (scaled with the hole): the same band SNR at every level
    beta, knee = surrogate.beta, surrogate.f0 * shrink
    gain = _power_at(f_hole, size, beta, surrogate.f0, 1.0) / _power_at(f_hole * shrink, picture, beta, knee, 1.0)
    cov = tuple(tuple(v * gain for v in row) for row in surrogate.channel_cov)
    return GaussianImageModel(beta, knee, cov, surrogate.mean), keep


def proxy_law(surrogate: GaussianImageModel, shape: tuple[float, float], f_hole: float, size: int, beta_schedule: str,
              num_train_steps: int, variance_type: str) -> HoleLaw:
    """The exact law of schedules on the proxy problem (:func:`proxy_model`).

    Args:
        surrogate: the Gaussian model of the user's pictures.
        shape: the hole's ``(width, length)`` in pixels.
        f_hole: the hole's frequency in cycles per pixel.
        size: the user's picture side.
        beta_schedule: the user's model's noise schedule.
        num_train_steps: its training steps.
        variance_type: its reverse variance (``fixed_small`` or ``fixed_large``).
    """
    # the exact modules import the schedule topic's modules: read at call time, after the package
    from ..exact_denoiser import ExactDiffusionModel
    from ..exact_hole_law import HoleLaw

    image_model, keep = proxy_model(surrogate, shape, f_hole, size)
    picture = keep.shape[-1]
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


def search(law: HoleLaw, start: Knobs, t_T: int, hole_band: np.ndarray, calls: int, max_laws: int,
           eta: float | None = None) -> ScheduleConfig | None:
    """The lowest-KL grid window within ``calls`` found by coordinate descent from ``start``.

    Args:
        law: the proxy's exact law (:func:`proxy_law`).
        start: where the descent starts.
        t_T: levels of the noise schedule.
        hole_band: the hole band's forward SNR at every level.
        calls: the most model calls of a plan.
        max_laws: the most laws computed (bounds the time).
        eta: a fixed η (None: searched).

    Returns:
        The best config, or None when no candidate fits ``calls``.
    """
    values: dict[str, Any] = dict(KNOB_VALUES, eta=(eta,) if eta is not None else KNOB_VALUES["eta"])
    if eta is not None:
        start = replace(start, eta=eta)
    seen: dict[ScheduleConfig, float] = {}

    def score(config: ScheduleConfig) -> float:
        if config not in seen:
            seen[config] = law.kl(config)
        return seen[config]

    best_knobs, best = start, config_for(start, t_T, hole_band, calls)
    if best is None:  # the starting point does not fit: the cheapest shape that does
        best_knobs = replace(start, levels=min(KNOB_VALUES["levels"]), walk=min(KNOB_VALUES["walk"]), jump=1)
        best = config_for(best_knobs, t_T, hole_band, calls)
        if best is None:
            return None
    best_kl = score(best)
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
                kl = score(config)
                if kl < best_kl:
                    best_knobs, best, best_kl, improved = knobs, config, kl, True
    return best
