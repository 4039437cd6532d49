"""The interpreter's exit and the library's work in other threads.

A daemon thread still inside a torch call when the interpreter tears down aborts the process
("terminate called without an active exception", exit 134). Every call of a public name
(``public.public_names``) and every step of a long loop is a ``run_step`` block: the exit
waits for the blocks under way and parks their threads at the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator

__all__ = ["run_step", "in_a_step"]


class _RunsInThreads:
    """The runs working in threads other than the main one, so that the interpreter's exit waits for them.

    A daemon thread still inside a torch call (or just leaving one) when the interpreter tears
    down aborts the process ("terminate called without an active exception", exit 134). At exit
    every such run stops at the end of its current step, and its thread is parked there, in a
    wait that holds nothing: the interpreter would freeze a daemon thread anyway, and frozen in
    the middle of torch it takes the process down. A thread that is not a daemon (one the exit
    waited for, or one started at exit) is told to stop instead.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._depth: dict[threading.Thread, int] = {}  # the blocks each thread is inside (runs nest steps)
        self.exiting = False

    @contextlib.contextmanager
    def working(self) -> Iterator[bool]:
        """Count the block as work in progress; it gets False (and should stop) once the interpreter is exiting."""
        thread = threading.current_thread()
        if thread is threading.main_thread():  # the exit runs on it: nothing to wait for (and no lock on the hot path)
            yield True
            return
        with self._cond:
            go = not self.exiting
            if go:
                self._depth[thread] = self._depth.get(thread, 0) + 1
        if not go and thread.daemon:
            self._park(thread)
        try:
            yield go
        finally:
            if go:
                with self._cond:
                    self._depth[thread] -= 1
                    if not self._depth[thread]:
                        del self._depth[thread]
                        self._cond.notify_all()
                    park = self.exiting and thread.daemon
                if park:
                    self._park(thread)

    def _park(self, thread: threading.Thread) -> None:
        with self._cond:  # the thread's outer blocks end here too: the exit must not wait for them
            self._depth.pop(thread, None)
            self._cond.notify_all()
        threading.Event().wait()  # never set: the process ends around this thread

    def stop(self, timeout: float) -> None:
        """Ask every run to stop after its current step and wait (at most ``timeout`` s) until none is in one."""
        with self._cond:
            self.exiting = True
            self._cond.wait_for(lambda: not self._depth, timeout)


_RUNS = _RunsInThreads()
atexit.register(_RUNS.stop, 10.0)


def in_a_step() -> bool:
    """Whether this thread needs no block of its own around more work: it is the main thread (the exit
    runs on it), or it is inside a block already (the outer block and the loops' steps are waited for)."""
    thread = threading.current_thread()
    return thread is threading.main_thread() or thread in _RUNS._depth  # a dict read: atomic, no lock


def run_step() -> contextlib.AbstractContextManager[bool]:
    """A step (or a whole run) of work as a block, which the interpreter's exit waits for; in a
    thread other than the main one it gets False, and should stop, once the exit has begun.
    """
    return _RUNS.working()
