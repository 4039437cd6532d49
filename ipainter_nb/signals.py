"""The signals that end a run: one clean stop for all of them, owned by the ``ipainter`` command.

A user (Ctrl-C: SIGINT; Ctrl-\\: SIGQUIT), a closed terminal or a dropped SSH session
(SIGHUP) and a job scheduler or ``kill`` (SIGTERM) all mean "stop now". Under
``stop_on_signals`` each raises ``Stopped`` (a ``KeyboardInterrupt``) in the main thread, so
the ``finally`` blocks of every writer run: finished outputs stay, temp and claim files go.
SIGQUIT is treated like the others on purpose: its default (a core dump) is of no use to a
user of this command, while a half-written picture and a claim file left behind are a cost;
a stop that itself hangs still ends with a second signal, and SIGKILL always works (the
next run then removes what was left).

A signal that was ignored when the process started stays ignored, as POSIX tools leave it:
``nohup ipainter paint ... &`` runs on when its terminal closes (SIGHUP), and a script's
background job, which the shell starts with SIGINT and SIGQUIT ignored, runs on through
them. Such a run still stops on the signals it was not told to ignore (SIGTERM from ``kill``).
A signal *blocked* when the process started is another matter: a blocked mask is inherited
through ``exec`` from a parent that blocked it for a moment of its own (a thread that spawned
the command, a supervisor), not a wish that the run ignore it, and left blocked it would hold a
``kill`` until the run ended by itself. The command unblocks the stop signals it handles while
it runs, and puts the mask back after. One that was sent while blocked, before the command
began, then ends the process as it would have had it not been blocked: by the signal's own
default, before anything is written.

Only the command installs handlers (``ipainter_nb.cli``). The library installs none when
imported or called (a notebook's kernel owns its signals): ``signals_deferred``, the one
place it touches them, holds them only for the few milliseconds of one file write that must
not be cut and then hands the signal to the handler that was there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from .public import public_names

__all__ = ["STOP_SIGNALS", "Stopped", "stop_on_signals", "stop_signal", "signals_deferred", "ignored_signals"]

#: The signals that stop a run cleanly (those this platform has).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived: raised in the main thread, unwinding every ``finally`` block.

    Args:
        signum: the signal's number.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__()

    @property
    def name(self) -> str:
        """The signal's name, e.g. ``SIGTERM``."""
        return signal.Signals(self.signum).name


def ignored_signals() -> tuple[signal.Signals, ...]:
    """The stop signals this process ignores (``SIG_IGN``): those it was started with ignored,
    unless something set a handler since; no handler of this module replaces them.

    Returns:
        The ignored members of ``STOP_SIGNALS``.
    """
    return tuple(sig for sig in STOP_SIGNALS if signal.getsignal(sig) == signal.SIG_IGN)


def _install(signals: tuple[signal.Signals, ...], handler: object) -> dict[signal.Signals, object]:
    """Set ``handler`` for each of ``signals`` that is not ignored; returns the handlers replaced."""
    ignored = ignored_signals()
    return {sig: signal.signal(sig, handler) for sig in signals if sig not in ignored}


class _State:
    """What the handlers of ``stop_on_signals`` know: the first stop signal, a deferred one."""

    def __init__(self) -> None:
        self.active = False
        self.received: int | None = None  # the first stop signal of this command
        self.raised = False  # a Stopped is unwinding: another signal ends the process at once
        self.deferring = 0
        self.pending: int | None = None


_STATE = _State()


def _on_stop(signum: int, frame: object) -> None:
    if _STATE.raised:
        # the clean stop is already under way and someone insists: end now, as the signal's
        # default would (the next run removes what this leaves)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _STATE.received is None:
        _STATE.received = signum
    if _STATE.deferring:
        _STATE.pending = _STATE.pending or signum
        return
    _STATE.raised = True
    raise Stopped(signum)


def _unblock(signals: tuple[signal.Signals, ...]) -> set[signal.Signals] | None:
    """Unblock ``signals`` in this thread; the mask before, or None where the platform has no masks."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, every signal of ``STOP_SIGNALS`` raises ``Stopped`` in the main thread.

    For the command line only: a library must leave signals to its host. A signal that is
    ignored (``SIG_IGN``, e.g. SIGHUP under ``nohup``) stays ignored; one that is blocked (a mask
    inherited from the parent) is unblocked within the block. Outside the main
    thread (where Python delivers no signal) it changes nothing. The handlers that were
    there are put back on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STATE.__init__()
    previous = _install(STOP_SIGNALS, _on_stop)
    _STATE.deferring += 1  # a signal waiting in the inherited mask arrives now: it must not raise here
    try:
        mask = _unblock(tuple(previous))
    finally:
        _STATE.deferring -= 1
    if _STATE.pending is not None:  # sent before the run began: end as its default would have then
        signal.signal(_STATE.pending, signal.SIG_DFL)
        signal.raise_signal(_STATE.pending)
    _STATE.active = True
    try:
        yield
    finally:
        _STATE.active = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def stop_signal() -> int | None:
    """The stop signal that ended the current (or last) ``stop_on_signals`` block, if any."""
    return _STATE.received


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold the stop signals until the block ends, then act on the first one that came.

    For writes whose writer cannot be interrupted cleanly: ``torch.save``'s zip writer turns
    a ``KeyboardInterrupt`` into an error of its own while it unwinds. The block should be
    short (one file written). Under ``stop_on_signals`` the command's handler waits for the
    block's end; elsewhere SIGINT and SIGTERM are held for the block only and then passed to
    the handler that was there (the host's). An ignored signal stays ignored. Outside the
    main thread it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _STATE.active and any(signal.getsignal(sig) is _on_stop for sig in STOP_SIGNALS):
        _STATE.deferring += 1
        try:
            yield
        finally:
            _STATE.deferring -= 1
            if not _STATE.deferring and _STATE.pending is not None:
                signum, _STATE.pending = _STATE.pending, None
                _STATE.raised = True
                raise Stopped(signum)
        return
    pending: list[int] = []
    previous = _install((signal.SIGINT, signal.SIGTERM), lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)  # Python's own SIGINT handler raises KeyboardInterrupt here
            elif handler == signal.SIG_DFL:
                signal.raise_signal(pending[0])


public_names(globals())  # after every public definition
