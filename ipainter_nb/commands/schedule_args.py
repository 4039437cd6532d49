"""The schedule flags of ``paint`` and ``schedule``, and the ``ScheduleConfig`` they build.

``schedule_from_args`` is the one function that turns the flags into a schedule (flags left
unset come from the model's default schedule, scaled when ``--t-T`` differs); new schedule
flags go here.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from ..checks import int_at_least
from ..core.schedules import ScheduleConfig
from ..core.schedules.plan import plan_schedule
from ..errors import UserInputError

__all__ = ["SCHEDULE_FLAGS", "add_schedule_flags", "schedule_from_args", "flags_of", "auto_schedule"]

SCHEDULE_FLAGS = ("t_T", "jump_length", "jump_n_sample", "stop_resampling_at", "start_resampling_at", "eta", "stride",
                  "window_levels", "repeat_ramp")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_schedule_flags(parser: argparse.ArgumentParser, defaults_from: str) -> None:
    """The schedule flags (``--t-T``, ``--jump-length``, ...), in a group of their own.

    Args:
        parser: the command's parser.
        defaults_from: where unset flags take their values from, for the help text.
    """
    group = parser.add_argument_group(
        "schedule", f"time-travel schedule; every flag left unset takes its value from {defaults_from}, "
                    "and when --t-T differs from it, the jump length and the stop keep their proportion of t_T"
    )
    group.add_argument("--t-T", dest="t_T", type=int_at_least(1), metavar="N", help="respaced diffusion steps (paper: 250)")
    group.add_argument("--jump-length", type=int_at_least(1), metavar="J", help="steps travelled back up on each jump (paper: 10)")
    group.add_argument("--jump-n-sample", type=int_at_least(1), metavar="R",
                       help="times each stretch is denoised; 1 = no resampling (paper: 10)")
    group.add_argument("--stop-resampling-at", type=int_at_least(0), metavar="S", help="no jump starts below this t (paper: 100)")
    group.add_argument("--start-resampling-at", type=int_at_least(0), metavar="U",
                       help="no jump starts above this t (default: no upper limit)")
    group.add_argument("--eta", type=float, metavar="ETA",
                       help="stochasticity of the down steps, 0..1: 1 = DDPM steps (paper), 0 = deterministic DDIM steps")
    group.add_argument("--stride", type=int_at_least(1), metavar="K",
                       help="levels skipped per model call above the resampling (a strided walk; default 1)")
    group.add_argument("--window-levels", type=int_at_least(2), metavar="L",
                       help="walk the window 0..--start-resampling-at on L levels spaced in log t, jumps counted in "
                            "grid levels (default: every level)")
    group.add_argument("--repeat-ramp", type=float, metavar="P",
                       help="on a --window-levels grid, the repeats grow up the window: the stretch ending at grid "
                            "level k of n is denoised R*(k/n)^P times, 0..3 (default 0: every stretch R times)")
    kinds = group.add_mutually_exclusive_group()
    kinds.add_argument("--schedule", choices=["auto"], default=None,
                       help="auto: plan the schedule for each mask (ipainter_nb.plan_schedule: strided walk, low window, "
                            "short jumps, eta); --t-T and --eta still apply")
    kinds.add_argument("--no-resampling", action="store_true", help="plain descent: t_T model calls, no jumps")
    kinds.add_argument("--full-repaint", action="store_true", help="RePaint's schedule: resample down to t=0")


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
    given = {k: getattr(args, k) for k in SCHEDULE_FLAGS if getattr(args, k, None) is not None}
    if getattr(args, "no_resampling", False):
        extra = sorted(set(given) - {"t_T"})
        if extra:
            raise UserInputError("--no-resampling takes no " + ", ".join(_flag(k) for k in extra) + ": drop them")
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
    asked_for_jumps = given.keys() & {"jump_length", "stop_resampling_at", "start_resampling_at"}
    if values["jump_n_sample"] == 1 and asked_for_jumps and "jump_n_sample" not in given:
        raise UserInputError(f"{source} does not resample (jump_n_sample 1), so "
                             f"{', '.join(_flag(k) for k in sorted(asked_for_jumps))} changes nothing: add --jump-n-sample R")
    try:
        return ScheduleConfig(**values)
    except (TypeError, ValueError) as exc:
        inherited = [f"{_flag(k)} {values[k]}" for k in SCHEDULE_FLAGS if k not in given and values[k] is not None]
        hint = f" ({', '.join(inherited)} came from {source}; set them explicitly)" if inherited else ""
        raise UserInputError(f"{exc}{hint}") from None


def flags_of(cfg: ScheduleConfig) -> str:
    """The flags that reproduce ``cfg``, for logs a user can copy.

    Args:
        cfg: the schedule.
    """
    if cfg.kind == "plain":
        return f"--t-T {cfg.t_T} --no-resampling" + _step_flags(cfg)
    flags = f"--t-T {cfg.t_T} --jump-length {cfg.jump_length} --jump-n-sample {cfg.jump_n_sample}"
    if cfg.stop_resampling_at is not None:
        flags += f" --stop-resampling-at {cfg.stop_resampling_at}"
    elif cfg.start_resampling_at is None:
        flags += " --full-repaint"
    if cfg.start_resampling_at is not None:
        flags += f" --start-resampling-at {cfg.start_resampling_at}"
    return flags + _step_flags(cfg)


def _step_flags(cfg: ScheduleConfig) -> str:
    return ((f" --eta {cfg.eta:g}" if cfg.eta != 1 else "") + (f" --stride {cfg.stride}" if cfg.stride != 1 else "")
            + (f" --window-levels {cfg.window_levels}" if cfg.window_levels is not None and cfg.kind != "plain" else "")
            + (f" --repeat-ramp {cfg.repeat_ramp:g}" if cfg.repeat_ramp and cfg.kind != "plain" else ""))


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
    chosen = [k for k in ("jump_length", "jump_n_sample", "stop_resampling_at", "start_resampling_at", "stride",
                          "window_levels", "repeat_ramp")
              if getattr(args, k, None) is not None]
    if chosen:
        raise UserInputError(f"--schedule auto chooses {', '.join(_flag(k) for k in chosen)} itself: drop them "
                             "(or drop --schedule auto)")
    return plan_schedule(model, keep, t_T=getattr(args, "t_T", None), eta=getattr(args, "eta", None))
