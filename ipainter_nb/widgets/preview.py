"""Live timestep previews while ``paint()`` runs, and a scrubber over the kept frames.

``LivePreview.on_step`` is a ``paint()`` callback: for every picture it shows the current
noisy sample ``x_t`` beside the model's clean-image prediction ``x0``. It must cost the run
nothing it does not show:

- it is throttled by wall time (``max_fps``): a skipped step costs a clock read and a few
  attribute stores (a reference to the step is kept, never a copy);
- tensors are converted (``images.tensor_to_uint8``, numpy, no torch thread pool) and
  PNG-encoded only for the frames actually shown; an ``x0`` that has not changed since the
  last shown frame (up steps make no prediction) is not encoded again;
- pictures are encoded at the model's resolution and enlarged by the browser, which the
  ``ipainter-pixelated`` style tells to repeat pixels instead of smoothing them: a 64 px
  picture shown at 192 px costs a ninth of the pixels to encode and to send;
- a frame budget in time: a shown frame costs its encoding here plus ``frame_cost_s``
  outside this process (the browser receiving, decoding and drawing its pictures: on the
  same CPU as the model when the notebook runs locally), and frames are spaced so that
  this cost is at most ``max_overhead`` of the wall time. Slow encoding (many pictures,
  a busy CPU) spaces them further apart. Because the budget is in time, a fast run (a
  GPU) shows few frames and a long one (a CPU) shows one every few seconds. The final
  step is always shown.

With micro-batches (``paint(batch_size=...)``) a step holds pictures ``first_sample`` ..
``first_sample + n - 1`` of the run, and only their rows are updated.

After the run, ``show_result(result)`` turns the widget into a player over
``result.frames`` (the frames ``paint()`` kept for replay) with a "Save GIF" button that
writes through ``viz.timesteps_gif``, the project's one GIF writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from ipainter_nb.core.sampler import Frame, PaintResult, Step
from ipainter_nb.images import png_bytes, tensor_to_uint8, upscale_nearest

__all__ = ["LivePreview", "encode_png", "PIXELATED_CLASS", "pixelated_style"]

Which = Literal["x0", "x_t"]

#: CSS class of images the browser must enlarge by repeating pixels (each model pixel a
#: crisp square; a browser's smooth scaling blurs a 64 px picture into mush).
PIXELATED_CLASS = "ipainter-pixelated"


def pixelated_style() -> widgets.HTML:
    """An invisible widget carrying the ``PIXELATED_CLASS`` rule: put it beside the images."""
    rule = f"<style>.{PIXELATED_CLASS} {{ image-rendering: pixelated; }}</style>"
    return widgets.HTML(rule, layout=widgets.Layout(display="none"))


def encode_png(rgb: np.ndarray, scale: int = 1) -> bytes:
    """An (H,W,3) uint8 array as PNG bytes, enlarged ``scale`` times with nearest neighbour.

    For images shown where no ``PIXELATED_CLASS`` style applies (``scale`` > 1 enlarges
    in the file instead); compress_level=1 because these PNGs are shown once and dropped,
    so encoding speed matters more than size.

    Args:
        rgb: the picture, (H, W, 3) uint8.
        scale: enlargement factor (values below 1 count as 1).

    Returns:
        The PNG file's bytes.
    """
    return png_bytes(upscale_nearest(Image.fromarray(rgb), max(1, int(scale))), compress_level=1)


_ARROW = {"down": "↓ down", "up": "↑ up"}


class LivePreview(widgets.VBox):
    """Per picture, ``x_t`` and the predicted ``x0`` side by side, updated during a run.

    Use ``preview.on_step`` as ``paint()``'s callback (or call it from yours)::

        preview = LivePreview()
        display(preview)
        preview.reset(num_samples=4)  # builds the rows on this (the kernel's) thread
        result = paint(model, image, keep, num_samples=4, callback=preview.on_step)
        preview.show_result(result)  # scrub through the kept frames, save a GIF

    Args:
        max_fps: at most this many updates per second; steps arriving sooner after the
            last shown one are skipped (counted in ``frames_skipped``). The final step of
            a run is always shown; ``flush()`` shows the last skipped one (after a Stop).
        max_overhead: the fraction of wall time frames may cost: when showing a frame
            takes ``e`` seconds here, frames are at least ``(e + frame_cost_s) /
            max_overhead`` apart (None: only ``max_fps`` limits them).
        frame_cost_s: estimated seconds one shown frame costs outside this process (the
            browser's share), counted in the ``max_overhead`` budget (0: only the
            encoding here counts).
        display_size: pictures are shown enlarged by a whole factor (the browser repeats
            pixels) to about this many pixels.
        gif_path: default file for the "Save GIF" button.
        clock: the time source (seconds); replaceable in tests.

    ``steps_seen``, ``frames_shown``, ``frames_skipped`` and ``encode_s`` (seconds spent
    showing frames) describe the last run, for anyone measuring the preview's cost.
    """

    def __init__(
        self,
        max_fps: float = 10.0,
        max_overhead: float | None = 0.05,
        display_size: int = 192,
        gif_path: str | Path = "ipainter_out/paint.gif",
        clock: Callable[[], float] = time.perf_counter,
        frame_cost_s: float = 0.0,
    ) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be positive, got {max_fps}")
        if not frame_cost_s >= 0:
            raise ValueError(f"frame_cost_s must be >= 0 seconds, got {frame_cost_s}")
        self.max_fps = float(max_fps)
        self.frame_cost_s = float(frame_cost_s)
        if max_overhead is not None and not 0 < max_overhead <= 1:
            raise ValueError(f"max_overhead must be in (0, 1] or None, got {max_overhead}")
        self.max_overhead = max_overhead
        self.display_size = int(display_size)
        self._clock = clock
        self._result: PaintResult | None = None
        self._rows: list[tuple[widgets.Image, widgets.Image]] = []
        self._first_sample = 0
        self.label = widgets.Label("x_t (left) and the predicted x0 (right) appear here while painting")
        self.grid = widgets.VBox()
        self.slider = widgets.IntSlider(
            value=0, min=0, max=0, description="frame", disabled=True, continuous_update=True,
            layout=widgets.Layout(width="100%", margin="2px 0"),  # side margins would overflow the box
        )
        self.slider.observe(self._on_slider, names="value")
        self.which = widgets.Dropdown(
            options=[("predicted x0", "x0"), ("noisy x_t", "x_t")], value="x0", description="GIF of",
            layout=widgets.Layout(width="200px"),
        )
        self.gif_path = widgets.Text(value=str(gif_path), description="file", layout=widgets.Layout(width="300px"))
        self.save_gif_button = widgets.Button(description="Save GIF", icon="film", disabled=True)
        self.save_gif_button.on_click(lambda _b: self.save_gif())
        self.message = widgets.HTML("")
        super().__init__(
            [pixelated_style(), self.label, self.grid, self.slider,
             widgets.HBox([self.which, self.gif_path, self.save_gif_button],
                          layout=widgets.Layout(flex_flow="row wrap")),
             self.message]
        )
        self.reset()

    # ----------------------------------------------------------------- run lifecycle

    def reset(self, num_samples: int | None = None, first_sample: int = 0) -> None:
        """Forget the previous run: counters, pending step, scrubber (disabled until the next result).

        Args:
            num_samples: pictures of the coming run: builds exactly that many image rows
                now, so that a run on another thread only assigns values to existing
                widgets and never creates any (None: keep the rows as they are).
            first_sample: the run index of the first picture (``paint(first_sample=...)``),
                for a run painted in several batches.
        """
        self._first_sample = int(first_sample)
        if num_samples is not None:
            self._ensure_rows(num_samples, exact=True)
        self.steps_seen = 0
        self.frames_shown = 0
        self.frames_skipped = 0
        self.encode_s = 0.0
        self._last_shown = -float("inf")
        self._interval = self._budget_interval(0.0)  # grows when frames are slow to show
        self._pending: Step | None = None
        self._latest_x0: torch.Tensor | None = None
        self._latest_x0_t: int | None = None
        self._shown_x0: torch.Tensor | None = None  # the prediction the x0 images show now
        self._result = None
        self.slider.disabled = True
        self.save_gif_button.disabled = True
        self.message.value = ""

    def on_step(self, step: Step) -> None:
        """``paint()`` callback: show this step unless the last shown one is less than
        ``interval_s`` old (1/max_fps, or more when frames are slow to show).

        Returns None (never False), so it never stops the run.

        Args:
            step: the sampler's step; a skipped one is kept and shown by ``flush()``, the
                schedule's last step is always shown.
        """
        self.steps_seen += 1
        if step.x0_pred is not None:
            # a reference only (the sampler makes fresh tensors each step): up steps have
            # no prediction and show the latest one
            self._latest_x0, self._latest_x0_t = step.x0_pred, step.t
        final = step.total_steps > 0 and step.index >= step.total_steps - 1
        now = self._clock()
        if not final and now - self._last_shown < self._interval:
            self.frames_skipped += 1
            self._pending = step
            return None
        self._last_shown = now
        self._show_step(step)
        return None

    @property
    def interval_s(self) -> float:
        """The current minimum time between shown frames."""
        return self._interval

    def flush(self) -> None:
        """Show the last skipped step, if any (a stopped run ends on a skipped step)."""
        if self._pending is not None:
            self._show_step(self._pending)

    def show_result(self, result: PaintResult) -> None:
        """Enable the scrubber over ``result.frames`` (showing the last) and the Save GIF button.

        Args:
            result: the finished or stopped run; its ``frames`` are what the slider replays.
        """
        self.flush()
        self._result = result
        n = len(result.frames)
        status = "stopped" if result.stopped else "done"
        if n == 0:
            self.message.value = f"{status}; no frames were kept for replay (max_frames=0)"
            return
        with self.slider.hold_trait_notifications():
            self.slider.max = n - 1
            self.slider.value = n - 1
        self.slider.disabled = n < 2
        self.save_gif_button.disabled = False
        self._show_frame(n - 1)
        self.message.value = f"{status}: {n} frames kept; drag the slider to replay the run"

    def save_gif(self, path: str | Path | None = None, which: Which | None = None) -> Path | None:
        """Write the shown result as a GIF (the button's action); errors go to the message line.

        Args:
            path: the GIF file (default: the "file" field).
            which: ``"x0"`` (the predicted pictures) or ``"x_t"`` (the noisy ones)
                (default: the "GIF of" dropdown).

        Returns:
            The path written, or None when there is no result yet or the write failed.
        """
        if self._result is None:
            self.message.value = "nothing to save yet: paint first"
            return None
        # viz loads matplotlib: only when a GIF is asked for, not with the widget
        from ipainter_nb.viz import timesteps_gif

        try:
            out = timesteps_gif(self._result, path or self.gif_path.value, which=which or self.which.value)
        except Exception as exc:  # a bad path must not escape into the notebook log
            self.message.value = f"<span style='color:#b00'>could not save the GIF: {exc}</span>"
            return None
        self.message.value = f"saved {Path(out).resolve()}"
        return out

    # ----------------------------------------------------------------- drawing

    def _ensure_rows(self, n: int, exact: bool = False) -> None:
        """At least ``n`` rows (exactly ``n`` with ``exact``); existing rows keep their images."""
        if exact:
            del self._rows[n:]
        while len(self._rows) < n:
            xt, x0 = widgets.Image(format="png"), widgets.Image(format="png")
            xt.add_class(PIXELATED_CLASS)
            x0.add_class(PIXELATED_CLASS)
            self._rows.append((xt, x0))
        if len(self.grid.children) != len(self._rows):
            self.grid.children = [
                # the label keeps its text's width (shrunk by the images, it was cut to "samp…")
                widgets.HBox([widgets.Label(f"sample {self._first_sample + k}", layout=widgets.Layout(width="auto", flex="0 0 auto")),
                              xt, x0],
                             layout=widgets.Layout(align_items="center"))
                for k, (xt, x0) in enumerate(self._rows)]

    def _set_images(self, first: int, x_t: torch.Tensor, x0: torch.Tensor | None) -> None:
        """Rows ``first`` .. ``first + n - 1``: x_t, and x0 unless it is None (left as it is)."""
        xt_u8 = tensor_to_uint8(x_t)
        x0_u8 = None if x0 is None else tensor_to_uint8(x0)
        self._ensure_rows(first + xt_u8.shape[0])
        # a whole factor: every model pixel the same number of screen pixels
        scale = max(1, self.display_size // max(xt_u8.shape[1], 1))
        width, height = xt_u8.shape[2] * scale, xt_u8.shape[1] * scale
        for k in range(xt_u8.shape[0]):
            w_xt, w_x0 = self._rows[first + k]
            w_xt.value = encode_png(xt_u8[k])
            if x0_u8 is not None:
                w_x0.value = encode_png(x0_u8[k])
            for image in (w_xt, w_x0):
                image.width, image.height = width, height  # (sent only when they change)

    def _show_step(self, step: Step) -> None:
        tick = time.perf_counter()
        x0 = self._latest_x0 if self._latest_x0 is not self._shown_x0 else None  # unchanged: keep its PNGs
        self._set_images(step.first_sample - self._first_sample, step.x_t, x0)
        self._shown_x0 = self._latest_x0
        stale = "" if step.x0_pred is not None or self._latest_x0_t is None else f" (x0 from t={self._latest_x0_t})"
        self.label.value = (
            f"t={step.t} {_ARROW.get(step.direction, step.direction)} · step {step.index + 1}/{step.total_steps} · "
            f"NFE {step.nfe_so_far}/{step.total_nfe} · {step.elapsed_s:.1f} s{stale}"
        )
        self._pending = None
        self.frames_shown += 1
        took = time.perf_counter() - tick
        self.encode_s += took
        self._interval = self._budget_interval(took)

    def _budget_interval(self, encode_s: float) -> float:
        """Seconds between two frames: 1/max_fps, or more when a frame's cost (``encode_s``
        here plus ``frame_cost_s`` in the browser) would exceed ``max_overhead`` of the time."""
        interval = 1.0 / self.max_fps
        if self.max_overhead is not None:
            interval = max(interval, (encode_s + self.frame_cost_s) / self.max_overhead)
        return interval

    @staticmethod
    def _latest_prediction(i: int, frames: Sequence[Frame]) -> Frame | None:
        for j in range(i, -1, -1):
            if frames[j].x0_pred is not None:
                return frames[j]
        return None

    def _show_frame(self, i: int) -> None:
        assert self._result is not None
        frames = self._result.frames
        frame = frames[i]
        with_x0 = self._latest_prediction(i, frames)
        self._set_images(self._result.first_sample - self._first_sample, frame.x_t, None if with_x0 is None else with_x0.x0_pred)
        self._shown_x0 = None  # the x0 images now show a replayed frame
        stale = "" if with_x0 is frame or with_x0 is None else f" (x0 from t={with_x0.t})"
        self.label.value = (
            f"frame {i + 1}/{len(frames)} · t={frame.t} {_ARROW.get(frame.direction, frame.direction)} · "
            f"step {frame.index + 1} · NFE {frame.nfe} · {frame.elapsed_s:.1f} s{stale}"
        )

    def _on_slider(self, change: dict) -> None:
        if self._result is not None and self._result.frames:
            self._show_frame(int(change["new"]))
