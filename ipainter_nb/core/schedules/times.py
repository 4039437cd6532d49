"""Reading a schedule's list of times: its model calls, its resampling window, its validity.

A schedule is the list of times the sampler visits, ending at -1: a step to a lower time is
one model call, a step to a higher one a jump back (forward noise). These functions take
such a list from anywhere (``schedules.repaint``, a ``ScheduleConfig``, a user's own list);
``ipainter_nb.core.schedules`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ...errors import UserInputError
from ...public import public_names
from .settings import check_setting

__all__ = ["count_steps", "count_nfe", "resampling_window", "validate_times"]


def count_steps(times: Sequence[int], direction: Literal["down", "up"] | None = None) -> int:
    """Number of transitions in ``times``: all of them, or only ``"down"``/``"up"`` ones.

    Args:
        times: a schedule's times.
        direction: ``down``, ``up`` or None for all.
    """
    if direction not in (None, "down", "up"):
        raise UserInputError(f"direction={direction!r} is invalid: use 'down', 'up' or None")
    times = validate_times(times)
    n = 0
    for t_last, t_cur in zip(times, times[1:]):
        if direction is None or (direction == "down") == (t_cur < t_last):
            n += 1
    return n


def count_nfe(times: Sequence[int]) -> int:
    """Number of model calls (network function evaluations): the down steps of ``times``.

    Args:
        times: a schedule's times.
    """
    return count_steps(times, "down")


def resampling_window(times: Sequence[int]) -> tuple[int, int] | None:
    """The range of t where resampling happens, or ``None`` for a schedule without jumps.

    It is the range the up steps cover: from the lowest time a jump starts at to the
    highest time a jump reaches. Every figure that shades "resampling" uses this.

    >>> from ipainter_nb.core.schedules import repaint
    >>> resampling_window(repaint(250, 10, 10, stop_resampling_at=100))
    (100, 240)

    Args:
        times: a schedule's times.
    """
    times = validate_times(times)
    ups = [(t_last, t_cur) for t_last, t_cur in zip(times, times[1:]) if t_cur > t_last]
    if not ups:
        return None
    return min(a for a, _ in ups), max(b for _, b in ups)


def _valid_at_once(seq: list, t_T: object) -> list[int] | None:
    """``seq`` as ints if every rule holds, checked with whole-array operations (the common case,
    cheap enough for every count); None when a rule may be broken (the element loop then names it)."""
    if not seq or (t_T is not None and (isinstance(t_T, bool) or not isinstance(t_T, int))):
        return None
    if set(map(type, seq)) != {int}:  # bools, floats, numpy ints: the loop decides
        return None
    try:
        ints = np.array(seq, dtype=np.int64)
    except OverflowError:
        return None
    top = ints[0] if t_T is None else t_T - 1
    steps = np.diff(ints)
    if top < 0 or ints[0] != top or ints.max() > top or ints[-1] != -1 or (ints[:-1] < 0).any() or (steps == 0).any():
        return None
    return seq


def validate_times(times: Sequence[int], t_T: int | None = None) -> list[int]:
    """Check a user-supplied schedule and return it as a list of ints.

    Rules: non-empty; integers only; starts at ``t_T - 1`` (``t_T`` defaults to
    ``times[0] + 1``); never above ``t_T - 1``; ends at ``-1`` and reaches ``-1`` only
    there; consecutive times differ (a step of more than one level is a strided step).
    Errors name the index of the first bad element.

    Args:
        times: the levels visited.
        t_T: the number of respaced levels (default ``times[0] + 1``).

    Returns:
        The schedule as a list of ints.

    Raises:
        UserInputError: the first rule broken, naming the index.
    """
    try:
        if isinstance(times, (str, bytes)):
            raise TypeError
        seq = list(times)  # a 0-d array or tensor has __iter__ and refuses it
    except TypeError:
        raise UserInputError(f"times must be a list of ints ending at -1 (e.g. schedules.plain(t_T)), "
                             f"got {type(times).__name__} {times!r:.60}") from None
    checked = _valid_at_once(seq, t_T)
    if checked is not None:
        return checked
    if not seq:
        raise UserInputError("times is empty: a schedule needs at least [t_T - 1, ..., -1], e.g. schedules.plain(t_T)")
    out: list[int] = []
    for i, t in enumerate(seq):
        if isinstance(t, bool):
            raise UserInputError(f"times[{i}]={t!r} is not an int")
        try:
            ti = int(t)
        except (TypeError, ValueError):
            raise UserInputError(f"times[{i}]={t!r} is not an int") from None
        if ti != t:
            raise UserInputError(f"times[{i}]={t!r} is not an int")
        out.append(ti)
    t_T = check_setting("t_T", out[0] + 1 if t_T is None else t_T)
    if out[0] != t_T - 1:
        raise UserInputError(f"times[0]={out[0]} must be t_T - 1 = {t_T - 1}")
    for i, t in enumerate(out):
        if t > t_T - 1:
            raise UserInputError(f"times[{i}]={t} is above t_T - 1 = {t_T - 1}")
        if t < -1:
            raise UserInputError(f"times[{i}]={t} is below -1")
        if t == -1 and i != len(out) - 1:
            raise UserInputError(f"times[{i}]=-1 before the end: -1 (the clean image) must come last")
        if i > 0 and t == out[i - 1]:
            raise UserInputError(f"times[{i}]={t} repeats times[{i - 1}]: every step must go down (a model call) or up "
                                 "(forward noise)")
    if out[-1] != -1:
        raise UserInputError(f"times[{len(out) - 1}]={out[-1]}: a schedule must end at -1")
    return out


public_names(globals())  # after every public definition
