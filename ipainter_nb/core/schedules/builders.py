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

from typing import Literal

from ...errors import UserInputError
from ...public import public_names
from .settings import (
    PAPER_JUMP_LENGTH,
    PAPER_JUMP_N_SAMPLE,
    PAPER_STOP_RESAMPLING_AT,
    PAPER_T_T,
    check_setting,
    check_settings,
)
from .times import count_nfe, count_steps, resampling_window, validate_times

__all__ = [
    "ScheduleKind",
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
]

ScheduleKind = Literal["plain", "repaint", "truncated", "window"]

#: The longest schedule built (transitions). Full RePaint over 1000 steps with 20 repeats is
#: about 40 000; the bound stops a typo (``jump_n_sample=10**9``) from filling the memory.
MAX_SCHEDULE_STEPS = 1_000_000


# --------------------------------------------------------------------------- validation


def check_jumps(
    t_T: object,
    jump_length: object,
    jump_n_sample: object,
    stop_resampling_at: object = None,
    start_resampling_at: object = None,
    stride: object = 1,
) -> dict[str, int | None]:
    """The settings of a jump schedule checked: each range (:func:`check_settings`), the
    window's order (stop below start) and the schedule's length.

    Args:
        t_T: levels walked.
        jump_length: steps travelled back up per jump.
        jump_n_sample: times each stretch is denoised.
        stop_resampling_at: no jump starts below this.
        start_resampling_at: no jump starts above this.
        stride: levels per model call of the walk above the jumps.

    Returns:
        The checked values by name.

    Raises:
        UserInputError: the first rule broken, naming the value and the range.
    """
    values = _checked_settings(t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at, stride)
    check_length(values["t_T"], values["jump_length"], values["jump_n_sample"], values["stop_resampling_at"],
                 values["start_resampling_at"])
    return values


def _checked_settings(t_T: object, jump_length: object, jump_n_sample: object, stop_resampling_at: object,
                      start_resampling_at: object, stride: object = 1) -> dict[str, int | None]:
    """Each setting's range and the window's order checked (the schedule's length is not)."""
    values = check_settings(dict(t_T=t_T, jump_length=jump_length, jump_n_sample=jump_n_sample,
                                 stop_resampling_at=stop_resampling_at, start_resampling_at=start_resampling_at,
                                 stride=stride))
    stop, start = values["stop_resampling_at"], values["start_resampling_at"]
    if stop is not None and start is not None and start < stop:
        raise UserInputError(
            f"start_resampling_at={start} is below stop_resampling_at={stop}: the window of "
            "resampling runs from the stop (low t) up to the start (high t); swap them"
        )
    return values  # type: ignore[return-value]


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
    """How many transitions ``repaint(...)`` with these settings has, computed without building it (so a
    schedule too long to build can be measured).

    Args:
        t_T: levels walked.
        jump_length: steps travelled back up per jump.
        jump_n_sample: times each stretch is denoised.
        stop_resampling_at: no jump starts below this.
        start_resampling_at: no jump starts above this.
    """
    v = _checked_settings(t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at)
    return _steps_of(v["t_T"], v["jump_length"], v["jump_n_sample"], v["stop_resampling_at"], v["start_resampling_at"])


def _steps_of(t_T: int, jump_length: int, jump_n_sample: int, stop_resampling_at: int | None,
              start_resampling_at: int | None) -> int:
    """:func:`planned_steps` on checked settings."""
    if jump_n_sample <= 1 or t_T <= 1:
        return t_T
    starts = _count_jump_starts(t_T, jump_length, stop_resampling_at, start_resampling_at)
    return t_T + starts * (jump_n_sample - 1) * 2 * jump_length


def check_length(t_T: int, jump_length: int, jump_n_sample: int, stop: int | None, start: int | None) -> None:
    """Refuse a schedule longer than :data:`MAX_SCHEDULE_STEPS` (a typo such as ``jump_n_sample=10**9``).

    Args:
        t_T: levels walked.
        jump_length: steps travelled back up per jump.
        jump_n_sample: times each stretch is denoised.
        stop: no jump starts below this.
        start: no jump starts above this.

    Raises:
        UserInputError: the schedule's length and the limit.
    """
    steps = _steps_of(t_T, jump_length, jump_n_sample, stop, start)
    if steps > MAX_SCHEDULE_STEPS:
        settings = f"t_T={t_T}" if jump_n_sample <= 1 else f"t_T={t_T}, jump_length={jump_length}, jump_n_sample={jump_n_sample}"
        raise UserInputError(
            f"{settings} make a schedule of {steps:,} steps, "
            f"more than the limit of {MAX_SCHEDULE_STEPS:,}: lower jump_n_sample or t_T (the paper: 250 steps, 10 x 10 jumps)"
        )


def check_eta(eta: object) -> float:
    """``eta`` checked: ``check_setting("eta", eta)``, the one check of its range.

    Args:
        eta: the reverse steps' stochasticity: 1 = DDPM steps, 0 = deterministic DDIM steps.

    Returns:
        The value as a float in [0, 1].

    Raises:
        UserInputError: not a real number, or outside [0, 1].
    """
    return check_setting("eta", eta)  # type: ignore[return-value]


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
    values = check_settings({"t_T": t_T, "stride": stride})
    check_length(values["t_T"], 1, 1, None, None)
    return _walk(values["t_T"], values["stride"], 1, 1, set())


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
    # checked as the jumps of a resampling schedule (two passes), whose jump_length must stay below t_T
    v = check_jumps(t_T, jump_length, 2, stop_resampling_at, start_resampling_at)
    return _jump_starts(v["t_T"], v["jump_length"], v["stop_resampling_at"], v["start_resampling_at"])


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
    v = check_jumps(t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at, stride)
    starts = set(_jump_starts(v["t_T"], v["jump_length"], v["stop_resampling_at"], v["start_resampling_at"]))
    return _walk(v["t_T"], v["stride"], v["jump_length"], v["jump_n_sample"], starts)


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


public_names(globals())  # after every public definition
