"""A resampling window walked on a grid of levels spaced evenly in ``log(t + 1)``.

Walked level by level, a window ``0..u`` costs model calls in proportion to ``u``, and ``u``
grows with the picture and the hole (the hole's band drowns later in a bigger picture). On a
grid the cost stays put: every level near 0, where the seam is decided, and a few far apart
higher up, where each level changes the picture little. ``ScheduleConfig(window_levels=...)``
builds its times here.

On a grid the repeats can also **ramp** (``repeat_ramp``): a stretch high in the window is
denoised more often than one near 0. The coarse modes of a hole are still being mixed high
in the window, while the fine ones near 0 settle in a few passes, so a ramp spends the same
calls where mixing is slow (:func:`stretch_repeats`).
"""

from __future__ import annotations

from ...errors import UserInputError
from ...public import public_names
from ..arguments import check_whole
from .builders import MAX_SCHEDULE_STEPS
from .settings import MAX_REPEAT_RAMP, check_setting

__all__ = ["window_grid", "grid_window", "jump_within_grid", "stretch_repeats", "check_repeat_ramp", "MAX_REPEAT_RAMP"]

def window_grid(start: int, levels: int) -> list[int]:
    """The levels ``0..start`` a grid window visits: ``levels`` of them spaced evenly in ``log(t + 1)``
    (fewer where two would round to the same level), ascending, always 0 and ``start``.

    Args:
        start: the top of the window.
        levels: how many levels at most.

    >>> window_grid(60, 6), window_grid(3, 10)
    ([0, 1, 4, 11, 26, 60], [0, 1, 2, 3])
    """
    start = check_whole("start", start, 0, MAX_SCHEDULE_STEPS)
    levels = check_whole("levels", levels, 1, MAX_SCHEDULE_STEPS)
    if levels < 2 or start < 1:
        return sorted({0, max(start, 0)})
    grid = {round((start + 1) ** (i / (levels - 1))) - 1 for i in range(levels)}
    return sorted(grid | {0, start})


def jump_within_grid(jump_length: int, start: int, levels: int) -> int:
    """``jump_length`` (grid levels) shortened, if need be, so that a jump fits the window's grid.

    Args:
        jump_length: the wanted jump, in grid levels.
        start: the top of the window.
        levels: grid levels at most.
    """
    jump_length = check_whole("jump_length", jump_length, 1)
    return max(1, min(jump_length, len(window_grid(start, levels)) - 1))


def stretch_repeats(jump_n_sample: int, top: int, grid_top: int, repeat_ramp: float = 0.0) -> int:
    """Times the grid stretch that ends (above) at grid level ``top`` is denoised:
    ``jump_n_sample * (top / grid_top) ** repeat_ramp``, rounded, at least once.

    Args:
        jump_n_sample: the repeats of the highest stretch (of every stretch when the ramp is 0).
        top: the stretch's upper grid level (1..``grid_top``).
        grid_top: the highest grid level (the grid's length minus one).
        repeat_ramp: how fast the repeats grow with the level: 0 = all the same (RePaint), 1 =
            in proportion to it.

    >>> [stretch_repeats(12, k, 4, 1.0) for k in (1, 2, 3, 4)], stretch_repeats(12, 1, 4)
    ([3, 6, 9, 12], 12)
    """
    jump_n_sample = check_whole("jump_n_sample", jump_n_sample, 1, MAX_SCHEDULE_STEPS)
    grid_top = check_whole("grid_top", grid_top, 1, MAX_SCHEDULE_STEPS)
    top = check_whole("top", top, 1)
    repeat_ramp = check_setting("repeat_ramp", repeat_ramp)
    return max(1, round(jump_n_sample * (top / grid_top) ** repeat_ramp))


def check_repeat_ramp(ramp: object, window_levels: int | None) -> float:
    """``repeat_ramp`` as a float, or a ``UserInputError`` naming the value and the range.

    Args:
        ramp: how the repeats grow up a grid window (0: every stretch the same).
        window_levels: the config's grid; a ramp needs one.

    Returns:
        The value as a float in [0, :data:`MAX_REPEAT_RAMP`].

    Raises:
        UserInputError: not a real number, outside the range, or a ramp without a grid.
    """
    value = check_setting("repeat_ramp", ramp)
    if value and window_levels is None:
        raise UserInputError(f"repeat_ramp={ramp!r} needs a grid window: set window_levels (the ramp counts grid "
                             "levels), or leave repeat_ramp at 0")
    return value


def grid_window(t_T: int, jump_length: int, jump_n_sample: int, start: int, levels: int, stride: int = 1,
                repeat_ramp: float = 0.0) -> list[int]:
    """A window schedule walked on :func:`window_grid`: strided down to ``start``, then level by
    level of the grid; at every ``jump_length``-th grid level (counting from 0) the sampler
    jumps back up ``jump_length`` grid levels and walks down again, until the stretch has been
    denoised :func:`stretch_repeats` times (``jump_n_sample`` without a ramp).

    Args:
        t_T: number of respaced levels; the walk starts at ``t_T - 1``.
        jump_length: grid levels travelled back up per jump.
        jump_n_sample: times each stretch is denoised (the highest one, with a ramp).
        start: the top of the window (``start_resampling_at``).
        levels: grid levels at most (``window_levels``).
        stride: levels per model call of the walk above the window.
        repeat_ramp: how the repeats grow up the window (:func:`stretch_repeats`; 0: none).

    Returns:
        The times visited, ending at ``-1``.

    >>> grid_window(10, 1, 2, 3, 3)
    [9, 8, 7, 6, 5, 4, 3, 1, 3, 1, 0, 1, 0, -1]
    """
    t_T = check_setting("t_T", t_T)
    start = check_whole("start", start, 0, t_T)
    stride = check_whole("stride", stride, 1, t_T + 1)
    jump_length = check_whole("jump_length", jump_length, 1)
    grid = window_grid(start, levels)
    top = len(grid) - 1
    starts = [i for i in range(top, -1, -1) if i % jump_length == 0 and i + jump_length <= top]
    # measured before it is built: a typo in the repeats must not fill the memory
    steps = (t_T - 1 - start) // stride + top + 2 + sum(
        (stretch_repeats(jump_n_sample, i + jump_length, top, repeat_ramp) - 1) * (jump_length + 1) for i in starts)
    if steps > MAX_SCHEDULE_STEPS:
        raise UserInputError(f"this grid window makes a schedule of {steps:,} steps, more than the limit of "
                             f"{MAX_SCHEDULE_STEPS:,}: lower jump_n_sample, jump_length or levels")
    times = list(range(t_T - 1, start, -stride))
    for i in range(top, -1, -1):
        times.append(grid[i])
        if i % jump_length == 0 and i + jump_length <= top:
            for _ in range(stretch_repeats(jump_n_sample, i + jump_length, top, repeat_ramp) - 1):
                # one jump back (forward noise), then down the grid again
                times.extend(grid[i:i + jump_length + 1][::-1])
    times.append(-1)
    return times


public_names(globals())  # after every public definition
