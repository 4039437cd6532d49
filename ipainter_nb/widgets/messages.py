"""How the Painter's widgets word and colour their one-line messages, and ``StatusLines``, the
status and error lines its components speak through."""

from __future__ import annotations

import html

import ipywidgets as W
from traitlets import HasTraits, Unicode

__all__ = ["COLORS", "first_line", "message_html", "error_html", "read_whole_number", "StatusLines"]

COLORS = {"info": "#555", "ok": "#2e7d32", "warning": "#b26a00", "error": "#c62828"}


def first_line(exc: BaseException) -> str:
    """An exception's message as one line (the core's messages say the problem and the fix on it).

    Args:
        exc: the exception to describe.

    Returns:
        The first line of ``str(exc)``, or the exception's class name when it has no message.
    """
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def message_html(text: str, level: str = "info", small: bool = False) -> str:
    """``text`` escaped and coloured for ``level`` (info, ok, warning, error); long words
    (paths) break instead of widening the cell.

    Args:
        text: the plain-text message (HTML-escaped here).
        level: one of ``COLORS``' keys: ``"info"``, ``"ok"``, ``"warning"``, ``"error"``.
        small: wrap it in ``<small>`` (notes beside a button) instead of ``<span>``.

    Returns:
        The HTML fragment.
    """
    tag = "small" if small else "span"
    return f"<{tag} style='color:{COLORS[level]};word-break:break-word'>{html.escape(text)}</{tag}>"


def read_whole_number(text: str, name: str, lowest: int, highest: int, fallback: int) -> tuple[int, str]:
    """The number a field's text gives, and what to tell the user when it is not the text as typed.

    Args:
        text: what the field holds.
        name: the field's name, as its label says it.
        lowest: the smallest number allowed.
        highest: the largest number allowed.
        fallback: the number in use, kept when the text gives none (empty, not a number).

    Returns:
        ``(number, note)``: the number to use and ``""`` when the text is a number in range;
        the nearest number in range and a note saying so when it is out of range; ``fallback``
        and a note saying so when the text is empty or not a whole number.
    """
    typed = text.strip()
    if not typed:
        return fallback, f"{name} is empty: {fallback} is used until you type a number ({lowest} to {highest})"
    try:
        number = int(typed)
    except ValueError:
        return fallback, f"{name} {typed!r} is not a whole number: {fallback} is used ({lowest} to {highest})"
    if number < lowest:
        return lowest, f"{name} {number} is below the smallest, {lowest}: set to {lowest}"
    if number > highest:
        return highest, f"{name} {number} is above the largest, {highest}: set to {highest}"
    return number, ""


def error_html(text: str, details: str | None = None) -> str:
    """An error line: ``text`` in bold red, with ``details`` (a traceback) folded under it.

    Args:
        text: the plain-text message ("" gives an empty line).
        details: more text shown when the user opens "details" (None: none).

    Returns:
        The HTML fragment.
    """
    if not text:
        return ""
    body = f"<b style='color:{COLORS['error']}'>{html.escape(text)}</b>"
    if details:
        pre = "<pre style='white-space:pre-wrap;word-break:break-all'>"  # a long line must not widen the cell
        body += f"<details><summary>details</summary>{pre}{html.escape(details)}</pre></details>"
    return body


class StatusLines(HasTraits):
    """A status line and an error line that several components share (the Painter's runs, its
    model picker and its fields all report through one ``StatusLines``).

    The texts are traits (``text``, ``level``, ``error_text``, ``error_field``), so a listener can
    ``observe`` them; ``status`` and ``error`` are the widgets that show them.

    >>> lines = StatusLines()
    >>> lines.say("model ready", "ok"); lines.text
    'model ready'
    >>> lines.fail("invalid schedule: t_T 0", field="schedule"); lines.error_field
    'schedule'
    """

    text = Unicode("", help="the status line as plain text")
    level = Unicode("info", help="its level: info, ok, warning or error")
    error_text = Unicode("", help="the error line as plain text (\"\" when there is no error)")
    error_field = Unicode("", help="the field whose fixing clears the error line (\"\" when none)")

    def __init__(self) -> None:
        super().__init__()
        self.status = W.HTML(layout=W.Layout(min_height="1.5em", min_width="0", width="auto"))
        self.status.add_class("ipainter-status")
        self.error = W.HTML(layout=W.Layout(min_height="0", max_width="100%"))

    def say(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the status line.

        Args:
            text: the plain-text message.
            level: info, ok, warning or error (its colour).
        """
        self.text, self.level = text, level
        self.status.value = message_html(text, level)

    def fail(self, text: str, details: str | None = None, field: str = "") -> None:
        """Show ``text`` in the error line ("" clears it).

        Args:
            text: the plain-text message.
            details: a traceback, folded under the message (None: none).
            field: the field whose fixing clears this error ("" when none).
        """
        self.error_text, self.error_field = text, field if text else ""
        self.error.value = error_html(text, details)
