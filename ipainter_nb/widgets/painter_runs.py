"""The Painter's runs: start a paint on the worker thread, follow its steps, show its result.

``RunController`` is a component of ``Painter`` (``app.py``) that works on its own: it is
given the worker, the views it updates (progress bar, live preview, frequency panel,
gallery), the schedule controls and the status lines; ``start(model, composition,
num_samples, seed)`` takes the rest. Its state is in traits (``busy``, ``result``) and
each finished or stopped run is announced to ``on_result`` callbacks.

While a run paints, the widget must cost little next to the model: the progress bar moves
at most every ``PROGRESS_INTERVAL_S``, the live preview keeps to a frame budget in time
(``PREVIEW_SHARE`` of the run for its frames, each counted with what the browser pays to
show it, ``PREVIEW_FRAME_COST_S``), and the spectrum plot is drawn at the end of the run
(``live_views`` builds the views with these budgets).
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import torch
from traitlets import Any as AnyTrait
from traitlets import Bool, HasTraits, Instance

from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import DiffusionModel
from ipainter_nb.core.sampler import PaintResult, Step, auto_batch_size, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.errors import IPainterError
from ipainter_nb.widgets.messages import StatusLines, first_line
from ipainter_nb.widgets.plots import FrequencyPanel
from ipainter_nb.widgets.preview import LivePreview
from ipainter_nb.widgets.worker import Job, Worker

if TYPE_CHECKING:
    from ipainter_nb.widgets.gallery import Gallery
    from ipainter_nb.widgets.schedule_controls import ScheduleControls

__all__ = ["RunController", "run_buttons", "live_views", "PROGRESS_INTERVAL_S", "PREVIEW_SHARE", "PREVIEW_FRAME_COST_S",
           "PREVIEW_INTERVAL_S", "SPECTRA_PER_S", "cpu_share", "other_cpu_load"]

#: Seconds between two progress-bar updates during a run (the last step is always shown).
PROGRESS_INTERVAL_S = 1.0
#: The live preview's frame budget: share of a run's wall time its frames may cost, the
#: kernel's encoding and the browser's share (``PREVIEW_FRAME_COST_S``) together. The
#: budget is in time, so it holds on any device: a slow CPU run shows a frame every few
#: seconds, a fast GPU run a few frames; the final step is always shown.
PREVIEW_SHARE = 0.02
#: What one preview frame is taken to cost the browser (receiving the message, decoding
#: the pictures, laying out and redrawing the page), in seconds of CPU: when the notebook
#: runs locally that CPU is the model's.
PREVIEW_FRAME_COST_S = 0.03
#: At most one preview frame this often during a run, however cheap frames are.
PREVIEW_INTERVAL_S = 1.0
#: Spectrum plots drawn per second during a run, at most: each is a matplotlib render that
#: costs as much as a few model calls on a small CPU (the last one is always drawn).
SPECTRA_PER_S = 0.05


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


def run_buttons() -> tuple[W.Button, W.Button, W.IntProgress]:
    """The Paint and Stop buttons and the progress bar of the runs.

    Returns:
        ``(paint_button, stop_button, progress)``; Stop starts disabled.
    """
    paint_button = W.Button(description="Paint", button_style="primary", icon="paint-brush",
                            layout=W.Layout(min_width="90px", width="auto"))
    paint_button.add_class("ipainter-paint")
    stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                           layout=W.Layout(min_width="90px", width="auto"))
    stop_button.add_class("ipainter-stop")
    progress = W.IntProgress(value=0, min=0, max=1, description="steps",
                             layout=W.Layout(width="auto", min_width="0", max_width="100%"))
    return paint_button, stop_button, progress


def live_views(gif_path: str | os.PathLike) -> tuple[LivePreview, FrequencyPanel]:
    """The live preview and the frequency panel, within the run's budgets, laid out side by side
    when there is room and under each other when not.

    Args:
        gif_path: where the preview's GIF export writes.

    Returns:
        ``(preview, frequency)``.
    """
    preview = LivePreview(max_fps=1 / PREVIEW_INTERVAL_S, max_overhead=PREVIEW_SHARE,
                          frame_cost_s=PREVIEW_FRAME_COST_S, gif_path=gif_path)
    frequency = FrequencyPanel(max_fps=SPECTRA_PER_S, render_thread=False)  # drawn between model calls
    for plot in (frequency.spectrum_image, frequency.snr_image):
        plot.layout.max_width = "100%"
        plot.layout.object_fit = "contain"
    frequency.children[0].layout.flex_flow = "row wrap"
    for view in (preview, frequency):  # never wider than the cell
        view.layout.flex = "1 1 380px"
        view.layout.min_width = "0"
        view.layout.max_width = "100%"
    return preview, frequency


class RunController(HasTraits):
    """Paint on the worker thread, one run at a time: start, follow, stop, wait, show.

    Args:
        worker: the thread the runs paint on (shared with drafts and plots).
        lines: the status and error lines the runs report in.
        schedule: the schedule controls; a run paints their ``current()`` schedule.
        progress: the progress bar (an ``ipywidgets.IntProgress``).
        preview: the live preview (follows the first micro-batch).
        frequency: the frequency panel (follows the first micro-batch).
        gallery: where finished and stopped runs are kept.

    Used on its own (``tests/test_components.py`` does this)::

        runs = RunController(Worker(), StatusLines(), controls, W.IntProgress(), preview, frequency, gallery)
        runs.on_result(print)
        job = runs.start(model, composition, num_samples=1, seed=0)   # returns at once; runs.busy is True
        result = runs.wait()                                          # runs.result is result
    """

    busy = Bool(False, help="True while a paint is queued or running")
    result = Instance(PaintResult, allow_none=True, help="the latest finished or stopped run")
    last_error = AnyTrait(None, allow_none=True, help="the exception of the latest failed run (None after a success)")

    def __init__(self, worker: Worker, lines: StatusLines, schedule: ScheduleControls, progress: W.IntProgress,
                 preview: LivePreview, frequency: FrequencyPanel, gallery: Gallery) -> None:
        super().__init__()
        self.worker, self.lines, self.schedule = worker, lines, schedule
        self.progress, self.preview, self.frequency, self.gallery = progress, preview, frequency, gallery
        self.job: Job | None = None  # the latest paint job
        self._result_handlers = W.CallbackDispatcher()
        self._lock = threading.Lock()
        self._warning = self._painting = ""  # the run's warning, and its "painting …" status
        self._progress_shown_at = 0.0  # time.monotonic() of the last progress message
        self._steps_per_batch = self._batch_size = 1

    def on_result(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each finished or stopped paint (on the worker thread).

        Args:
            callback: takes the run's ``PaintResult``.
            remove: unregister ``callback`` instead.
        """
        self._result_handlers.register_callback(callback, remove=remove)

    def wait(self, timeout: float | None = None) -> PaintResult | None:
        """Block until the current paint (if any) ends.

        Args:
            timeout: seconds to wait at most (None: no limit).

        Returns:
            The run's ``PaintResult`` (the latest ``result`` when none is running), or None
            when it failed or the timeout passed.
        """
        job = self.job
        if job is None:
            return self.result
        job.wait(timeout)
        return job.result if job.done.is_set() else None

    def stop(self) -> None:
        """Cancel every job of the worker (the paint, drafts, plots): each ends within one model call."""
        self.worker.cancel()
        job = self.job
        if job is not None and job.dropped and self.busy:  # stopped while queued behind a draft: it never ran
            self.busy = False
            self.lines.say("stopped before the run began: nothing was painted", "warning")
        elif self.busy:
            self.lines.say("stopping after the current model call…", "warning")

    # ================================================================= painting

    def start(self, model: DiffusionModel | None, composition: Composition, num_samples: int, seed: int) -> Job | None:
        """Queue a paint of ``composition`` on the worker; None (and the reason in the error line)
        when it cannot start.

        Args:
            model: the model to paint with (None: refused, no model is loaded).
            composition: the composition to paint.
            num_samples: how many pictures.
            seed: the run's seed (picture k uses ``derive_seed(seed, k)``).

        Returns:
            The paint's ``Job``, or None when it was refused.
        """
        with self._lock:  # two fast clicks must not start two runs
            if self.busy:
                self.lines.fail("a run is already in progress: press Stop first")
                return None
            self.lines.fail("")
            if model is None:
                self.lines.fail("no model is loaded: pick one in the model dropdown")
                return None
            try:
                composition.check_size(model.image_size, f"model {model.name!r}")
            except IPainterError as exc:
                self.lines.fail(str(exc))
                return None
            image, keep = composition.render()
            if self.schedule.adapts_to_mask:
                self.schedule.refresh(keep)  # the rule follows the current mask
            try:
                config = self.schedule.current()
            except (IPainterError, ValueError, TypeError) as exc:
                self.lines.fail(f"invalid schedule: {first_line(exc)}", field="schedule")
                return None
            warning = ""
            if keep.sum() == 0:
                warning = "no layers on the canvas: painting an unconditional sample. "
            elif keep.min() == 1:
                warning = "the cutouts cover the whole canvas: nothing is left to paint. "
            n, seed = int(num_samples), int(seed)
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
            self.lines.say(f"{warning}{busy_note}{waiting}{self._painting}", "warning" if warning or busy_note else "info")
            run = partial(self._run_paint, model, image, keep, config, times, n, batch, seed)
            self.job = self.worker.submit(run, "paint", replaces=("draft", "plot"), threads=threads)
            return self.job

    def _run_paint(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, config: ScheduleConfig,
                   times: list[int], n: int, batch: int, seed: int, cancel: Any) -> PaintResult | None:
        """The paint job (worker thread)."""
        result = None
        if self.lines.text.endswith(self._painting) and "waiting for" in self.lines.text:
            self.lines.say(f"{self._warning}{self._painting}")  # no longer waiting: it runs
        try:
            self.frequency.reset(image, config, model.schedule(config.t_T).alphas_cumprod)
            result = paint(model, image, keep, times=times, num_samples=n, seed=seed, batch_size=batch,
                           callback=self._on_step, cancel=cancel, progress=False, eta=config.eta)
            self._show_result(result, config, seed, model.name)
        except Exception as exc:  # shown in the widget, not lost in a log: the widget stays usable
            result = None
            self.last_error = exc
            self.progress.bar_style = "danger"
            self.lines.fail(f"{type(exc).__name__}: {first_line(exc)}", traceback.format_exc())
            self.lines.say(f"{self._warning}the run failed (see below); change the settings and press Paint again",
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
            self.lines.say("stopped before the first step: nothing was painted", "warning")
            return
        self.preview.show_result(result)
        self.frequency.finish(result)
        run = self.gallery.add(result, config, seed, model_name)
        took = f"{result.nfe} model calls in {result.elapsed_s:.1f} s"
        if result.stopped:
            self.progress.bar_style = "warning"
            self.lines.say(f"{self._warning}run #{run.number} stopped after {self.progress.value} of "
                             f"{self.progress.max} steps, {took}: the gallery shows its latest prediction, marked stopped",
                             "warning")
        else:
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            n = result.samples.shape[0]
            self.lines.say(f"{self._warning}run #{run.number} done: {n} picture{'s' * (n > 1)}, {took}",
                             "warning" if self._warning else "ok")
        self.result = result
        self._result_handlers(result)
