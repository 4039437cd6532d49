"""One worker thread per Painter: every model call and every plot render, one at a time.

On a small CPU a second busy computation beside a model call makes both crawl (two torch
thread pools, or a matplotlib render holding the GIL, fighting for the same cores), so the
Painter never runs two at once: it hands each piece of heavy work to a ``Worker`` as a
``Job`` and the worker runs them in order on its single thread.

How the threads and timers of the Painter interact
--------------------------------------------------
- The kernel's main thread receives the browser's events (mouse, buttons, fields). It
  edits the composition and the controls, and never calls the model or draws a figure.
- One ``Worker`` thread runs the jobs, one at a time, in submission order: a paint, a
  draft (a quick low-step paint of the current composition), a band-SNR plot. Jobs have a
  kind; submitting a job can replace older jobs of some kinds: a queued one is dropped, a
  running one is told to stop through its ``CancelToken`` (the sampler checks it before
  every step, so it ends within one model call). A new draft replaces older drafts, a
  paint replaces drafts, Stop cancels everything; an edit made during a paint queues its
  draft behind the paint.
- A ``Debouncer`` timer thread waits for a pause in the user's edits (a few hundred ms),
  then calls back; the Painter's callback only renders the composition and submits jobs.
- While a paint runs, its per-step callback (on the worker thread, between two model
  calls) updates the progress bar and the preview and records spectra; the spectrum plot is
  drawn there too (the Painter's panel has no drawing thread of its own), at a low rate.
  The live views have budgets (a share of the wall time, a few renders a run), so a paint
  in the Painter costs little more than a bare ``paint()``.
- Widgets are only created on the main thread; the worker thread assigns values to widgets
  built beforehand (ipywidgets 8 sends those messages from any thread) and never waits on
  the browser, so a cell blocked in ``Painter.wait()`` still sees the progress move.
- torch thread counts: a job may ask for its own count (drafts use one thread fewer than
  the machine has, leaving a core for the kernel that handles the canvas); the worker
  sets it for that job and puts the previous count back afterwards. Paints use torch's
  setting as the user left it (``torch.set_num_threads``).
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ipainter_nb.core.sampler import CancelToken

__all__ = ["Job", "Worker", "Debouncer"]


class Job:
    """One piece of work for a ``Worker``: ``fn(cancel)`` with its cancel token and outcome.

    Args:
        fn: the work; called with the job's ``CancelToken`` on the worker thread, its
            return value becomes ``result`` and an exception it raises ``error``.
        kind: a label such as ``"paint"``, ``"draft"`` or ``"plot"``, by which jobs are
            cancelled or replaced.
        threads: torch's intra-op thread count while the job runs (None: leave it as is).
    """

    def __init__(self, fn: Callable[[CancelToken], Any], kind: str, threads: int | None = None) -> None:
        self.fn = fn
        self.kind = kind
        self.threads = threads
        self.cancel = CancelToken()
        self.started = threading.Event()
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.dropped = False  # cancelled before it started: fn never ran

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has run (or was dropped); False on timeout.

        Args:
            timeout: seconds to wait at most (None: no limit).
        """
        return self.done.wait(timeout)

    def __repr__(self) -> str:
        state = "dropped" if self.dropped else "done" if self.done.is_set() else "running" if self.started.is_set() else "queued"
        return f"Job({self.kind!r}, {state})"


