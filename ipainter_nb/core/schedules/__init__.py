"""The schedule topic: which diffusion times a sampler visits, and how they are chosen.

* ``settings``: :data:`SETTINGS`, every setting declared once (type, default, range, flag, label),
  and :func:`check_settings`, the one check of their ranges;
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
    ScheduleKind,
    check_eta,
    check_jumps,
    check_length,
    jump_points,
    plain,
    planned_steps,
    repaint,
)
from .config import ScheduleConfig
from .grid import MAX_REPEAT_RAMP, check_repeat_ramp, grid_window, jump_within_grid, stretch_repeats, window_grid
from .plan import PLAN_TARGETS, PlanShape, PlanTarget, clear_plan_cache, plan_schedule, surrogate_of
from .rule import frequency_schedule
from .settings import (
    AUTO,
    PAPER_JUMP_LENGTH,
    PAPER_JUMP_N_SAMPLE,
    PAPER_STOP_RESAMPLING_AT,
    PAPER_T_T,
    SETTING_NAMES,
    SETTINGS,
    Setting,
    check_setting,
    check_settings,
    setting,
)
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
    "check_jumps",
    "check_length",
    "Setting",
    "SETTINGS",
    "SETTING_NAMES",
    "AUTO",
    "setting",
    "check_setting",
    "check_settings",
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
