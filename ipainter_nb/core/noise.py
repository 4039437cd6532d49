"""Noise carried from one schedule to another, so that a short run predicts a long one.

A run's randomness is one standard normal tensor per use, taken in the order the sampler's
walk consumes them (:func:`walk_draws`): the start, then per down step the known image's
noise and the step's own noise, per up step (a jump back) the forward noise. Two runs of
different schedules with the same seed share only the start: after it, the n-th draw of
one is used at another level than the n-th draw of the other, so their pictures part ways.

:func:`carried_noise` gives a run the noise a *reference* schedule (say Paint's) draws with
the same seed, carried onto the run's own levels by reading each step's noise as the
normalised increment of a Brownian path over the interval the step crosses:

* in VE units (``x / sqrt(ᾱ)``) the forward process is a Brownian motion in the clock
  ``τ = (1 - ᾱ) / ᾱ``, so a jump back from ``s`` to ``t`` adds the path's increment over
  ``[τ_s, τ_t]``; the DDPM step down from ``t`` to ``s`` samples the Brownian bridge
  between the predicted clean image and ``x_t``, which by time inversion is an increment of
  a Brownian motion in the clock ``1 / τ`` (the SNR). Coarse steps then add up what fine
  steps add: a step's noise is the normalised sum of the increments of the cells it crosses,
  and a reference step over several cells is split into them by conditional sampling;
* a level crossed many times (resampling) takes the path of the crossing counted from the
  end: the last crossing of every level uses the reference's last crossing of it, the one
  before the one before, and so on (crossings the reference does not make draw fresh noise).
  Both runs end driven by the same noise, as in a coupling from the past;
* the known image's noise at a down step is the reference's at the nearest level with the
  same crossing count; the start is the reference's start.

Carried onto the reference schedule itself, the noise is the reference's own, draw for draw.
Levels are compared by training timestep, so the two schedules may have different ``t_T``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..public import public_names
from .diffusion import DiffusionSchedule

__all__ = ["walk_draws", "carried_noise", "CarriedNoise"]

_FRESH_SALT = 0x5DEECE66D  # the fresh draws' generator is the seed's, salted: independent of the reference's


def walk_draws(times: Sequence[int]) -> list[tuple[str, int]]:
    """What each draw of a walk along ``times`` is for, in the order the sampler takes them.

    Args:
        times: a valid schedule.

    Returns:
        ``("start", -1)``, then per step ``i`` down ``("known", i), ("down", i)`` and per
        step up ``("up", i)``.
    """
    draws = [("start", -1)]
    for i, (t, s) in enumerate(zip(times[:-1], times[1:])):
        draws += [("known", i), ("down", i)] if s < t else [("up", i)]
    return draws


@dataclass(frozen=True)
class _Walk:
    """A schedule's steps as intervals between training timesteps, with the clock of each."""

    times: list[int]
    points: dict[int, int]  # level -> training timestep (-1: the clean image)
    snr: dict[int, float]  # training timestep -> ᾱ / (1 - ᾱ)

    @classmethod
    def of(cls, times: Sequence[int], schedule: DiffusionSchedule) -> _Walk:
        times = list(times)
        points = {t: (int(schedule.timestep_map[t]) if t >= 0 else -1) for t in set(times)}
        snr = {points[t]: _snr(schedule.alpha_bar(t)) for t in set(times) if t >= 0}
        return cls(times, points, snr)

    def steps(self, direction: str) -> list[tuple[int, int, int]]:
        """``(index, low point, high point)`` of each step going ``direction``."""
        out = []
        for i, (t, s) in enumerate(zip(self.times[:-1], self.times[1:])):
            if (s < t) == (direction == "down"):
                out.append((i, self.points[min(s, t)], self.points[max(s, t)]))
        return out


def _snr(alpha_bar: float) -> float:
    return alpha_bar / max(1.0 - alpha_bar, 1e-300)


def _cell_width(direction: str, low: int, high: int, snr: dict[int, float]) -> float:
    """A cell's length on its clock: the SNR going down, τ = 1 / SNR going up."""
    if low < 0:
        return 1.0  # the last step's noise is never used (it lands on the clean image): any width will do
    if direction == "down":
        return snr[low] - snr[high]
    return 1.0 / snr[high] - 1.0 / snr[low]