class Worker:
    """A single daemon thread that runs submitted jobs one after another.

    >>> worker = Worker()
    >>> job = worker.submit(lambda cancel: 6 * 7, kind="answer")
    >>> job.wait(5) and job.result
    42
    >>> worker.close()

    Args:
        name: the thread's name (shown in debuggers and thread dumps).
    """

    def __init__(self, name: str = "ipainter-worker") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._current: Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        _LIVE_WORKERS.add(self)

    def submit(self, fn: Callable[[CancelToken], Any], kind: str, *, replaces: Iterable[str] = (),
               threads: int | None = None) -> Job:
        """Queue ``fn(cancel_token)``; first cancel the queued and running jobs whose kind is in
        ``replaces``. The thread starts with the first job.

        Args:
            fn: the work, called as ``fn(cancel_token)`` on the worker thread; it should
                check the token between steps.
            kind: the job's label (``"paint"``, ``"draft"``, ``"plot"``, ...).
            replaces: kinds of jobs this one makes stale: they are cancelled first.
            threads: torch's intra-op thread count while this job runs (None: unchanged).

        Returns:
            The queued ``Job`` (wait on it, read ``result`` or ``error``).

        Raises:
            RuntimeError: the worker was closed.
        """
        job = Job(fn, kind, threads)
        with self._cond:
            if self._closed:
                raise RuntimeError("this worker is closed (the Painter was closed): create a new Painter")
            self._cancel_locked(set(replaces))
            self._queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job

    def cancel(self, kinds: Iterable[str] | None = None) -> None:
        """Cancel queued and running jobs of these kinds (all kinds when None).

        A queued job is dropped (never runs); a running one has its cancel token set.

        Args:
            kinds: the job kinds to cancel, or None for every job.
        """
        with self._cond:
            self._cancel_locked(None if kinds is None else set(kinds))

    def current(self, kind: str | None = None) -> Job | None:
        """The running job (of ``kind``, if given), else None.

        Args:
            kind: only a running job with this label counts (None: any kind).
        """
        job = self._current
        return job if job is not None and (kind is None or job.kind == kind) else None

    def pending(self, kind: str | None = None) -> list[Job]:
        """Queued jobs (of ``kind``, if given) that have not started yet.

        Args:
            kind: only jobs with this label (None: every queued job), in queue order.
        """
        with self._cond:
            return [j for j in self._queue if kind is None or j.kind == kind]

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        with self._cond:
            return self._current is not None or bool(self._queue)

    @property
    def closed(self) -> bool:
        """True after ``close()``: no job can be submitted any more."""
        return self._closed

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits; False on timeout.

        Args:
            timeout: seconds to wait at most (None: no limit).
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._current is None and not self._queue, timeout)

    def close(self, join_timeout: float | None = None) -> None:
        """Cancel everything and let the thread end (the running job ends within one step);
        with ``join_timeout``, also wait that long for the thread to end.

        Args:
            join_timeout: seconds to wait for the thread to end (None: do not wait;
                never waited for when called from the worker thread itself).
        """
        with self._cond:
            self._closed = True
            self._cancel_locked(None)
            self._cond.notify_all()
            thread = self._thread
        if join_timeout is not None and thread is not None and thread is not threading.current_thread():
            thread.join(join_timeout)

    # ----------------------------------------------------------------- internals

    def _cancel_locked(self, kinds: set[str] | None) -> None:
        keep: deque[Job] = deque()
        for job in self._queue:
            if kinds is None or job.kind in kinds:
                job.cancel.set()
                job.dropped = True
                job.done.set()
            else:
                keep.append(job)
        self._queue = keep
        if self._current is not None and (kinds is None or self._current.kind in kinds):
            self._current.cancel.set()
        self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    self._thread = None
                    return
                job = self._queue.popleft()
                self._current = job
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._current = None
                    job.done.set()
                    self._cond.notify_all()

    @staticmethod
    def _run(job: Job) -> None:
        job.started.set()
        before = None
        if job.threads is not None:
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(max(1, job.threads))
        try:
            job.result = job.fn(job.cancel)
        except BaseException as exc:  # kept for whoever waits on the job; the thread lives on
            job.error = exc
        finally:
            if before is not None:
                import torch

                torch.set_num_threads(before)


class Debouncer:
    """Call ``fn()`` once, ``delay_s`` after the latest ``trigger()`` (a pause in the edits).

    ``fn`` runs on a timer thread; ``cancel()`` forgets a pending call; ``close()`` forgets it,
    refuses later triggers and waits for a call under way to end, so that no timer thread is
    left running into the interpreter's exit (an atexit hook closes those never closed).

    Args:
        delay_s: the default pause, in seconds, between the latest trigger and the call.
        fn: called without arguments, on a timer thread, once the pause is over.
    """

    def __init__(self, delay_s: float, fn: Callable[[], Any]) -> None:
        self.delay_s = float(delay_s)
        self._fn = fn
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._running = 0  # calls of fn under way: what they queue is not queued yet
        self._calls: set[threading.Thread] = set()  # the timer threads whose fn runs now
        self._closed = False
        _LIVE_DEBOUNCERS.add(self)

    def trigger(self, delay_s: float | None = None) -> None:
        """(Re)start the wait: ``fn()`` runs once, ``delay_s`` from now.

        Args:
            delay_s: this wait only (default: ``self.delay_s``).
        """
        with self._lock:
            if self._closed:
                return  # closed: no call after close()
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay_s if delay_s is None else delay_s, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        """Forget the pending call, if any: ``fn`` does not run until the next ``trigger()``."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None

    def close(self, join_timeout: float | None = 10.0) -> None:
        """Forget the pending call, refuse later triggers, and wait for a call under way to end.

        Args:
            join_timeout: seconds to wait for each running call (None: no limit; never
                waited for from the call's own thread).
        """
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            running = [t for t in self._calls if t is not threading.current_thread()]
        for thread in running:
            thread.join(join_timeout)

    @property
    def closed(self) -> bool:
        """True after ``close()``: triggers are ignored."""
        return self._closed

    @property
    def waiting(self) -> bool:
        """True while a triggered call waits for its pause to end."""
        with self._lock:
            return self._timer is not None

    @property
    def pending(self) -> bool:
        """True while a triggered call waits for its pause to end, or runs."""
        with self._lock:
            return self._timer is not None or self._running > 0

    def _fire(self) -> None:
        with self._lock:
            if self._timer is not threading.current_thread():
                return  # superseded or cancelled between the timer's wake-up and here
            self._timer = None
            self._running += 1
            self._calls.add(threading.current_thread())
        try:
            self._fn()
        finally:
            with self._lock:
                self._running -= 1
                self._calls.discard(threading.current_thread())


_LIVE_WORKERS: weakref.WeakSet[Worker] = weakref.WeakSet()
_LIVE_DEBOUNCERS: weakref.WeakSet[Debouncer] = weakref.WeakSet()


@atexit.register
def _close_threads_at_exit() -> None:
    # A daemon thread still inside a torch call when the interpreter tears down aborts the
    # process ("terminate called without an active exception"). The pause calls end first
    # (they may still queue jobs), then each worker stops its run between two steps and its
    # thread ends.
    for debouncer in list(_LIVE_DEBOUNCERS):
        debouncer.close(join_timeout=10.0)
    for worker in list(_LIVE_WORKERS):
        worker.close(join_timeout=10.0)
