"""The frequency panel: the two plots of ``ipainter_nb.viz`` shown in ipywidgets during a run.

Two plots tell the Fourier story of truncated resampling:

- the radially averaged power spectrum of the predicted ``x0`` as the run goes on (coarse
  structure settles at large ``t``, fine detail only near ``t = 0``);
- the forward process' per-band SNR for the composition's picture, with the schedule's
  resampling window shaded and the stop time marked (below the stop, only bands that have
  already drowned are being decided, so resampling there mostly blurs).

This module only displays: ``viz`` draws the figures (Agg, no pyplot, so drawing from the
helper thread below is safe) and this widget turns them into PNGs at a bounded rate.

Threads: ``FrequencyPanel.on_step`` runs on the painting thread and only records a spectrum
(a small numpy FFT); the drawing happens on one helper thread ("ipainter-spectra") started on
demand and ending when no drawing is requested. A lock guards the recorded spectra and the
request flag between the two; ``wait_rendered()`` joins the helper (``finish`` and ``reset``
call it, so a late drawing of one run never lands after the next has started).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np

from ipainter_nb.core.frequency import radial_power_spectrum, sharpness
from ipainter_nb.core.sampler import PaintResult, Step
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.viz import band_snr_figure, figure_to_png, spectrum_evolution_figure

__all__ = ["FrequencyPanel"]

Spectrum = tuple[int, np.ndarray, np.ndarray]


class FrequencyPanel(widgets.VBox):
    """The two frequency plots side by side, kept up to date during a run.

    Lifecycle (``Painter`` drives it; by hand it is)::

        panel = FrequencyPanel()
        panel.reset(image, config, model.schedule(config.t_T).alphas_cumprod)
        result = paint(model, image, keep, times=config, callback=panel.on_step)
        panel.finish(result)

    Spectra are drawn on a helper thread, so the painting thread only pays for an FFT of
    the prediction at the recorded levels; ``finish()`` waits for the last drawing.

    Args:
        max_fps: at most this many spectrum re-renders start per second during a run (a
            render costs about 0.1 s of CPU, so keep it low).
        n_curves: the spectrum of the predicted x0 is recorded at about this many evenly
            spaced levels t (at the latest visit of each, so after resampling the curve
            shows the resampled prediction), plus the last step.
        n_bands: how many frequency bands the band-SNR plot splits the picture into.
        dpi: resolution of the PNGs.
        clock: the time source (seconds); replaceable in tests.
        render_thread: draw on the helper thread (default); False draws on the thread that
            calls ``on_step`` (the Painter's worker: no drawing beside a model call), and the
            first drawing of a run then waits 1/max_fps after ``reset`` (the caller pays for
            each one; the final step is always drawn).
    """

    def __init__(
        self,
        max_fps: float = 1.0,
        n_curves: int = 12,
        n_bands: int = 4,
        dpi: int = 80,
        clock: Callable[[], float] = time.perf_counter,
        render_thread: bool = True,
    ) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be positive, got {max_fps}")
        self.max_fps = float(max_fps)
        self.n_curves = max(1, int(n_curves))
        self.n_bands = int(n_bands)
        self.dpi = int(dpi)
        self._clock = clock
        self.render_thread = bool(render_thread)
        self.spectrum_image = widgets.Image(format="png")
        self.snr_image = widgets.Image(format="png")
        self.caption = widgets.HTML("")
        super().__init__([widgets.HBox([self.spectrum_image, self.snr_image]), self.caption])
        self._spectra: dict[int, Spectrum] = {}
        self._stride: int | None = None
        self._last_render = -float("inf")
        self._snr_key: tuple | None = None
        self._lock = threading.Lock()  # guards _spectra, _requested, _worker between the threads
        self._requested = False  # a render of the current spectra is wanted
        self._worker: threading.Thread | None = None
        self._worker_running = False  # set and cleared under the lock, unlike Thread.is_alive()
        self.renders = 0
        self.render_s = 0.0  # time spent drawing spectra (on the helper thread during a run)
        self._draw(self.spectra)

    # ----------------------------------------------------------------- lifecycle

    def show_band_snr(self, image: Any, schedule_config: ScheduleConfig | Sequence[int] | None, alphas_cumprod: Any) -> None:
        """Redraw only the band-SNR plot (e.g. when the schedule controls change).

        Nothing is drawn when picture, schedule and noise schedule are those of the last call.
        A plot that cannot be drawn (e.g. too many bands for a tiny picture) is reported
        in the caption instead.

        Args:
            image: the picture whose spectrum sets the SNR, (3, H, W).
            schedule_config: the schedule whose resampling window is shaded (a
                ``ScheduleConfig`` or its list of times), or None for no marking.
            alphas_cumprod: ᾱ of each level, in the schedule's units
                (``model.alphas_cumprod(t_T)``).
        """
        key = _snr_key(image, schedule_config, alphas_cumprod)
        if key == self._snr_key:
            return
        try:
            fig = band_snr_figure(image, alphas_cumprod, schedule_config, n_bands=self.n_bands)
        except ValueError as exc:  # e.g. too many bands for a tiny image: say so, don't break the panel
            self.caption.value = f"<span style='color:#b00'>band SNR: {html.escape(str(exc))}</span>"
            return
        self.snr_image.value = figure_to_png(fig, self.dpi)
        self._snr_key = key

    def reset(self, image: Any, schedule_config: ScheduleConfig | Sequence[int] | None, alphas_cumprod: Any) -> None:
        """Start a run: draw the band SNR of ``image`` and clear the spectra.

        Args:
            image: the picture being painted (the composition's render), (3, H, W).
            schedule_config: the run's schedule (a ``ScheduleConfig`` or its list of
                times, whose first is ``t_T - 1``): it sets the levels at which spectra
                are recorded. None: taken from the first step.
            alphas_cumprod: ᾱ of each level, in the schedule's units.
        """
        self.wait_rendered()  # a late drawing of the previous run must not land after this
        had_spectra = bool(self._spectra)
        self._spectra = {}
        self._last_render = -float("inf") if self.render_thread else self._clock()
        if isinstance(schedule_config, ScheduleConfig):
            t_T = schedule_config.t_T
        elif schedule_config is not None:
            t_T = int(list(schedule_config)[0]) + 1
        else:
            t_T = None
        self._stride = None if t_T is None else max(1, t_T // self.n_curves)
        self.caption.value = ""
        self.show_band_snr(image, schedule_config, alphas_cumprod)
        if had_spectra:
            self._draw([])

    def on_step(self, step: Step) -> None:
        """``paint()`` callback: record the x0 spectrum at sampled levels, re-render at most max_fps.

        Args:
            step: the sampler's step; one without an ``x0_pred`` is ignored, the last
                step of the schedule is always recorded and drawn.
        """
        if step.x0_pred is None:
            return None
        if self._stride is None:  # reset() was not called: the first step is at t_T - 1
            self._stride = max(1, (step.t + 1) // self.n_curves)
        final = step.total_steps > 0 and step.index >= step.total_steps - 1
        if not (final or step.t % self._stride == 0):
            return None
        freqs, power = radial_power_spectrum(step.x0_pred)
        with self._lock:
            self._spectra[step.t] = (step.t, freqs, power)
        now = self._clock()
        if final or now - self._last_render >= 1.0 / self.max_fps:
            self._last_render = now
            self._request_render()
        return None

    def finish(self, result: PaintResult) -> None:
        """Draw the final spectra (including the result's, if the run stopped early) and a caption.

        Waits for the drawing; the caption gives the result's share of high-frequency energy.

        Args:
            result: the run's ``PaintResult``.
        """
        if result.stopped or not self._spectra:
            last_t = min(self._spectra) if self._spectra else 0
            freqs, power = radial_power_spectrum(result.samples)
            with self._lock:
                self._spectra[last_t] = (last_t, freqs, power)
            self._request_render()
        self.wait_rendered()
        share = sharpness(result.samples)
        stopped = " (stopped early)" if result.stopped else ""
        self.caption.value = (
            f"result{stopped}: {share:.1%} of its non-DC energy lies above 0.25 cycles/pixel "
            f"(higher = sharper); {len(self._spectra)} spectra recorded"
        )

    # ----------------------------------------------------------------- drawing

    @property
    def spectra(self) -> list[Spectrum]:
        """The recorded ``(t, freqs, power)``, high t first."""
        with self._lock:
            return [self._spectra[t] for t in sorted(self._spectra, reverse=True)]

    def wait_rendered(self, timeout: float | None = None) -> None:
        """Wait until the requested drawings are on screen.

        Args:
            timeout: seconds to wait at most (None: until the helper thread ends).
        """
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _request_render(self) -> None:
        if not self.render_thread:
            self._requested = True
            self._render_loop()
            return
        with self._lock:
            self._requested = True
            if self._worker_running:
                return  # the running helper sees the request and draws again
            self._worker_running = True
            self._worker = threading.Thread(target=self._render_loop, name="ipainter-spectra", daemon=True)
            self._worker.start()

    def _render_loop(self) -> None:
        while True:
            with self._lock:
                if not self._requested:
                    self._worker_running = False
                    return
                self._requested = False
                spectra = [self._spectra[t] for t in sorted(self._spectra, reverse=True)]
            try:
                self._draw(spectra)
            except Exception as exc:  # keep the helper alive: a later request may draw fine
                self.caption.value = f"<span style='color:#b00'>spectrum plot: {html.escape(str(exc))}</span>"

    def _draw(self, spectra: list[Spectrum]) -> None:
        tick = time.perf_counter()
        if spectra:
            png = figure_to_png(spectrum_evolution_figure(spectra), self.dpi)
        else:
            png = _placeholder_png(self.dpi)
        self.spectrum_image.value = png
        self.renders += 1
        self.render_s += time.perf_counter() - tick


_PLACEHOLDERS: dict[int, bytes] = {}


def _placeholder_png(dpi: int) -> bytes:
    # the empty spectrum plot is the same every time: draw it once per process
    if dpi not in _PLACEHOLDERS:
        _PLACEHOLDERS[dpi] = figure_to_png(spectrum_evolution_figure([]), dpi)
    return _PLACEHOLDERS[dpi]


def _snr_key(image: Any, schedule: Any, alphas_cumprod: Any) -> tuple:
    """What the band-SNR plot depends on, cheaply comparable (the picture by content)."""
    pixels = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    ac = np.asarray(alphas_cumprod)
    sched = schedule if isinstance(schedule, ScheduleConfig) else (None if schedule is None else tuple(schedule))
    return (pixels.shape, pixels.tobytes(), sched, ac.shape, ac.tobytes())