def _crossings(steps: list[tuple[int, int, int]], cuts: list[int]) -> dict[int, list[tuple[int, int]]]:
    """For each step, its cells (index into ``cuts``) with the number of later steps crossing each."""
    later: dict[int, int] = defaultdict(int)
    out: dict[int, list[tuple[int, int]]] = {}
    for i, low, high in reversed(steps):
        cells = range(cuts.index(low), cuts.index(high))
        out[i] = [(c, later[c]) for c in cells]
        for c in cells:
            later[c] += 1
    return out


@dataclass(frozen=True)
class _CarryPlan:
    """Where each draw of a run along ``times`` comes from: the same for every seed, made once per batch.

    Attributes:
        draws: per draw of the run, in order: ``("ref", n)`` the reference's n-th draw,
            ``("fresh",)`` a fresh draw, or ``("cells", direction, [(cell, crossings), ...])``
            the normalised sum of the path's increments over those cells.
        ref_cells: per direction, ``(crossings, cell)`` -> (the reference draw over that cell,
            the cells that draw spans).
        widths: per direction, each cell's length on its clock.
        ref_uses: how many times each reference draw is read (a draw is dropped after its last).
    """

    draws: list[tuple]
    ref_cells: dict[str, dict[tuple[int, int], tuple[int, list[int]]]]
    widths: dict[str, list[float]]
    ref_uses: dict[int, int]

    @classmethod
    def of(cls, times: Sequence[int], schedule: DiffusionSchedule, reference: Sequence[int],
           reference_schedule: DiffusionSchedule) -> _CarryPlan:
        run, ref = _Walk.of(times, schedule), _Walk.of(reference, reference_schedule)
        snr = {**ref.snr, **run.snr}
        ref_order = {draw: n for n, draw in enumerate(walk_draws(ref.times))}
        ref_cells: dict[str, dict[tuple[int, int], tuple[int, list[int]]]] = {}
        run_cells: dict[str, dict[int, list[tuple[int, int]]]] = {}
        cuts: dict[str, list[int]] = {}
        widths: dict[str, list[float]] = {}
        for d in ("down", "up"):
            cuts[d] = sorted({p for _, lo, hi in run.steps(d) + ref.steps(d) for p in (lo, hi)})
            widths[d] = [_cell_width(d, lo, hi, snr) for lo, hi in zip(cuts[d][:-1], cuts[d][1:])]
            ref_cells[d] = {}
            for i, cells in _crossings(ref.steps(d), cuts[d]).items():
                for c, k in cells:
                    ref_cells[d][(k, c)] = (ref_order[(d, i)], [cc for cc, _ in cells])
            run_cells[d] = _crossings(run.steps(d), cuts[d])
        # the known image's noise: the reference's at its nearest level (on the clock) with as many later crossings
        ref_known: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, cells in _crossings(ref.steps("down"), cuts["down"]).items():
            ref_known[cells[-1][1]].append((ref.points[ref.times[i]], ref_order[("known", i)]))
        draws: list[tuple] = []
        for role, i in walk_draws(run.times):
            if role == "start":
                draws.append(("ref", ref_order[("start", -1)]))
            elif role == "known":
                k, high = run_cells["down"][i][-1][1], run.points[run.times[i]]
                near = min(ref_known.get(k, []), key=lambda hn: abs(math.log(snr[hn[0]] / snr[high])), default=None)
                draws.append(("ref", near[1]) if near is not None else ("fresh",))
            else:
                draws.append(("cells", role, run_cells[role][i]))
        ref_uses: dict[int, int] = defaultdict(int)
        for entry in draws:
            for n in _ref_needs(entry, ref_cells):
                ref_uses[n] += 1
        return cls(draws, ref_cells, widths, dict(ref_uses))


def _ref_needs(entry: tuple, ref_cells: dict[str, dict[tuple[int, int], tuple[int, list[int]]]]) -> list[int]:
    """The reference draws one planned draw reads."""
    if entry[0] == "ref":
        return [entry[1]]
    if entry[0] == "cells":
        _, d, cells = entry
        return [ref_cells[d][(k, c)][0] for c, k in cells if (k, c) in ref_cells[d]]
    return []


