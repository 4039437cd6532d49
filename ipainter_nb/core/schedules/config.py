"""``ScheduleConfig``: every knob of a time-travel schedule as one value that saves to a dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import UserInputError
from .builders import (
    _KINDS,
    MAX_SCHEDULE_STEPS,
    PAPER_JUMP_LENGTH,
    PAPER_JUMP_N_SAMPLE,
    PAPER_STOP_RESAMPLING_AT,
    PAPER_T_T,
    ScheduleKind,
    _check_bound,
    _check_length,
    _check_params,
    _check_stride,
    _jump_starts,
    check_eta,
    plain,
    repaint,
)
from .grid import check_repeat_ramp, grid_window, jump_within_grid, stretch_repeats, window_grid
from .times import _check_t_T, _require_int, count_nfe

__all__ = ["ScheduleConfig"]


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
