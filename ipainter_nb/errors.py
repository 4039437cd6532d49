"""The project's error types: every error a user can cause derives from ``IPainterError``.

The CLI turns these (and the expected OS errors: permission, missing file, no space) into
one line with a hint; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["IPainterError", "UserInputError", "ArgumentNameError", "RunFailedError"]


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
