"""``ScheduleConfig``: every setting of a time-travel schedule as one value that saves to a dict.

Its settings are the rows of :data:`~ipainter_nb.core.schedules.settings.SETTINGS` (name, type,
default, range, flag, label, meaning): the constructor's keywords, ``to_dict``/``from_dict``
and the checks are read from that table. What is written here is the maths: the rules that
tie settings together (a window's order, a grid inside the window, the schedule's length),
how a schedule is scaled to another ``t_T``, and which times it visits.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from typing import Any, get_args

from ...errors import UserInputError
from ...public import public_names
from .builders import MAX_SCHEDULE_STEPS, ScheduleKind, check_jumps, check_length, jump_points, plain, repaint
from .grid import check_repeat_ramp, grid_window, jump_within_grid, stretch_repeats, window_grid
from .settings import AUTO, PAPER_T_T, SETTING_NAMES, SETTINGS, check_setting, check_settings, scaled, setting
from .times import count_nfe

__all__ = ["ScheduleConfig"]

#: the kinds the old ``kind`` key may name (``"window"`` was never saved)
_OLD_KINDS = get_args(ScheduleKind)[:3]


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Every setting in range (``check_settings``), then the rules between them."""
    v = check_settings(values)
    t_T, jumps = v["t_T"], v["jump_n_sample"]
    if jumps == 1 or t_T == 1:
        check_length(t_T, 1, 1, None, None)  # no resampling: the jump settings are recorded, not used
    else:
        check_jumps(t_T, v["jump_length"], jumps, v["stop_resampling_at"], v["start_resampling_at"], v["stride"])
    _check_grid(v)
    check_repeat_ramp(v["repeat_ramp"], v["window_levels"])
    return v


def _check_grid(v: Mapping[str, Any]) -> None:
    levels, stop, start = v["window_levels"], v["stop_resampling_at"], v["start_resampling_at"]
    if levels is None:
        return
    if start is None or stop not in (None, 0):
        raise UserInputError(f"window_levels={levels} needs a window from t = 0: set start_resampling_at (the window's "
                             f"top) and leave stop_resampling_at at 0 or None (got stop={stop}, start={start})")
    grid = len(window_grid(start, levels))
    if v["jump_n_sample"] > 1 and v["jump_length"] > grid - 1:
        raise UserInputError(f"jump_length={v['jump_length']} is longer than the window's grid of {grid} levels: with "
                             f"window_levels it counts grid levels, so it must be in 1..{grid - 1}")
    if v["jump_n_sample"] * grid > MAX_SCHEDULE_STEPS:
        raise UserInputError(f"jump_n_sample={v['jump_n_sample']} on {grid} grid levels makes a schedule longer than the "
                             f"limit of {MAX_SCHEDULE_STEPS:,} steps: lower jump_n_sample")


def _old_kind(kind: object, values: dict[str, Any]) -> dict[str, Any]:
    """The numbers an old save's ``"kind"`` meant: plain has no jumps, repaint no bounds, truncated a stop."""
    if kind not in _OLD_KINDS:
        raise UserInputError(f"kind={kind!r} is invalid: it must be one of {list(_OLD_KINDS)} (or leave it out: "
                             "the kind follows from the numbers)")
    if kind == "plain":
        return values | dict(jump_n_sample=1, stop_resampling_at=None, start_resampling_at=None)
    if kind == "repaint":
        return values | dict(stop_resampling_at=None, start_resampling_at=None)
    if values.get("stop_resampling_at") is None:
        return values | dict(stop_resampling_at=AUTO)
    return values


def _scaled_stride(like: ScheduleConfig, t_T: int) -> int:
    # a walk over every level stays one; a strided walk keeps its number of calls
    return 1 if like.stride == 1 else max(1, min(t_T, scaled(like.stride, t_T, like.t_T)))


