"""The project's error types: every error a user can cause derives from ``IPainterError``.

The CLI turns these (and the expected OS errors: permission, missing file, no space) into
one line with a hint; anything else is a bug and keeps its traceback. ``warn_caller`` is the
one way the library warns: at the caller's line, however deep inside the package it is said.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings

__all__ = ["IPainterError", "UserInputError", "ArgumentNameError", "RunFailedError", "warn_caller"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# the standard library's plumbing between the package and the user (``with comp.batch():`` ends in contextlib)
_PLUMBING = {contextlib.__file__, functools.__file__}


class IPainterError(Exception):
    """Base of the errors a user can cause; the message names the problem and the fix."""


class UserInputError(IPainterError, ValueError):
    """An argument, file or setting that cannot be used as given."""


class RunFailedError(IPainterError):
    """The work ran as asked and failed (a download that never arrived, a training whose loss became NaN):
    not the user's input, so the command ends with 1, as for a full disk, not 2."""


class ArgumentNameError(UserInputError, TypeError):
    """A call with an argument the function does not take (a misspelt keyword, one positional too many) or
    without one it needs; a ``TypeError`` too, as Python's own refusal of such a call is."""


def warn_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the first line outside the package: the user's call, not the library's
    helpers or wrappers, whose depth a fixed ``stacklevel`` would have to know.

    Args:
        message: the warning's text.
        category: its class.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE_DIR) or frame.f_code.co_filename in _PLUMBING):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level - 1 if frame is None else level)
