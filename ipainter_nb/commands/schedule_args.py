"""The schedule flags of ``paint`` and ``schedule``, and the ``ScheduleConfig`` they build.

The flags are the rows of the settings table (``core/schedules/settings.py``): a new
setting's flag comes with its row. ``schedule_from_args`` is the one function that turns the
flags into a schedule (flags left unset come from the model's default schedule, scaled when
``--t-T`` differs); ``flags_of`` writes every setting, so a printed line always parses back to
the same schedule.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from ..checks import int_at_least, number_flag
from ..core.schedules import SETTING_NAMES, SETTINGS, ScheduleConfig, Setting
from ..core.schedules.plan import plan_schedule
from ..errors import UserInputError
from ..public import public_names

__all__ = ["SCHEDULE_FLAGS", "NONE", "add_schedule_flags", "schedule_from_args", "flags_of", "auto_schedule"]

#: The settings' names, each a flag (``--t-T``, ``--jump-length``, ...), in the table's order.
SCHEDULE_FLAGS = SETTING_NAMES
#: What an optional setting's flag takes for "no value" (``--start-resampling-at none``).
NONE = "none"


def _flag_type(row: Setting) -> Callable[[str], Any]:
    """The argparse type of a setting's flag: its type, its lowest value, and ``none`` where it is optional."""
    number: Callable[[str], Any] = int_at_least(int(row.low)) if row.type is int else number_flag

    def parse(text: str) -> Any:
        return NONE if text.strip().lower() == NONE else number(text)

    parse.__name__ = row.type.__name__  # argparse names the type in its refusal ("invalid float value")
    return parse if row.optional else number


def _text(value: int | float | None) -> str:
    """A setting's value as its flag's argument, read back to the same value."""
    if value is None:
        return NONE
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def add_schedule_flags(parser: argparse.ArgumentParser, defaults_from: str) -> None:
    """The schedule flags, one per setting of the table (``--t-T``, ``--jump-length``, ...), in a group of their own.

    Args:
        parser: the command's parser.
        defaults_from: where unset flags take their values from, for the help text.
    """
    group = parser.add_argument_group(
        "schedule", f"time-travel schedule; every flag left unset takes its value from {defaults_from}, "
                    "and when --t-T differs from it, the jump length and the stop keep their proportion of t_T"
    )
    for row in SETTINGS:
        group.add_argument(row.flag, dest=row.name, type=_flag_type(row), metavar=row.metavar, help=row.flag_help())
    kinds = group.add_mutually_exclusive_group()
    kinds.add_argument("--schedule", choices=["auto"], default=None,
                       help="auto: plan the schedule for each mask (ipainter_nb.plan_schedule: strided walk, low window, "
                            "short jumps, eta); " + ", ".join(r.flag for r in SETTINGS if not r.planned) + " still apply")
    kinds.add_argument("--no-resampling", action="store_true",
                       help="plain descent: no jumps (" + ", ".join(r.flag for r in SETTINGS if not r.resampling)
                            + " still apply)")
    kinds.add_argument("--full-repaint", action="store_true", help="RePaint's schedule: resample down to t=0")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings whose flags were given, by name (``none`` read as None)."""
    values = {row.name: getattr(args, row.name, None) for row in SETTINGS}
    return {name: None if value == NONE else value for name, value in values.items() if value is not None}


def schedule_from_args(args: argparse.Namespace, base: ScheduleConfig, source: str = "the model's default schedule") -> ScheduleConfig:
    """The schedule the flags ask for; unset values come from ``base`` (scaled to ``--t-T`` when it is given).

    This is the one place where schedule flags become a ``ScheduleConfig``: it only checks
    and computes, it writes nothing.

    Args:
        args: the parsed flags (those of ``add_schedule_flags``).
        base: the schedule unset flags come from (the model's default).
        source: where ``base`` came from, in words, for messages.

    Returns:
        The schedule.

    Raises:
        UserInputError: a schedule that cannot run (a stop above ``--t-T``, a jump longer than the walk, ...).
    """
    given = _given(args)
    if getattr(args, "no_resampling", False):
        extra = [row.flag for row in SETTINGS if row.resampling and row.name in given]
        if extra:
            raise UserInputError("--no-resampling takes no " + ", ".join(extra) + ": drop them")
        given["jump_n_sample"] = 1
    if getattr(args, "full_repaint", False):
        if "stop_resampling_at" in given or "start_resampling_at" in given:
            raise UserInputError("--full-repaint resamples everywhere: drop --stop-resampling-at / --start-resampling-at "
                                 "(or drop --full-repaint)")
        given["stop_resampling_at"] = given["start_resampling_at"] = None
    if "t_T" in given and given["t_T"] != base.t_T:
        base = ScheduleConfig.for_t_T(given["t_T"], like=base)
        source = f"{source}, scaled to --t-T {given['t_T']}"
    values = base.to_dict() | given
    if values == base.to_dict():
        return base  # keeps what for_t_T says it scaled
    asked_for_jumps = [row.flag for row in SETTINGS if row.name in given and row.resampling and row.name != "jump_n_sample"]
    if values["jump_n_sample"] == 1 and asked_for_jumps and "jump_n_sample" not in given:
        raise UserInputError(f"{source} does not resample (jump_n_sample 1), so "
                             f"{', '.join(asked_for_jumps)} changes nothing: add --jump-n-sample R")
    try:
        return ScheduleConfig(**values)
    except (TypeError, ValueError) as exc:
        inherited = [f"{row.flag} {_text(values[row.name])}" for row in SETTINGS
                     if row.name not in given and values[row.name] is not None]
        hint = f" ({', '.join(inherited)} came from {source}; set them explicitly)" if inherited else ""
        raise UserInputError(f"{exc}{hint}") from None


def flags_of(cfg: ScheduleConfig) -> str:
    """The flags that reproduce ``cfg`` whatever the command's default schedule, for logs a user can copy.

    Every setting is written (``none`` for an unset one): a flag left out would take the
    model's default, which may differ.

    Args:
        cfg: the schedule.

    Returns:
        The flags, e.g. ``--t-T 250 --jump-length 10 ... --repeat-ramp 0``.
    """
    values = cfg.to_dict()
    return " ".join(f"{row.flag} {_text(values[row.name])}" for row in SETTINGS)


def auto_schedule(args: argparse.Namespace, model: Any, keep: torch.Tensor | None) -> ScheduleConfig:
    """``--schedule auto``: the plan for this mask (``keep``; None: a typical hole).

    Args:
        args: the parsed flags (``--t-T`` and ``--eta`` go to the planner; other schedule
            flags are refused).
        model: the model the plan is for (a ``DiffusionModel``).
        keep: the mask, 1 = keep, or None for a typical hole.

    Returns:
        The planned ``ScheduleConfig``.

    Raises:
        UserInputError: schedule flags the planner chooses itself, or an ``--eta`` outside 0..1.
    """
    given = _given(args)
    chosen = [row.flag for row in SETTINGS if row.planned and row.name in given]
    if chosen:
        raise UserInputError(f"--schedule auto chooses {', '.join(chosen)} itself: drop them (or drop --schedule auto)")
    return plan_schedule(model, keep, t_T=given.get("t_T"), eta=given.get("eta"))


public_names(globals())  # after every public definition
