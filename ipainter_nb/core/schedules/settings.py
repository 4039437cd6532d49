"""The schedule settings, declared once: :data:`SETTINGS`, one :class:`Setting` per knob.

Each row says everything the package needs to know about a setting: its name, type,
default (the paper's, or ``"auto"``: the paper's proportion of ``t_T``), its allowed range,
its command-line flag, its label in the Painter and what it means. ``ScheduleConfig`` (its
fields, ``to_dict``/``from_dict``, its checks), the CLI's schedule flags
(``commands/schedule_args.py``) and the Painter's schedule fields
(``widgets/schedule_controls.py``) are all read from this table, so adding a setting is one
row here plus its maths (where the times are built).

:func:`check_settings` is the one place the ranges are checked (each value alone, then the
bounds that follow from other settings, e.g. ``jump_length < t_T``); :func:`check_setting`
checks one value alone (``check_setting("eta", 0.5)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ...checks import as_float
from ...errors import UserInputError
from ...public import public_names
from ..arguments import is_real

__all__ = ["Setting", "SETTINGS", "SETTING_NAMES", "AUTO", "check_setting", "check_settings", "setting", "scaled",
           "PAPER_T_T", "PAPER_JUMP_LENGTH", "PAPER_JUMP_N_SAMPLE", "PAPER_STOP_RESAMPLING_AT", "MAX_REPEAT_RAMP"]

#: A default that follows ``t_T``: the paper's value scaled to the schedule's ``t_T``.
AUTO = "auto"

# The Intelligent Painter paper's settings (places256, 250 respaced steps).
PAPER_T_T = 250
PAPER_JUMP_LENGTH = 10
PAPER_JUMP_N_SAMPLE = 10
PAPER_STOP_RESAMPLING_AT = 100

#: The steepest ramp of repeats a grid window accepts (3: the top stretch 8 times the middle one's).
MAX_REPEAT_RAMP = 3.0

Bound = Callable[[Mapping[str, Any]], "int | None"]


def scaled(value: int | float, t_T: int, like_t_T: int) -> int:
    """``value`` of a schedule of ``like_t_T`` steps, in the same proportion of ``t_T`` steps, rounded.

    Computed exactly: in floats the ratio overflows for a ``t_T`` past every limit (which then refuses it).

    Args:
        value: a number of steps (a jump, a stop, a stride) of the schedule of ``like_t_T`` steps.
        t_T: the new number of steps.
        like_t_T: the number of steps ``value`` belongs to.
    """
    return round(Fraction(value) * t_T / like_t_T)


@dataclass(frozen=True)
class Setting:
    """One schedule setting: what it is, its range, and how the CLI and the Painter show it.

    Attributes:
        name: the keyword of ``ScheduleConfig`` and the key of its dict.
        type: ``int`` or ``float``.
        default: the value when it is not given: a number, ``None`` (off / no limit) or
            :data:`AUTO` (``paper`` scaled to ``t_T``, clamped to the range).
        paper: the paper's value (``None``: the paper has no such setting).
        low: the smallest value allowed.
        high: the largest value allowed: a number, ``None`` (no upper bound) or a function of
            the other (checked) settings that returns it (``None`` where it does not apply).
        high_of: the setting that ``high`` follows, named in the message (e.g. ``"t_T"``).
        optional: ``None`` is a value (no limit / off).
        hint: what the range means, said after a refusal.
        flag: the command-line flag.
        metavar: the flag's placeholder in ``--help``.
        help: the flag's help, without its default (added from ``default``/``paper``).
        label: the Painter's field label; ``""``: no field of its own (kept from a shown plan).
        unit: what the number counts (shown beside the label); ``grid_unit`` on a grid window.
        grid_unit: the unit when the schedule walks a grid window (``""``: the same).
        description: one sentence saying what it does (the Painter field's tooltip).
        resampling: it only matters when the schedule jumps (refused with ``--no-resampling``).
        planned: ``plan_schedule`` chooses it (refused with ``--schedule auto``).
    """

    name: str
    type: type
    default: int | float | str | None
    low: float
    flag: str
    metavar: str
    help: str
    hint: str
    description: str
    resampling: bool
    planned: bool
    paper: int | float | None = None
    high: float | Bound | None = None
    high_of: str = ""
    optional: bool = False
    label: str = ""
    unit: str = ""
    grid_unit: str = ""

    def default_for(self, t_T: int) -> int | float | None:
        """The default over ``t_T`` steps (:data:`AUTO` resolved: the paper's proportion, in range).

        Args:
            t_T: the schedule's number of steps.
        """
        if self.default != AUTO:
            return self.default  # type: ignore[return-value]
        value = self.type(scaled(self.paper, t_T, PAPER_T_T))  # type: ignore[arg-type]
        high = self.high({"t_T": t_T, "jump_n_sample": 2}) if callable(self.high) else self.high
        return max(int(self.low), value if high is None else min(value, high))

    def unit_for(self, grid: bool) -> str:
        """What the number counts, on a grid window (``grid``) or level by level.

        Args:
            grid: the schedule walks a grid window (``window_levels`` set).
        """
        return self.grid_unit if grid and self.grid_unit else self.unit

    def flag_help(self) -> str:
        """The flag's help line: what it does and its default (``none`` where it is optional)."""
        if self.default == AUTO:
            default = f"the paper's {self.paper} of {PAPER_T_T}, scaled to --t-T"
        elif self.paper is not None and self.paper == self.default:
            default = f"paper: {self.paper:g}" if isinstance(self.paper, float) else f"paper: {self.paper}"
        else:
            default = f"default {'none' if self.default is None else format(self.default, 'g')}"
        none = "; 'none' to unset" if self.optional else ""
        return f"{self.help} ({default}{none})"

    def typed(self, value: object) -> int | float | None:
        """``value`` as this setting's type (its range unchecked), or one ``UserInputError``.

        Args:
            value: the value to read.
        """
        if value is None and self.optional:
            return None
        return _as_int(self.name, value) if self.type is int else _as_float(self.name, value, self)

    def check(self, value: object, others: Mapping[str, Any] | None = None) -> int | float | None:
        """``value`` as this setting's type within its range, or one ``UserInputError`` naming
        the value, the range and what it means.

        Args:
            value: the value to check.
            others: the other settings, read as their types: the bounds that follow from them
                (``high``) are checked too. ``None``: the value alone.

        Returns:
            The value (an ``int``, a ``float``, or ``None`` where the setting is optional).

        Raises:
            UserInputError: a value of the wrong type or out of range.
        """
        number = self.typed(value)
        if number is None:
            return None
        high = self.high(others) if callable(self.high) and others is not None else self.high
        high = None if callable(high) else high
        if not self.low <= number or (high is not None and not number <= high):  # also refuses NaN
            bound = f" for {self.high_of}={others[self.high_of]}" if others is not None and callable(self.high) else ""
            allowed = f"{_text(self.low)}..{_text(high)}" if high is not None else f"at least {_text(self.low)}"
            none = ", or None" if self.optional else ""
            raise UserInputError(f"{self.name}={value!r} is invalid{bound}: it must be {_range_words(allowed)}{none} "
                                 f"({self.hint})")
        return number


def _text(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _range_words(allowed: str) -> str:
    return allowed if allowed.startswith("at least") else f"in {allowed}"


def _as_int(name: str, value: object) -> int:
    # bool is an int subclass; True as a count is always a mistake
    if not isinstance(value, bool):
        import numpy as np

        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, int):
            return value
    raise UserInputError(f"{name} must be an int, got {type(value).__name__} {value!r}")


def _as_float(name: str, value: object, row: Setting) -> float:
    if not is_real(value):  # a number, numpy's included; not True, "1", a tensor or a Decimal
        high = row.high if not callable(row.high) else None
        where = f" in {_text(row.low)}..{_text(high)}" if high is not None else ""
        raise UserInputError(f"{name} must be a number{where}, got {type(value).__name__} {value!r}")
    return as_float(value)


def _jump_bound(values: Mapping[str, Any]) -> int | None:
    # a schedule without jumps records its jump length but never climbs it: no bound then
    return values["t_T"] - 1 if values["jump_n_sample"] > 1 and values["t_T"] > 1 else None


def _window_bound(values: Mapping[str, Any]) -> int | None:
    start = values["start_resampling_at"]
    return None if start is None else start + 1


SETTINGS: tuple[Setting, ...] = (
    Setting(name="t_T", type=int, default=PAPER_T_T, paper=PAPER_T_T, low=1,
            flag="--t-T", metavar="N", help="respaced diffusion steps",
            hint="t_T >= 1: the number of respaced diffusion steps; the walk starts at t_T - 1",
            label="t_T", unit="steps", resampling=False, planned=False,
            description="Number of diffusion steps the schedule walks through (the respaced noise schedule); "
                        "it starts at t_T - 1."),
    Setting(name="jump_length", type=int, default=AUTO, paper=PAPER_JUMP_LENGTH, low=1, high=_jump_bound, high_of="t_T",
            flag="--jump-length", metavar="J", help="steps travelled back up on each jump",
            hint="1 <= jump_length < t_T: a jump cannot climb above t_T - 1",
            label="jump", unit="steps", grid_unit="grid levels", resampling=True, planned=True,
            description="Steps travelled back up on each jump (RePaint's j); on a grid window it counts grid levels."),
    Setting(name="jump_n_sample", type=int, default=PAPER_JUMP_N_SAMPLE, paper=PAPER_JUMP_N_SAMPLE, low=1,
            flag="--jump-n-sample", metavar="R", help="times each stretch is denoised; 1 = no resampling",
            hint="jump_n_sample >= 1; 1 means no resampling",
            label="repeats", resampling=True, planned=True,
            description="Times each stretch between jump points is denoised (RePaint's r); 1 disables resampling."),
    Setting(name="stop_resampling_at", type=int, default=AUTO, paper=PAPER_STOP_RESAMPLING_AT, low=0,
            high=lambda v: v["t_T"], high_of="t_T", optional=True,
            flag="--stop-resampling-at", metavar="S", help="no jump starts below this t",
            hint="0 = resample everywhere, t_T = never; None for no limit",
            label="stop at t", resampling=True, planned=True,
            description="No jump starts from a time below this (the paper's truncation); None or 0 resamples "
                        "down to t = 0."),
    Setting(name="start_resampling_at", type=int, default=None, low=0, high=lambda v: v["t_T"], high_of="t_T",
            optional=True, flag="--start-resampling-at", metavar="U", help="no jump starts above this t",
            hint="the top of the window of resampling; None for no upper limit",
            label="start at t", resampling=True, planned=True,
            description="No jump starts from a time above this: the upper end of the window of resampling."),
    Setting(name="eta", type=float, default=1.0, paper=1.0, low=0.0, high=1.0,
            flag="--eta", metavar="ETA",
            help="stochasticity of the down steps, 0..1: 1 = DDPM steps, 0 = deterministic DDIM steps",
            hint="1 = DDPM steps, today's default; 0 = deterministic DDIM steps",
            label="η (eta)", resampling=False, planned=False,
            description="Stochasticity of every down step: 1 is RePaint's DDPM step, 0 the deterministic DDIM "
                        "step; it costs no model calls."),
    Setting(name="stride", type=int, default=1, low=1, high=lambda v: v["t_T"], high_of="t_T",
            flag="--stride", metavar="K", help="levels skipped per model call above the resampling (a strided walk)",
            hint="levels skipped per model call above the resampling; 1 = every level",
            resampling=False, planned=True,
            description="Above the highest level a jump reaches, the walk goes down this many levels per model call."),
    Setting(name="window_levels", type=int, default=None, low=2, high=_window_bound, high_of="start_resampling_at",
            optional=True, flag="--window-levels", metavar="L",
            help="walk the window 0..--start-resampling-at on L levels spaced in log t, jumps counted in grid levels",
            hint="levels of the window 0..start_resampling_at; None to walk every level",
            resampling=True, planned=True,
            description="Walk the window 0..start_resampling_at on this many levels spaced evenly in log(t + 1)."),
    Setting(name="repeat_ramp", type=float, default=0.0, low=0.0, high=MAX_REPEAT_RAMP,
            flag="--repeat-ramp", metavar="P",
            help="on a --window-levels grid, the repeats grow up the window: the stretch ending at grid level k "
                 "of n is denoised R*(k/n)^P times, 0..3",
            hint="0: every stretch denoised jump_n_sample times",
            resampling=True, planned=True,
            description="On a grid window, how the repeats grow with the level: the stretch ending at grid level k "
                        "of n is denoised round(jump_n_sample * (k/n)^repeat_ramp) times."),
)

#: The settings' names, in the table's order (the order of ``ScheduleConfig.to_dict()``).
SETTING_NAMES: tuple[str, ...] = tuple(row.name for row in SETTINGS)
_BY_NAME = {row.name: row for row in SETTINGS}


def setting(name: str) -> Setting:
    """The row of the setting ``name``.

    Args:
        name: a setting's name (``"eta"``, ``"jump_length"``, ...).

    Raises:
        UserInputError: no setting has this name.
    """
    if not isinstance(name, str) or name not in _BY_NAME:
        raise UserInputError(f"{name!r} is not a schedule setting: the settings are {', '.join(SETTING_NAMES)}")
    return _BY_NAME[name]


def check_setting(name: str, value: object) -> int | float | None:
    """One setting's value checked alone: its type and its fixed range (``check_setting("eta", x)``).

    Bounds that follow from other settings (``jump_length < t_T``) need them all: see
    :func:`check_settings`.

    Args:
        name: the setting's name.
        value: its value.

    Returns:
        The value as the setting's type.

    Raises:
        UserInputError: naming the value, the range and what it means.
    """
    return setting(name).check(value)


def check_settings(values: Mapping[str, object]) -> dict[str, int | float | None]:
    """Every setting's range checked, the one place it is done: each value's type (in the
    table's order), then its range with the bounds that follow from the others (``jump_length < t_T``,
    ``stop_resampling_at <= t_T``, ``window_levels <= start_resampling_at + 1``, ...).

    Args:
        values: settings by name (no ``"auto"`` left): all of them, or some with the ones their
            bounds follow from (``t_T`` for most, ``jump_n_sample`` for ``jump_length``,
            ``start_resampling_at`` for ``window_levels``).

    Returns:
        The checked values, by name, in the table's order.

    Raises:
        UserInputError: the first value out of range, naming it, the range and what it means.
    """
    if not isinstance(values, Mapping):
        raise UserInputError(f"the settings must be a dict of setting name to value, got {type(values).__name__}: "
                             f"the settings are {', '.join(SETTING_NAMES)}")
    unknown = sorted(set(values) - set(SETTING_NAMES))
    if unknown:
        raise UserInputError(f"unknown schedule settings {unknown}: the settings are {', '.join(SETTING_NAMES)}")
    rows = [row for row in SETTINGS if row.name in values]
    typed = {row.name: row.typed(values[row.name]) for row in rows}
    return {row.name: row.check(typed[row.name], typed) for row in rows}


public_names(globals())  # after every public definition
