"""The Painter's runs: start a paint on the worker thread, follow its steps, show its result.

``PainterRuns`` is mixed into ``Painter`` (``app.py``), which provides the widgets it
updates (progress bar, status line, live preview, frequency panel, gallery) and the state
it reads (model, composition, schedule controls, seed, number of samples).

While a run paints, the widget must cost little next to the model: the progress bar moves
at most every ``PROGRESS_INTERVAL_S``, the live preview keeps to a frame budget in time
(``app.PREVIEW_SHARE`` of the run for its frames, each counted with what the browser pays to
show it, ``app.PREVIEW_FRAME_COST_S``), and the spectrum plot is drawn at the end of the run.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from functools import partial
from typing import TYPE_CHECKING, Any

import torch

from ipainter_nb.core.models import DiffusionModel
from ipainter_nb.core.sampler import PaintResult, Step, auto_batch_size, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.errors import IPainterError
from ipainter_nb.widgets.messages import first_line
from ipainter_nb.widgets.worker import Job

__all__ = ["PainterRuns", "PROGRESS_INTERVAL_S", "cpu_share", "other_cpu_load"]

#: Seconds between two progress-bar updates during a run (the last step is always shown).
PROGRESS_INTERVAL_S = 1.0


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has been busy since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def other_cpu_load(interval_s: float = 0.2) -> float:
    """Cores that other processes keep busy now (this process's own threads, a draft included,
    are left out), measured over ``interval_s``; 0 where the system does not say.

    Args:
        interval_s: how long to watch.

    Returns:
        The mean number of busy cores, other processes only.
    """
    busy, own, wall = _busy_cpu_seconds(), time.process_time(), time.monotonic()
    if busy is None:
        return 0.0
    time.sleep(interval_s)
    after = _busy_cpu_seconds()
    if after is None:
        return 0.0
    return max(0.0, ((after - busy) - (time.process_time() - own)) / (time.monotonic() - wall))


def cpu_share(cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """The torch threads a CPU run may take, and what to tell the user about the machine's load.

    Two runs that each take every core of a small machine both slow down more than they share
    (each core switches between their threads); a run takes the cores the others leave free.

    Args:
        cores: the machine's cores (default ``os.cpu_count()``).
        load: the cores other processes keep busy (default ``other_cpu_load()``).

    Returns:
        ``(threads, note)``: at least 1 thread, at most torch's current count and the free
        cores; ``note`` is "" when the run keeps torch's count, else says the load and the
        threads taken.
    """
    cores = cores or os.cpu_count() or 1
    load = other_cpu_load() if load is None else load
    free = cores - int(round(load))
    threads = max(1, min(torch.get_num_threads(), free))
    if free >= torch.get_num_threads():
        return threads, ""
    return threads, (f"the machine is busy (other work keeps {load:.1f} of {cores} cores busy): this run "
                     f"takes {threads} thread{'s' * (threads > 1)} and shares the CPU. ")


class PainterRuns:
    """``paint()``, ``wait()``, ``stop()`` and the paint job, for ``Painter``."""

    if TYPE_CHECKING:  # provided by Painter
        model: DiffusionModel | None
        busy: bool
        result: PaintResult | None
        num_samples: int
        seed: int
        last_error: BaseException | None
        _lock: threading.Lock
        _paint_job: Job | None
        _warning: str
        _painting: str
        status_message: str
        _progress_shown_at: float
        _steps_per_batch: int
        _batch_size: int
        _draft_wanted: bool
        _result_handlers: Any
        _edit_pause: Any
        worker: Any
        progress: Any
        preview: Any
        frequency: Any
        gallery: Any
        schedule_controls: Any
        composition: Any
        schedule_config: ScheduleConfig

        def _set_status(self, text: str, level: str = "info") -> None: ...
        def _set_error(self, text: str, details: str | None = None, field: str = "") -> None: ...

    def paint(self, wait: bool = False) -> PaintResult | None:
        """Paint the composition with the chosen settings on the worker thread.

        Returns at once (None) and the widget shows the run: Paint is disabled, Stop
        enabled, the progress bar moves, ``busy`` is True. ``wait=True`` blocks the
        calling cell until the run ends and returns its ``PaintResult``
        (``result.stopped`` if stopped), or None if it could not start or failed: the
        reason is in the widget's error line, ``error_message`` and ``last_error``. The
        progress keeps moving while a cell waits, but clicks on the widget are handled
        only after the cell ends: in a notebook prefer ``paint()`` and read ``result``
        (or call ``wait()``) in a later cell.

        Args:
            wait: block until the run ends and return its result.

        Returns:
            None at once, or with ``wait=True`` the run's ``PaintResult`` (None if it failed).
        """
        job = self._start()
        if job is None:
            return None
        return self.wait() if wait else None

    def wait(self, timeout: float | None = None) -> PaintResult | None:
        """Block until the current paint (if any) ends.

        Args:
            timeout: seconds to wait at most (None: no limit).

        Returns:
            The run's ``PaintResult`` (the latest ``result`` when none is running), or None
            when it failed or the timeout passed.
        """
        job = self._paint_job
        if job is None:
            return self.result
        job.wait(timeout)
        return job.result if job.done.is_set() else None

    def stop(self) -> None:
        """Cancel the paint and any draft: each ends within one model call; a stopped paint
        shows what it has, marked "stopped" in the gallery."""
        self._edit_pause.cancel()
        self._draft_wanted = False
        self.worker.cancel()
        job = self._paint_job
        if job is not None and job.dropped and self.busy:  # stopped while queued behind a draft: it never ran
            self.busy = False
            self._set_status("stopped before the run began: nothing was painted", "warning")
        elif self.busy:
            self._set_status("stopping after the current model call…", "warning")


    # ================================================================= painting

    def _start(self) -> Job | None:
        with self._lock:  # two fast clicks must not start two runs
            if self.busy:
                self._set_error("a run is already in progress: press Stop first")
                return None
            self._set_error("")
            if self.model is None:
                self._set_error("no model is loaded: pick one in the model dropdown")
                return None
            model = self.model
            try:
                self.composition.check_size(model.image_size, f"model {model.name!r}")
            except IPainterError as exc:
                self._set_error(str(exc))
                return None
            image, keep = self.composition.render()
            if self.schedule_controls.adapts_to_mask:
                self.schedule_controls.refresh(keep)  # the rule follows the current mask
            try:
                config = self.schedule_config
            except (IPainterError, ValueError, TypeError) as exc:
                self._set_error(f"invalid schedule: {first_line(exc)}", field="schedule")
                return None
            warning = ""
            if keep.sum() == 0:
                warning = "no layers on the canvas: painting an unconditional sample. "
            elif keep.min() == 1:
                warning = "the cutouts cover the whole canvas: nothing is left to paint. "
            n, seed = int(self.num_samples), int(self.seed)
            threads, busy_note = cpu_share() if model.device.type == "cpu" else (None, "")
            waiting = "waiting for the running draft or plot to stop (within a model call); " if self.worker.busy else ""
            times = config.times()
            self.last_error = None
            self._warning = warning
            # pictures go through the model in micro-batches; the preview watches the first one
            batch = min(n, auto_batch_size(model))
            self.preview.reset(num_samples=batch)  # builds its image rows here, on the main thread
            total = len(times) - 1
            self._steps_per_batch, self._batch_size = total, batch
            self.progress.max, self.progress.value, self.progress.bar_style = total * math.ceil(n / batch), 0, "info"
            self.busy = True
            self._painting = f"painting {n} picture{'s' * (n > 1)}: {total} steps, {config.nfe} model calls…"
            self._set_status(f"{warning}{busy_note}{waiting}{self._painting}", "warning" if warning or busy_note else "info")
            run = partial(self._run_paint, model, image, keep, config, times, n, batch, seed)
            self._paint_job = self.worker.submit(run, "paint", replaces=("draft", "plot"), threads=threads)
            return self._paint_job

    def _run_paint(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, config: ScheduleConfig,
                   times: list[int], n: int, batch: int, seed: int, cancel: Any) -> PaintResult | None:
        """The paint job (worker thread)."""
        result = None
        if self.status_message.endswith(self._painting) and "waiting for" in self.status_message:
            self._set_status(f"{self._warning}{self._painting}")  # no longer waiting: it runs
        try:
            self.frequency.reset(image, config, model.alphas_cumprod(config.t_T))
            result = paint(model, image, keep, times=times, num_samples=n, seed=seed, batch_size=batch,
                           callback=self._on_step, cancel=cancel, progress=False, eta=config.eta)
            self._show_result(result, config, seed, model.name)
        except Exception as exc:  # shown in the widget, not lost in a log: the widget stays usable
            result = None
            self.last_error = exc
            self.progress.bar_style = "danger"
            self._set_error(f"{type(exc).__name__}: {first_line(exc)}", traceback.format_exc())
            self._set_status(f"{self._warning}the run failed (see below); change the settings and press Paint again",
                             "error")
        finally:
            self.busy = False
        return result

    def _on_step(self, step: Step) -> None:
        done = step.index + 1
        now = time.monotonic()
        # a few messages a second: each one wakes the kernel's sending thread, which on a busy
        # CPU can push the painting thread off its core
        if done == step.total_steps or now - self._progress_shown_at >= PROGRESS_INTERVAL_S:
            self._progress_shown_at = now
            self.progress.value = step.first_sample // self._batch_size * self._steps_per_batch + done
        if step.first_sample == 0:  # the preview and the spectra follow the first micro-batch
            self.preview.on_step(step)
            self.frequency.on_step(step)
        return None

    def _show_result(self, result: PaintResult, config: ScheduleConfig, seed: int, model_name: str) -> None:
        if result.samples.shape[0] == 0:  # stopped before the first step: nothing to show or keep
            self.progress.bar_style = "warning"
            self._set_status("stopped before the first step: nothing was painted", "warning")
            return
        self.preview.show_result(result)
        self.frequency.finish(result)
        run = self.gallery.add(result, config, seed, model_name)
        took = f"{result.nfe} model calls in {result.elapsed_s:.1f} s"
        if result.stopped:
            self.progress.bar_style = "warning"
            self._set_status(f"{self._warning}run #{run.number} stopped after {self.progress.value} of "
                             f"{self.progress.max} steps, {took}: the gallery shows its latest prediction, marked stopped",
                             "warning")
        else:
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            n = result.samples.shape[0]
            self._set_status(f"{self._warning}run #{run.number} done: {n} picture{'s' * (n > 1)}, {took}",
                             "warning" if self._warning else "ok")
        self.result = result
        self._result_handlers(result)