class ScheduleConfig:
    """Every setting of a time-travel schedule; the defaults are the Intelligent Painter paper's.

    ``ScheduleConfig(t_T, *, jump_length=..., jump_n_sample=..., ...)``: ``t_T`` may be given
    by position, every other setting by name. The settings, their defaults, ranges and
    meanings are the rows of :data:`~ipainter_nb.core.schedules.settings.SETTINGS`:
    ``t_T`` (steps walked, 250), ``jump_length`` (RePaint's j; ``"auto"``: the paper's 10 of
    250 scaled to ``t_T``), ``jump_n_sample`` (RePaint's r, 10; 1 = no resampling),
    ``stop_resampling_at`` (no jump below it; ``"auto"``: the paper's 100 of 250 scaled),
    ``start_resampling_at`` (no jump above it; None), ``eta`` (1 = DDPM steps, 0 = DDIM),
    ``stride`` (levels per model call above the jumps; 1), ``window_levels`` (walk the window
    on a grid of that many levels; None) and ``repeat_ramp`` (repeats growing up a grid
    window; 0). Each is an attribute of the config.

    Configs are values: equal numbers, equal configs; ``to_dict``/``from_dict`` save and load
    them (``from_dict`` also reads the old ``"kind"`` key). ``kind`` is read from the numbers.

    Args:
        t_T: number of diffusion steps the schedule walks through; it starts at ``t_T - 1``.
        **settings: the other settings by name (see above); those left out take their defaults.

    Raises:
        UserInputError: an unknown setting, or a value out of its range, naming the value, the
            range and the fix.
    """

    def __init__(self, t_T: int = PAPER_T_T, **settings: Any) -> None:
        if "kind" in settings:
            raise UserInputError("kind= is the old spelling of a schedule, read only by ScheduleConfig.from_dict: leave it "
                                 "out (the kind follows from the numbers: jump_n_sample=1 is plain, "
                                 "stop_resampling_at=None is RePaint)")
        unknown = sorted(set(settings) - set(SETTING_NAMES))
        if unknown:
            raise UserInputError(f"unknown schedule settings {unknown}: the settings are {', '.join(SETTING_NAMES)}")
        t_T = check_setting("t_T", t_T)  # type: ignore[assignment]
        values: dict[str, Any] = {"t_T": t_T}
        scaled = []  # what the defaults chose for this t_T, for describe()
        for row in SETTINGS[1:]:
            value = settings.get(row.name, row.default)
            if isinstance(value, str) and value == AUTO and row.default == AUTO:
                value = row.default_for(t_T)
                scaled.append(f"{row.name.replace('_resampling_at', '')} {row.paper} -> {value}")
            values[row.name] = value
        for name, value in _checked(values).items():
            object.__setattr__(self, name, value)
        # a note, not a setting: equal numbers stay equal configs
        note = f"scaled from the paper's t_T={PAPER_T_T}: {', '.join(scaled)}" if scaled and t_T != PAPER_T_T else ""
        object.__setattr__(self, "_scaled", note)

    # -- a value --------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"a ScheduleConfig is a value: make another (cannot assign to {name!r})")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"a ScheduleConfig is a value (cannot delete {name!r})")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().values()))

    def __repr__(self) -> str:
        return f"ScheduleConfig({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    # -- construction ---------------------------------------------------------------
    @classmethod
    def for_t_T(cls, t_T: int, like: ScheduleConfig | None = None) -> ScheduleConfig:
        """``like`` (default: the paper's) over ``t_T`` steps.

        Jump length, stop, start and stride keep their proportion of t_T; the other settings
        (repeats, ``eta``, the ramp) are kept.

        Args:
            t_T: the new number of respaced steps.
            like: the config to scale (default: the paper's).

        Returns:
            The scaled config.
        """
        t_T = check_setting("t_T", t_T)  # type: ignore[assignment]
        if like is not None and not isinstance(like, ScheduleConfig):
            raise UserInputError(f"like must be a ScheduleConfig (or None for the paper's), got {type(like).__name__}")
        like = cls() if like is None else like
        kept = like.to_dict()
        if like.kind == "plain" or t_T == 1:
            kept.update(t_T=t_T, jump_length=max(1, min(like.jump_length, t_T - 1)), jump_n_sample=1,
                        stop_resampling_at=None, start_resampling_at=None, stride=_scaled_stride(like, t_T),
                        window_levels=None, repeat_ramp=0.0)
            return cls(**kept)

        def bound(value: int | None) -> int | None:
            return None if value is None else min(t_T, scaled(value, t_T, like.t_T))

        jump_length = max(1, min(scaled(like.jump_length, t_T, like.t_T), t_T - 1))
        start = bound(like.start_resampling_at)
        levels = None if like.window_levels is None else min(like.window_levels, (start or 0) + 1)
        if levels is not None:  # jumps count grid levels: they keep their length, within the grid
            jump_length = jump_within_grid(like.jump_length, start or 0, levels)
        kept.update(t_T=t_T, jump_length=jump_length, stop_resampling_at=bound(like.stop_resampling_at),
                    start_resampling_at=start, stride=_scaled_stride(like, t_T), window_levels=levels)
        config = cls(**kept)
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
        key, no ``"eta"``, none of the later settings). Missing keys take the defaults
        (scaled to ``t_T``).

        Args:
            data: the dict.

        Returns:
            The config.

        Raises:
            UserInputError: not a dict, unknown keys, or values out of range.
        """
        if not isinstance(data, Mapping):
            raise UserInputError(f"a schedule must be a dict with keys {', '.join(SETTING_NAMES)}; got {type(data).__name__}")
        unknown = sorted(set(data) - set(SETTING_NAMES) - {"kind"})
        if unknown:
            raise UserInputError(f"unknown schedule keys {unknown}: the keys are {', '.join(SETTING_NAMES)} "
                                 "(and the older 'kind')")
        values = dict(data)
        if "kind" in values:
            values = _old_kind(values.pop("kind"), values)
        return cls(**values)

    def to_dict(self) -> dict[str, int | float | None]:
        """The numbers that define the schedule (JSON-ready), one per setting; :meth:`from_dict` reads it back."""
        return {name: self.__dict__[name] for name in SETTING_NAMES}

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
        kept = jump_points(self.t_T, self.jump_length, self.stop_resampling_at, self.start_resampling_at)
        if not kept:
            return "plain"
        every = jump_points(self.t_T, self.jump_length)
        if self.start_resampling_at is not None and max(every) > self.start_resampling_at:
            return "window"
        return "repaint" if len(kept) == len(every) else "truncated"

    def times(self) -> list[int]:
        """The schedule this config describes (built once per config: a config is a value)."""
        cached = self.__dict__.get("_times")
        if cached is None:
            cached = tuple(self._build_times())
            object.__setattr__(self, "_times", cached)
        return list(cached)

    def _build_times(self) -> list[int]:
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
        cached = self.__dict__.get("_nfe")
        if cached is None:
            cached = count_nfe(self.__dict__.get("_times") or self.times())
            object.__setattr__(self, "_nfe", cached)
        return cached

    def describe(self, head: str | None = None) -> str:
        """One-line summary, e.g. for a widget label or a log; says what the defaults chose,
        the steps' kind (η) and the model calls.

        Args:
            head: the words the line starts with (default: the kind, e.g. ``"truncated"``).
        """
        kind = self.kind
        head = kind if head is None else head
        note = f" ({self._scaled})" if self._scaled else ""
        steps = "DDPM steps (eta=1)" if self.eta == 1 else f"DDIM steps eta={self.eta:g}"
        if self.stride > 1:
            steps += f", walk stride {self.stride}"
        if kind == "plain":
            return f"{head}: t_T={self.t_T}, no resampling, {steps}; {self.nfe} model calls"
        unit = setting("jump_length").unit_for(grid=self.window_levels is not None)
        unit = f" {unit}" if unit != "steps" else ""  # a grid's jumps count its levels
        head = f"{head}: t_T={self.t_T}, jump_length={self.jump_length}{unit}, jump_n_sample={self.jump_n_sample}, {steps}"
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


# help(), IDEs and inspect see every setting as a keyword (the table's defaults)
ScheduleConfig.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     inspect.Parameter("t_T", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=PAPER_T_T, annotation=int)]
    + [inspect.Parameter(row.name, inspect.Parameter.KEYWORD_ONLY, default=row.default,
                         annotation=row.type if not row.optional else f"{row.type.__name__} | None")
       for row in SETTINGS[1:]],
    return_annotation=None,
)


public_names(globals())  # after every public definition