class CarriedNoise:
    """The noise source of one picture: see :func:`carried_noise`.

    Args:
        seed: the picture's seed (the reference's draws come from ``torch.Generator(seed)``).
        shape: one draw's shape, (1, C, H, W).
        plan: where each draw comes from (``_CarryPlan.of(times, schedule, reference, reference_schedule)``).
        device: where the noise is made.
        dtype: its dtype.
    """

    def __init__(self, seed: int, shape: Sequence[int], plan: _CarryPlan, device: torch.device | str,
                 dtype: torch.dtype) -> None:
        self.shape, self.device, self.dtype = tuple(shape), device, dtype
        self._ref_gen = torch.Generator(device=device).manual_seed(seed)
        self._fresh_gen = torch.Generator(device=device).manual_seed((seed ^ _FRESH_SALT) % 2**63)
        self._plan, self._ref_cells, self._widths = plan.draws, plan.ref_cells, plan.widths
        self._ref_uses: dict[int, int] = dict(plan.ref_uses)  # this picture's reads left
        self._ref_taken = 0  # reference draws generated so far
        self._ref_kept: dict[int, torch.Tensor] = {}
        self._cells: dict[tuple[str, int, int], torch.Tensor] = {}  # (direction, crossings, cell) -> normalised draw
        self._next = 0

    # ---- drawing

    def _fresh(self) -> torch.Tensor:
        return torch.randn(self.shape, generator=self._fresh_gen, device=self.device, dtype=self.dtype)

    def _ref(self, n: int) -> torch.Tensor:
        """The reference's n-th draw (kept until its last use; draws in between are made and dropped)."""
        while n not in self._ref_kept:
            draw = torch.randn(self.shape, generator=self._ref_gen, device=self.device, dtype=self.dtype)
            if self._ref_uses.get(self._ref_taken):
                self._ref_kept[self._ref_taken] = draw
            self._ref_taken += 1
        draw = self._ref_kept[n]
        self._ref_uses[n] -= 1
        if self._ref_uses[n] <= 0:
            del self._ref_kept[n]
        return draw

    def _cell(self, d: str, k: int, c: int) -> torch.Tensor:
        """The normalised increment of path ``k`` over cell ``c`` of direction ``d``."""
        if (d, k, c) in self._cells:
            return self._cells.pop((d, k, c))
        found = self._ref_cells[d].get((k, c))
        if found is None:
            return self._fresh()
        n, cells = found
        z = self._ref(n)
        if len(cells) == 1:
            return z
        self._ref_kept.pop(n, None)  # split once: its cells hold all of it
        # split the reference step's increment over its cells: the conditional law given their sum
        widths = torch.tensor([self._widths[d][cc] for cc in cells], dtype=torch.float64)
        total = float(widths.sum())
        extra = [self._fresh() * math.sqrt(float(w)) for w in widths]
        spread = sum(extra)
        for cc, w, xi in zip(cells, widths.tolist(), extra):
            piece = (w / total) * (math.sqrt(total) * z - spread) + xi
            self._cells[(d, k, cc)] = piece / math.sqrt(w)
        return self._cells.pop((d, k, c))

    def __call__(self) -> torch.Tensor:
        entry = self._plan[self._next]
        self._next += 1
        if entry[0] == "ref":
            return self._ref(entry[1])
        if entry[0] == "fresh":
            return self._fresh()
        _, d, cells = entry
        if len(cells) == 1:
            c, k = cells[0]
            return self._cell(d, k, c)
        widths = [self._widths[d][c] for c, _ in cells]
        total = sum(self._cell(d, k, c) * math.sqrt(w) for (c, k), w in zip(cells, widths))
        return total / math.sqrt(sum(widths))


def carried_noise(seeds: Sequence[int], shape: Sequence[int], times: Sequence[int], schedule: DiffusionSchedule,
                  reference: Sequence[int], reference_schedule: DiffusionSchedule, device: torch.device | str,
                  dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """A noise source for a walk along ``times`` that carries the noise of a walk along ``reference``.

    Picture ``i`` gets the noise the reference's walk would draw from ``seeds[i]``
    (``sampler.seeded_noise``), carried onto ``times`` as the module says. With
    ``times == reference`` it is ``seeded_noise(seeds, ...)`` itself, draw for draw.

    Args:
        seeds: one seed per picture of the batch.
        shape: one picture's shape, (C, H, W).
        times: the schedule the run walks.
        schedule: the model's schedule respaced to ``times[0] + 1`` steps.
        reference: the schedule whose noise is carried (e.g. Paint's).
        reference_schedule: the model's schedule respaced to ``reference[0] + 1`` steps.
        device: where the noise is made.
        dtype: its dtype.

    Returns:
        A callable returning, per call, the next draw for the whole batch, (n, C, H, W).
    """
    plan = _CarryPlan.of(times, schedule, reference, reference_schedule)  # the same for every seed
    sources = [CarriedNoise(s, (1, *shape), plan, device, dtype) for s in seeds]

    def draw() -> torch.Tensor:
        return torch.cat([source() for source in sources])

    return draw


public_names(globals())  # after every public definition
