"""How the Painter's widgets word and colour their one-line messages."""

from __future__ import annotations

import html

__all__ = ["COLORS", "first_line", "message_html"]

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
