"""A whole-number field that says what it does with text it cannot use as typed.

A browser's number field clamps an out-of-range number and puts back the old value of an
emptied field without a word; ``WholeNumberField`` reads the text in the kernel instead:
``number`` (a trait) is the number in use, and ``note`` says, until the text is a number in
range again, why it is not the text as typed (``messages.read_whole_number``'s words).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W
from traitlets import Int, Unicode, observe

from ipainter_nb.widgets.messages import read_whole_number

__all__ = ["WholeNumberField"]


class WholeNumberField(W.Text):
    """A text field holding a whole number from ``lowest`` to ``highest``.

    Args:
        description: the field's label (and its name in notes).
        lowest: the smallest number allowed.
        highest: the largest number allowed.
        value: the number shown first.
        **kwargs: passed to ``ipywidgets.Text`` (``layout``, ``style``).

    Every keystroke is read (``continuous_update``): an out-of-range number is replaced by
    the nearest allowed one at once; an empty field or a non-number is left as typed (the
    user may be retyping) and ``number`` keeps its value.
    """

    number = Int(help="the number in use")
    note = Unicode("", help="why the number in use is not the text as typed; '' when it is")

    def __init__(self, description: str, lowest: int, highest: int, value: int, **kwargs: Any) -> None:
        self.lowest, self.highest = int(lowest), int(highest)
        self._syncing = True  # the text and the number are set together here
        super().__init__(value=str(value), description=description, continuous_update=True, number=int(value),
                         **kwargs)
        self._syncing = False

    @observe("value")
    def _on_text(self, change: Mapping[str, Any]) -> None:
        if self._syncing:
            return
        number, note = read_whole_number(change["new"], self.description, self.lowest, self.highest, self.number)
        self._syncing = True
        try:
            if note and _is_whole_number(change["new"]):
                self.value = str(number)  # out of range: the field shows the number in use
            self.number = number
        finally:
            self._syncing = False
        self.note = note

    @observe("number")
    def _on_number(self, change: Mapping[str, Any]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.value = str(change["new"])
        finally:
            self._syncing = False
        self.note = ""


def _is_whole_number(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True
