"""The schedule topic: which diffusion times a sampler visits, and how they are chosen.

* ``builders``: the list-of-times builders (:func:`plain`, :func:`repaint`, the jump points);
* ``times``: reading a list of times (model calls, the resampling window, validity);
* ``grid``: a window walked on a grid of levels spaced in log t (``window_levels``, ``repeat_ramp``);
* ``config``: :class:`ScheduleConfig`, every knob as one value that saves to a dict;
* ``rule``: :func:`frequency_schedule`, the window from the band SNR of the hole's scale;
* ``plan``: :func:`plan_schedule`, a whole schedule planned for a mask.

Everything public is importable from here (``ipainter_nb.core.schedules.repaint``,
``ip.schedules.repaint``).
"""

from .builders import (
    MAX_SCHEDULE_STEPS,
    PAPER_JUMP_LENGTH,
    PAPER_JUMP_N_SAMPLE,
    PAPER_STOP_RESAMPLING_AT,
    PAPER_T_T,
    ScheduleKind,
    check_eta,
    jump_points,
    plain,
    planned_steps,
    repaint,
)
from .config import ScheduleConfig
from .grid import MAX_REPEAT_RAMP, check_repeat_ramp, grid_window, jump_within_grid, stretch_repeats, window_grid
from .plan import PLAN_TARGETS, PlanShape, PlanTarget, clear_plan_cache, plan_schedule, surrogate_of
from .rule import frequency_schedule
from .times import count_nfe, count_steps, resampling_window, validate_times

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
    "jump_within_grid",
    "stretch_repeats",
    "frequency_schedule",
    "plan_schedule",
    "PlanShape",
    "PlanTarget",
    "PLAN_TARGETS",
    "clear_plan_cache",
    "surrogate_of",
]
