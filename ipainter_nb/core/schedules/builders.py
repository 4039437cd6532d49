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
from .times import _check_t_T, _require_int, _require_number_in, count_nfe, count_steps, resampling_window, validate_times

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
    checked = _check_settings(t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at)
    _check_length(*checked)
    return checked


def _check_settings(t_T: object, jump_length: object, jump_n_sample: object, stop_resampling_at: object,
                    start_resampling_at: object) -> tuple[int, int, int, int | None, int | None]:
    """Each setting checked on its own and against t_T (the schedule's length is not)."""
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
    """How many transitions ``repaint(...)`` with these settings has, computed without building it (so a
    schedule too long to build can be measured).

    Args:
        t_T: levels walked.
        jump_length: steps travelled back up per jump.
        jump_n_sample: times each stretch is denoised.
        stop_resampling_at: no jump starts below this.
        start_resampling_at: no jump starts above this.
    """
    return _steps_of(*_check_settings(t_T, jump_length, jump_n_sample, stop_resampling_at, start_resampling_at))


def _steps_of(t_T: int, jump_length: int, jump_n_sample: int, stop_resampling_at: int | None,
              start_resampling_at: int | None) -> int:
    """:func:`planned_steps` on checked settings."""
    if jump_n_sample <= 1 or t_T <= 1:
        return t_T
    starts = _count_jump_starts(t_T, jump_length, stop_resampling_at, start_resampling_at)
    return t_T + starts * (jump_n_sample - 1) * 2 * jump_length


def _check_length(t_T: int, jump_length: int, jump_n_sample: int, stop: int | None, start: int | None) -> None:
    steps = _steps_of(t_T, jump_length, jump_n_sample, stop, start)
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
