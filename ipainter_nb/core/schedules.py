"""Time-travel schedules for resampling diffusion inpainting.

A schedule is a plain ``list[int]``: the diffusion times the sampler visits, in order,
ending at ``-1`` (the finished picture). Each consecutive pair ``(t_last, t_cur)`` is one
step of the sampler:

* ``t_cur < t_last`` is a **down** step: one model call at ``t_last`` produces the sample
  at level ``t_cur`` (``-1`` meaning the clean image);
* ``t_cur > t_last`` is an **up** step: the sample is forward-noised by one step, no model
  call.

Schedules come from two functions:

* :func:`plain` -- straight down, no resampling (a DDPM ancestral run);
* :func:`repaint` -- RePaint's jump schedule: going down, at every *jump point* (multiples
  of ``jump_length`` lying at least ``jump_length`` below ``t_T``) the sampler travels back
  up ``jump_length`` steps and down again, ``jump_n_sample - 1`` times, before continuing.
  ``stop_resampling_at=s`` keeps only the jumps that start at ``t >= s`` (the Intelligent
  Painter's truncated schedule: low times shape fine detail, which resampling tends to
  blur, so stopping early is faster and sharper; with the paper's settings 1510 model
  calls instead of 2410). ``start_resampling_at=u`` also drops the jumps that start above
  ``u``: resampling happens only in a window of times.

A window can also be walked on a **grid** (:func:`window_grid`, ``window_levels``): a few
levels in ``0..u`` spaced evenly in ``log(t + 1)`` (dense near 0, where the seam is decided;
sparse higher up, where each level changes little), each step between them one model call
(a strided step), with jumps counted in grid levels (:func:`grid_window`), and its repeats
may grow up the window (``repeat_ramp``, :func:`stretch_repeats`).

:class:`ScheduleConfig` holds the same knobs as one value that saves to and loads from a
dict; its defaults are the paper's. :func:`resampling_window` is the one definition of
the range of t that figures shade as "resampling" (``ipainter_nb.viz.schedule_figure``
draws a schedule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import UserInputError
from .schedule_grid import MAX_REPEAT_RAMP, check_repeat_ramp, grid_window, jump_within_grid, stretch_repeats, window_grid
from .schedule_times import _check_t_T, _require_int, _require_number_in, count_nfe, count_steps, resampling_window, validate_times

__all__ = [
    "ScheduleKind",
    "ScheduleConfig",
    "PAPER_T_T",
    "PAPER_JUMP_LENGTH",
    "PAPER_JUMP_N_SAMPLE",
    "PAPER_STOP_RESAMPLING_AT",
    "plain",
    "repaint",
    "jump_points",
    "count_nfe",
    "count_steps",
    "validate_times",
    "resampling_window",
    "planned_steps",
    "MAX_SCHEDULE_STEPS",
    "check_eta",
    "check_repeat_ramp",
    "MAX_REPEAT_RAMP",
    "window_grid",
    "grid_window",
    "stretch_repeats",
]

ScheduleKind = Literal["plain", "repaint", "truncated", "window"]
_KINDS: tuple[str, ...] = ("plain", "repaint", "truncated", "window")

# The Intelligent Painter paper's settings (places256, 250 respaced steps).
PAPER_T_T = 250
PAPER_JUMP_LENGTH = 10
PAPER_JUMP_N_SAMPLE = 10
PAPER_STOP_RESAMPLING_AT = 100

#: The longest schedule built (transitions). Full RePaint over 1000 steps with 20 repeats is
#: about 40 000; the bound stops a typo (``jump_n_sample=10**9``) from filling the memory.
MAX_SCHEDULE_STEPS = 1_000_000


# --------------------------------------------------------------------------- validation


def _check_bound(name: str, value: object, t_T: int) -> int | None:
    if value is None:
        return None
    value = _require_int(name, value)
    if not 0 <= value <= t_T:
        raise UserInputError(
            f"{name}={value} is invalid for t_T={t_T}: it must be in 0..{t_T} "
            f"(0 = resample everywhere, {t_T} = never), or None for no limit"
        )
    return value


def _check_params(
    t_T: object,
    jump_length: object,
    jump_n_sample: object,
    stop_resampling_at: object = None,
    start_resampling_at: object = None,
) -> tuple[int, int, int, int | None, int | None]:
    t_T = _check_t_T(t_T)
    jump_length = _require_int("jump_length", jump_length)
    jump_n_sample = _require_int("jump_n_sample", jump_n_sample)
    if not 1 <= jump_length < t_T:
        raise UserInputError(
            f"jump_length={jump_length} is invalid for t_T={t_T}: it must be in "
            f"1..{t_T - 1} (1 <= jump_length < t_T), a jump cannot climb above t_T - 1"
        )
    if jump_n_sample <= 0:
        raise UserInputError(
            f"jump_n_sample={jump_n_sample} is invalid: it must be a positive int "
            "(jump_n_sample >= 1; 1 means no resampling)"
        )
    stop = _check_bound("stop_resampling_at", stop_resampling_at, t_T)
    start = _check_bound("start_resampling_at", start_resampling_at, t_T)
    if stop is not None and start is not None and start < stop:
        raise UserInputError(
            f"start_resampling_at={start} is below stop_resampling_at={stop}: the window of "
            "resampling runs from the stop (low t) up to the start (high t); swap them"
        )
    _check_length(t_T, jump_length, jump_n_sample, stop, start)
    return t_T, jump_length, jump_n_sample, stop, start


def _count_jump_starts(t_T: int, jump_length: int, stop: int | None, start: int | None) -> int:
    """``len(_jump_starts(...))`` without building the list."""
    lowest = 0 if stop is None else stop
    highest = min(t_T - jump_length - 1, t_T if start is None else start)
    if highest < lowest:
        return 0
    first = -(-lowest // jump_length)  # the smallest multiple index >= lowest
    return max(0, highest // jump_length - first + 1)


def planned_steps(t_T: int, jump_length: int = PAPER_JUMP_LENGTH, jump_n_sample: int = PAPER_JUMP_N_SAMPLE,
                  stop_resampling_at: int | None = None, start_resampling_at: int | None = None) -> int:
    """How many transitions ``repaint(...)`` with these (valid) settings has, computed without building it.

    Args:
        t_T: levels walked.
        jump_length: steps travelled back up per jump.
        jump_n_sample: times each stretch is denoised.
        stop_resampling_at: no jump starts below this.
        start_resampling_at: no jump starts above this.
    """
    if jump_n_sample <= 1 or t_T <= 1:
        return t_T
    starts = _count_jump_starts(t_T, jump_length, stop_resampling_at, start_resampling_at)
    return t_T + starts * (jump_n_sample - 1) * 2 * jump_length


def _check_length(t_T: int, jump_length: int, jump_n_sample: int, stop: int | None, start: int | None) -> None:
    steps = planned_steps(t_T, jump_length, jump_n_sample, stop, start)
    if steps > MAX_SCHEDULE_STEPS:
        settings = f"t_T={t_T}" if jump_n_sample <= 1 else f"t_T={t_T}, jump_length={jump_length}, jump_n_sample={jump_n_sample}"
        raise UserInputError(
            f"{settings} make a schedule of {steps:,} steps, "
            f"more than the limit of {MAX_SCHEDULE_STEPS:,}: lower jump_n_sample or t_T (the paper: 250 steps, 10 x 10 jumps)"
        )


def check_eta(eta: object) -> float:
    """``eta`` as a float, or a ``UserInputError`` naming the value and the range.

    Args:
        eta: the reverse steps' stochasticity: 1 = DDPM steps, 0 = deterministic DDIM steps.

    Returns:
        The value as a float in [0, 1].

    Raises:
        UserInputError: not a real number, or outside [0, 1].
    """
    return _require_number_in("eta", eta, 1.0, "1 = DDPM steps, today's default; 0 = deterministic DDIM steps")


# --------------------------------------------------------------------------- schedules


def plain(t_T: int, stride: int = 1) -> list[int]:
    """Straight descent ``t_T-1, ..., 0, -1``: ``t_T`` model calls, no resampling.

    Args:
        t_T: number of respaced levels.
        stride: levels skipped per model call (a strided walk ending at level 0, then -1).

    Returns:
        The times visited.

    >>> plain(3), plain(10, stride=4)
    ([2, 1, 0, -1], [9, 5, 1, 0, -1])
    """
    t_T = _check_t_T(t_T)
    _check_length(t_T, 1, 1, None, None)
    return _walk(t_T, _check_stride(stride, t_T), 1, 1, set())


def _jump_starts(t_T: int, jump_length: int, stop: int | None, start: int | None) -> list[int]:
    """The multiples of ``jump_length`` below ``t_T - jump_length`` within [stop, start]."""
    lowest = 0 if stop is None else stop
    highest = t_T if start is None else start
    return [j for j in range(0, t_T - jump_length, jump_length) if lowest <= j <= highest]


def jump_points(
    t_T: int,
    jump_length: int = PAPER_JUMP_LENGTH,
    stop_resampling_at: int | None = None,
    start_resampling_at: int | None = None,
) -> list[int]:
    """Times (ascending) from which the jump schedule travels back up.

    They are the multiples of ``jump_length`` strictly below ``t_T - jump_length`` (so the
    climb never goes above ``t_T - 1``), including 0; only those in
    ``stop_resampling_at <= t <= start_resampling_at`` remain (a ``None`` bound is open).

    Args:
        t_T: levels walked.
        jump_length: steps travelled back up per jump.
        stop_resampling_at: no jump starts below this.
        start_resampling_at: no jump starts above this.
    """
    t_T, jump_length, _, stop, start = _check_params(t_T, jump_length, 1, stop_resampling_at, start_resampling_at)
    return _jump_starts(t_T, jump_length, stop, start)


def repaint(
    t_T: int,
    jump_length: int = PAPER_JUMP_LENGTH,
    jump_n_sample: int = PAPER_JUMP_N_SAMPLE,
    stop_resampling_at: int | None = None,
    start_resampling_at: int | None = None,
    stride: int = 1,
) -> list[int]:
    """RePaint's jump schedule, optionally limited to a window of times, optionally strided.

    Args:
        t_T: number of (respaced) diffusion steps; the schedule starts at ``t_T - 1``.
        jump_length: how many steps each jump travels back up (RePaint's ``j``).
        jump_n_sample: how many times each stretch is denoised (RePaint's ``r``);
            ``1`` gives :func:`plain`.
        stop_resampling_at: no jump starts from a time below it (``None`` or ``0`` =
            RePaint's schedule exactly, ``t_T`` = plain).
        start_resampling_at: no jump starts from a time above it (``None`` = no limit).
        stride: above the highest level a jump reaches, the walk goes down ``stride``
            levels per model call (a strided walk: about ``t_T / stride`` calls there);
            below it, one level per call, as RePaint. ``1`` (default) = RePaint's walk.

    Returns:
        The times visited, ending at ``-1``.

    >>> count_nfe(repaint(250, 10, 10)), count_nfe(repaint(250, 10, 10, stop_resampling_at=100))
    (2410, 1510)
    >>> repaint(12, 2, 2, 0, 2, stride=4)
    [11, 7, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1]
    """
    t_T, jump_length, jump_n_sample, stop, start = _check_params(
        t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at
    )
    stride = _check_stride(stride, t_T)
    starts = set(_jump_starts(t_T, jump_length, stop, start))
    return _walk(t_T, stride, jump_length, jump_n_sample, starts)


def _check_stride(stride: object, t_T: int) -> int:
    stride = _require_int("stride", stride)
    if not 1 <= stride <= t_T:
        raise UserInputError(f"stride={stride} is invalid for t_T={t_T}: it must be in 1..{t_T} "
                             "(levels skipped per model call above the resampling; 1 = every level)")
    return stride


def _walk(t_T: int, stride: int, jump_length: int, jump_n_sample: int, starts: set[int]) -> list[int]:
    """The levels visited: strided down to the top of the jumps, one by one below, jumps at ``starts``."""
    fine = min(t_T - 1, max(starts) + jump_length) if starts and jump_n_sample > 1 else 0
    levels = list(range(t_T - 1, fine, -stride)) + list(range(fine, -1, -1))
    times: list[int] = []
    for t in levels:
        times.append(t)
        if t in starts:
            # Each repeat: noise back up to t + jump_length, then denoise down to t again.
            # The peak t + jump_length is never a down-arrival, so jumps do not nest.
            for _ in range(jump_n_sample - 1):
                times.extend(range(t + 1, t + jump_length + 1))
                times.extend(range(t + jump_length - 1, t - 1, -1))
    times.append(-1)
    return times


# --------------------------------------------------------------------------- inspection


_AUTO = "auto"
_FIELDS = ("t_T", "jump_length", "jump_n_sample", "stop_resampling_at", "start_resampling_at", "eta", "stride",
           "window_levels", "repeat_ramp")


def _check_window_levels(levels: object, jump_length: int, jump_n_sample: int, stop: int | None,
                         start: int | None) -> int | None:
    if levels is None:
        return None
    levels = _require_int("window_levels", levels)
    if start is None or stop not in (None, 0):
        raise UserInputError(f"window_levels={levels} needs a window from t = 0: set start_resampling_at (the window's "
                             f"top) and leave stop_resampling_at at 0 or None (got stop={stop}, start={start})")
    if not 2 <= levels <= start + 1:
        raise UserInputError(f"window_levels={levels} is invalid for start_resampling_at={start}: it must be in "
                             f"2..{start + 1} (levels of the window 0..{start}), or None to walk every level")
    grid = len(window_grid(start, levels))
    if jump_n_sample > 1 and jump_length > grid - 1:
        raise UserInputError(f"jump_length={jump_length} is longer than the window's grid of {grid} levels: with "
                             f"window_levels it counts grid levels, so it must be in 1..{grid - 1}")
    if jump_n_sample * grid > MAX_SCHEDULE_STEPS:
        raise UserInputError(f"jump_n_sample={jump_n_sample} on {grid} grid levels makes a schedule longer than the limit "
                             f"of {MAX_SCHEDULE_STEPS:,} steps: lower jump_n_sample")
    return levels


def _scale(value: int, t_T: int, like_t_T: int) -> int:
    return round(value * t_T / like_t_T)


def _scaled_stride(like: ScheduleConfig, t_T: int) -> int:
    # a walk over every level stays one; a strided walk keeps its number of calls
    return 1 if like.stride == 1 else max(1, min(t_T, _scale(like.stride, t_T, like.t_T)))


@dataclass(frozen=True, init=False)
class ScheduleConfig:
    """Every knob of a time-travel schedule; the defaults are the Intelligent Painter paper's.

    Attributes:
        t_T: number of diffusion steps the schedule walks through, i.e. the length of the
            respaced noise schedule (``"250"`` respacing of the 1000-step model). The
            schedule starts at ``t_T - 1``. Default ``250``.
        jump_length: steps travelled back up on each jump (RePaint's ``j``), in
            ``1..t_T-1``. Default ``"auto"``: the paper's 10 of 250, scaled to ``t_T``.
        jump_n_sample: times each stretch between jump points is denoised (RePaint's ``r``);
            ``1`` disables resampling. Default ``10``.
        stop_resampling_at: no jump starts from a time below this, in ``0..t_T``; ``None``
            (or 0) resamples down to t=0 as RePaint does. Default ``"auto"``: the paper's
            100 of 250 (0.4·t_T), scaled to ``t_T``.
        start_resampling_at: no jump starts from a time above this (the upper end of the
            window of resampling), in ``stop..t_T``; ``None`` = no upper limit (default).
        eta: stochasticity of every down step, in ``0..1``: ``1`` is the DDPM (ancestral)
            step of RePaint and the paper (default), ``0`` the deterministic DDIM step,
            between them DDIM's family. The jumps back up are forward noise whatever
            ``eta``; the number of model calls does not depend on it.
        stride: above the highest level a jump reaches, the walk goes down ``stride``
            levels per model call (a strided walk, DDIM-style: ``t_T / stride`` calls
            where nothing is resampled); ``1`` (default) visits every level as RePaint.
        window_levels: ``None`` (default): the window is walked level by level, as
            RePaint. A number: the window ``0..start_resampling_at`` is walked on that many
            levels spaced evenly in ``log(t + 1)`` (:func:`window_grid`), one model call
            from each to the next, and ``jump_length`` counts grid levels
            (:func:`grid_window`). Needs a window (``start_resampling_at`` set, no stop).
        repeat_ramp: on a grid window, how the repeats grow with the level, in
            ``0..MAX_REPEAT_RAMP``: the stretch ending at grid level ``k`` of ``n`` is
            denoised ``round(jump_n_sample * (k / n) ** repeat_ramp)`` times, at least once
            (:func:`stretch_repeats`). ``0`` (default): every stretch ``jump_n_sample``
            times, as RePaint.
        kind: the old spelling of the schedule's kind, still accepted: it must agree with the numbers.

    ``kind`` is read from the numbers (see :attr:`kind`). The old spelling
    ``ScheduleConfig(kind="plain" | "repaint" | "truncated", ...)`` is still accepted:
    ``"plain"`` sets ``jump_n_sample=1``, ``"repaint"`` drops both bounds, ``"truncated"``
    keeps the stop. Configs are values: equal numbers, equal configs.
    """

    t_T: int
    jump_length: int
    jump_n_sample: int
    stop_resampling_at: int | None
    start_resampling_at: int | None
    eta: float
    stride: int
    window_levels: int | None
    repeat_ramp: float

    def __init__(
        self,
        t_T: int = PAPER_T_T,
        jump_length: int | Literal["auto"] = _AUTO,
        jump_n_sample: int = PAPER_JUMP_N_SAMPLE,
        stop_resampling_at: int | None | Literal["auto"] = _AUTO,
        start_resampling_at: int | None = None,
        eta: float = 1.0,
        stride: int = 1,
        window_levels: int | None = None,
        repeat_ramp: float = 0.0,
        *,
        kind: str | None = None,
    ) -> None:
        t_T = _check_t_T(t_T)
        eta = check_eta(eta)
        stride = _check_stride(stride, t_T)
        if kind is not None and kind not in _KINDS[:3]:
            raise UserInputError(f"kind={kind!r} is invalid: it must be one of {_KINDS[:3]} (or leave it out: "
                                 "the kind follows from the numbers)")
        if kind == "plain":
            jump_n_sample = 1
            stop_resampling_at = start_resampling_at = None
        elif kind == "repaint":
            stop_resampling_at = start_resampling_at = None
        elif kind == "truncated" and stop_resampling_at is None:
            stop_resampling_at = _AUTO
        scaled = []  # what the defaults chose for this t_T, for describe()
        if jump_length == _AUTO:
            jump_length = max(1, min(_scale(PAPER_JUMP_LENGTH, t_T, PAPER_T_T), t_T - 1))
            scaled.append(f"jump_length {PAPER_JUMP_LENGTH} -> {jump_length}")
        if stop_resampling_at == _AUTO:
            stop_resampling_at = _scale(PAPER_STOP_RESAMPLING_AT, t_T, PAPER_T_T)
            scaled.append(f"stop {PAPER_STOP_RESAMPLING_AT} -> {stop_resampling_at}")
        jump_n_sample = _require_int("jump_n_sample", jump_n_sample)
        if jump_n_sample == 1 or t_T == 1:
            # no resampling: the jump knobs are recorded but not used, so not checked against t_T
            jump_length = _require_int("jump_length", jump_length)
            if jump_n_sample < 1:
                raise UserInputError(f"jump_n_sample={jump_n_sample} is invalid: it must be a positive int")
            stop = _check_bound("stop_resampling_at", stop_resampling_at, t_T)
            start = _check_bound("start_resampling_at", start_resampling_at, t_T)
            _check_length(t_T, 1, 1, None, None)
        else:
            _, jump_length, jump_n_sample, stop, start = _check_params(
                t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at
            )
        window_levels = _check_window_levels(window_levels, jump_length, jump_n_sample, stop, start)
        repeat_ramp = check_repeat_ramp(repeat_ramp, window_levels)
        for name, value in zip(_FIELDS, (t_T, jump_length, jump_n_sample, stop, start, eta, stride, window_levels,
                                         repeat_ramp), strict=True):
            object.__setattr__(self, name, value)
        # a note, not a field: equal numbers stay equal configs, and asdict() stays loadable
        note = f"scaled from the paper's t_T={PAPER_T_T}: {', '.join(scaled)}" if scaled and t_T != PAPER_T_T else ""
        object.__setattr__(self, "_scaled", note)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def for_t_T(cls, t_T: int, like: ScheduleConfig | None = None) -> ScheduleConfig:
        """``like`` (default: the paper's) over ``t_T`` steps.

        Jump length, stop and start keep their proportion of t_T; the number of repeats
        and ``eta`` are kept.

        Args:
            t_T: the new number of respaced steps.
            like: the config to scale (default: the paper's).

        Returns:
            The scaled config.
        """
        t_T = _check_t_T(t_T)
        like = cls() if like is None else like
        if like.kind == "plain" or t_T == 1:
            return cls(t_T, max(1, min(like.jump_length, t_T - 1)), 1, None, None, like.eta,
                       _scaled_stride(like, t_T))

        def bound(value: int | None) -> int | None:
            return None if value is None else min(t_T, _scale(value, t_T, like.t_T))

        jump_length = max(1, min(_scale(like.jump_length, t_T, like.t_T), t_T - 1))
        start = bound(like.start_resampling_at)
        levels = None if like.window_levels is None else min(like.window_levels, (start or 0) + 1)
        if levels is not None:  # jumps count grid levels: they keep their length, within the grid
            jump_length = jump_within_grid(like.jump_length, start or 0, levels)
        config = cls(t_T, jump_length, like.jump_n_sample, bound(like.stop_resampling_at), start,
                     like.eta, _scaled_stride(like, t_T), levels, like.repeat_ramp)
        if t_T != like.t_T:
            note = (f"scaled from t_T={like.t_T}: jump_length {like.jump_length} -> {config.jump_length}, "
                    f"stop {like.stop_resampling_at} -> {config.stop_resampling_at}")
            if like.start_resampling_at is not None:
                note += f", start {like.start_resampling_at} -> {config.start_resampling_at}"
            object.__setattr__(config, "_scaled", note)
        return config

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleConfig:
        """The config saved by :meth:`to_dict`; also reads the older forms (a ``"kind"``
        key, no ``"eta"``). Missing keys take the defaults (scaled to ``t_T``).

        Args:
            data: the dict.

        Returns:
            The config.

        Raises:
            UserInputError: not a dict, unknown keys, or values out of range.
        """
        if not isinstance(data, Mapping):
            raise UserInputError(f"a schedule must be a dict with keys {', '.join(_FIELDS)}; got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS) - {"kind"})
        if unknown:
            raise UserInputError(f"unknown schedule keys {unknown}: the keys are {', '.join(_FIELDS)} (and the older 'kind')")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, int | float | None]:
        """The numbers that define the schedule (JSON-ready); :meth:`from_dict` reads it back."""
        return {name: getattr(self, name) for name in _FIELDS}

    # -- what it describes -------------------------------------------------------------
    @property
    def kind(self) -> ScheduleKind:
        """What the numbers amount to: ``"plain"`` (no jump at all), ``"repaint"`` (every
        jump of RePaint's schedule), ``"truncated"`` (no jumps below the stop) or
        ``"window"`` (no jumps above the start either)."""
        if self.jump_n_sample == 1 or self.t_T == 1:
            return "plain"
        if self.window_levels is not None:
            return "window"
        kept = _jump_starts(self.t_T, self.jump_length, self.stop_resampling_at, self.start_resampling_at)
        if not kept:
            return "plain"
        every = _jump_starts(self.t_T, self.jump_length, None, None)
        if self.start_resampling_at is not None and max(every) > self.start_resampling_at:
            return "window"
        return "repaint" if len(kept) == len(every) else "truncated"

    def times(self) -> list[int]:
        """The schedule this config describes."""
        if self.kind == "plain":
            return plain(self.t_T, self.stride)
        if self.window_levels is not None:
            return grid_window(self.t_T, self.jump_length, self.jump_n_sample, self.start_resampling_at or 0,
                               self.window_levels, self.stride, self.repeat_ramp)
        return repaint(self.t_T, self.jump_length, self.jump_n_sample, self.stop_resampling_at, self.start_resampling_at,
                       self.stride)

    @property
    def nfe(self) -> int:
        """Model calls the schedule needs (per sample batch)."""
        return count_nfe(self.times())

    def describe(self) -> str:
        """One-line summary, e.g. for a widget label or a log; says what the defaults chose
        and the steps' kind (η)."""
        kind = self.kind
        note = f" ({self._scaled})" if self._scaled else ""
        steps = "DDPM steps (eta=1)" if self.eta == 1 else f"DDIM steps eta={self.eta:g}"
        if self.stride > 1:
            steps += f", walk stride {self.stride}"
        if kind == "plain":
            return f"plain: t_T={self.t_T}, no resampling, {steps}; {self.nfe} model calls"
        unit = " grid levels" if self.window_levels is not None else ""  # a grid's jumps count its levels
        head = f"{kind}: t_T={self.t_T}, jump_length={self.jump_length}{unit}, jump_n_sample={self.jump_n_sample}, {steps}"
        if kind == "repaint":
            return f"{head}; {self.nfe} model calls{note}"
        if kind == "window" and self.window_levels is not None:
            grid = window_grid(self.start_resampling_at or 0, self.window_levels)
            where = f"window 0 <= t <= {self.start_resampling_at} walked on {len(grid)} levels spaced in log t"
            if self.repeat_ramp:
                low = stretch_repeats(self.jump_n_sample, self.jump_length, len(grid) - 1, self.repeat_ramp)
                where += f", repeats ramped {low}..{self.jump_n_sample} up it (repeat_ramp={self.repeat_ramp:g})"
        elif kind == "window":
            lo = self.stop_resampling_at or 0
            where = f"jumps only from {lo} <= t <= {self.start_resampling_at}"
        else:
            where = f"no resampling below t={self.stop_resampling_at}"
        if self.window_levels is not None:  # jumps count grid levels: no level-by-level RePaint to compare with
            return f"{head}, {where}{note}; {self.nfe} model calls"
        full = count_nfe(repaint(self.t_T, self.jump_length, self.jump_n_sample))
        return f"{head}, {where}{note}; {self.nfe} model calls (full RePaint: {full})"
