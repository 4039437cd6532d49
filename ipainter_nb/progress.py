"""Progress of long runs, shown in the form that suits where the output goes.

``progress_bar(total, desc)`` returns one of three bars with the same small interface
(``update(n)``, ``set_postfix(**kw)``, ``close()``, usable as a context manager):

- in a terminal: a tqdm bar on stderr;
- in a Jupyter kernel: an HTML ``<progress>`` element updated in place through a display
  handle. No widget is created, so a saved notebook never shows "Error displaying
  widget" after a reload; on close the bar is replaced by one line of plain text;
- anywhere else (stderr is a log file or a pipe): a few summary lines, one at each
  quarter, instead of a line per refresh.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any, TextIO

from .public import public_names

__all__ = ["progress_bar", "ProgressBar", "in_kernel"]

_SUMMARY_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
_KERNEL_REFRESH_S = 0.2  # display updates are messages to the browser: a few per second suffice


class ProgressBar:
    """No output at all; the base of the visible bars.

    Args:
        total: the number of steps.
        desc: the label shown before the bar.
    """

    def __init__(self, total: int, desc: str) -> None:
        self.total = max(int(total), 0)
        self.desc = desc
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self.closed = False
        self._start = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        """Seconds since the bar was made."""
        return time.perf_counter() - self._start

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done.

        Args:
            n: how many.
        """
        self.n += n
        self._shown()

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the bar (e.g. ``nfe=120``).

        Args:
            values: name = value pairs.
        """
        self.postfix = values

    def close(self) -> None:
        """End the display (a notebook bar becomes one line of text); idempotent."""
        if not self.closed:
            self.closed = True
            self._finished()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _shown(self) -> None:
        """Called after each update."""

    def _finished(self) -> None:
        """Called once, on close."""

    def _postfix_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.postfix.items())

    def summary(self) -> str:
        """One line: how far, how long, the latest postfix."""
        pct = 100 * self.n / self.total if self.total else 100.0
        extra = f", {self._postfix_text()}" if self.postfix else ""
        left = ""
        if 0 < self.n < self.total:
            left = f", about {self.elapsed_s * (self.total - self.n) / self.n:.0f} s left"
        return f"{self.desc}: {pct:.0f}% ({self.n}/{self.total}) in {self.elapsed_s:.1f} s{left}{extra}"


class _TerminalBar(ProgressBar):
    def __init__(self, total: int, desc: str, stream: TextIO) -> None:
        super().__init__(total, desc)
        from tqdm import tqdm

        self._bar = tqdm(total=self.total, desc=desc, file=stream, leave=False, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        super().update(n)
        self._bar.update(n)

    def set_postfix(self, **values: Any) -> None:
        super().set_postfix(**values)
        self._bar.set_postfix(refresh=False, **values)

    def _finished(self) -> None:
        self._bar.close()


class _SummaryLines(ProgressBar):
    """A line at each quarter of the way: readable in a log, whatever the length of the run."""

    def __init__(self, total: int, desc: str, stream: TextIO) -> None:
        super().__init__(total, desc)
        self._stream = stream
        self._next = 0

    def _shown(self) -> None:
        reached = None
        while self._next < len(_SUMMARY_FRACTIONS) and self.n >= _SUMMARY_FRACTIONS[self._next] * self.total:
            reached = self._next
            self._next += 1
        if reached is not None:
            self._print(self.summary())

    def _finished(self) -> None:
        if self.n < self.total:  # stopped early: say where
            self._print(self.summary() + " (stopped)")

    def _print(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


def _display(bundle: dict[str, str]) -> Any:
    """Show ``bundle`` in the notebook and return a handle with ``update(bundle, raw=True)``."""
    from IPython.display import display

    return display(bundle, raw=True, display_id=True)


class _KernelBar(ProgressBar):
    def __init__(self, total: int, desc: str) -> None:
        super().__init__(total, desc)
        self._last_refresh = 0.0
        self._handle = _display(self._bundle())

    def _bundle(self) -> dict[str, str]:
        text = self.summary()
        bar = (f'<progress value="{self.n}" max="{max(self.total, 1)}" style="width: 20em; vertical-align: middle">'
               "</progress>")
        return {"text/plain": text, "text/html": f"{bar} <code>{html.escape(text)}</code>"}

    def _shown(self) -> None:
        now = time.perf_counter()
        if now - self._last_refresh >= _KERNEL_REFRESH_S or self.n >= self.total:
            self._last_refresh = now
            self._handle.update(self._bundle(), raw=True)

    def _finished(self) -> None:
        # plain text only: what the notebook keeps is a line, not a bar frozen mid-way
        line = self.summary() + ("" if self.n >= self.total else " (stopped)")
        self._handle.update({"text/plain": line}, raw=True)


def in_kernel() -> bool:
    """Whether the code runs in a Jupyter kernel (not a terminal IPython)."""
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def progress_bar(total: int, desc: str, enabled: bool | None = None) -> ProgressBar:
    """A progress display for ``total`` steps, suited to where the output goes.

    ``enabled``: True always shows progress (bar, notebook bar or summary lines); None
    shows it only where someone watches (a terminal or a notebook); False never.

    Args:
        total: the number of steps.
        desc: the label.
        enabled: True: always show progress; None: only where someone watches (a terminal or a notebook); False: never.
    """
    stream = sys.stderr
    if enabled is False:
        return ProgressBar(total, desc)
    if in_kernel():
        return _KernelBar(total, desc)
    if _is_terminal(stream):
        return _TerminalBar(total, desc, stream)
    if enabled:
        return _SummaryLines(total, desc, stream)
    return ProgressBar(total, desc)


public_names(globals())  # after every public definition
