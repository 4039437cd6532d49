"""Live timestep previews while ``paint()`` runs, a scrubber over the kept frames, GIF export.

``LivePreview.on_step`` is a ``paint()`` callback: for every sample it shows the current
noisy sample ``x_t`` beside the model's clean-image prediction ``x0``. It is throttled by
wall time (``max_fps``), and a skipped step costs only a clock read and a few attribute
stores: tensors are converted and PNG-encoded only for the frames actually shown. Where
encoding is slow (many samples, a busy CPU), frames are spaced further apart so that it
takes at most ``max_overhead`` of the wall time. The final step is always shown.

After the run, ``show_result(result)`` turns the widget into a player over
``result.steps`` (the frames ``paint()`` kept, ``max_frames`` of them) with a "Save GIF"
button; ``export_gif`` is the same export as a plain function.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from ipainter_nb.core.sampler import Frame, PaintResult, Step
from ipainter_nb.images import make_grid, write_bytes_atomic

__all__ = ["LivePreview", "export_gif", "encode_png"]

Which = Literal["x0", "x_t"]


# --------------------------------------------------------------------------- encoding helpers


def _as_uint8_hwc(batch: torch.Tensor) -> np.ndarray:
    """(N,3,H,W) float in [-1,1] or uint8 -> (N,H,W,3) uint8.

    Done in numpy on purpose: torch spreads even this tiny op over its intra-op thread
    pool, and on a busy CPU (the model running in another thread) waking that pool costs
    tens of milliseconds, against about 0.1 ms single-threaded.
    """
    a = batch.detach().cpu()
    if a.dtype == torch.uint8:
        return np.ascontiguousarray(a.numpy().transpose(0, 2, 3, 1))
    f = a.numpy() if a.dtype == torch.float32 else a.float().numpy()
    u8 = np.rint((np.clip(f, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.ascontiguousarray(u8.transpose(0, 2, 3, 1))


def encode_png(rgb: np.ndarray, scale: int = 1) -> bytes:
    """An (H,W,3) uint8 array as PNG bytes, enlarged ``scale`` times with nearest neighbour.

    Nearest keeps each model pixel a crisp square (a browser's smooth scaling blurs a 64 px
    picture into mush); compress_level=1 because these PNGs are shown once and dropped, so
    encoding speed matters more than size.
    """
    img = Image.fromarray(rgb)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# --------------------------------------------------------------------------- GIF export


def _frame_grid(batch_u8: torch.Tensor, nrow: int, scale: int) -> Image.Image:
    # make_grid takes [-1, 1]; u8 / 127.5 - 1 maps back to the same bytes exactly
    grid = make_grid(batch_u8.float() / 127.5 - 1.0, nrow=nrow)
    if scale > 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.Resampling.NEAREST)
    return grid


def export_gif(
    result: PaintResult,
    path: str | Path,
    which: Which = "x0",
    fps: float = 10.0,
    scale: int = 4,
    nrow: int | None = None,
    hold_last_s: float = 1.0,
) -> Path:
    """Write the run kept in ``result.steps`` as an animated, looping GIF; return its path.

    Each GIF frame is a grid of all samples (``nrow`` per row, default all in one row),
    enlarged ``scale`` times (nearest). ``which="x_t"`` animates the noisy samples (one GIF
    frame per kept step); ``which="x0"`` the model's predictions, using only the kept
    steps that have one (up steps make no prediction). The last frame stays for
    ``hold_last_s`` so a looping viewer shows the result. The file is written atomically
    (parent folders are created). GIF writers merge identical consecutive frames, adding
    up their durations, so a run that stops changing gives fewer frames.
    """
    if which not in ("x0", "x_t"):
        raise ValueError(f"which must be 'x0' or 'x_t', got {which!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    if which == "x_t":
        batches = [f.x_t for f in result.steps]
    else:
        batches = [f.x0_pred for f in result.steps if f.x0_pred is not None]
    if not batches:
        raise ValueError(
            f"result has no kept frames with {which} to animate (was paint() called with max_frames=0?)"
        )
    nrow = nrow or batches[0].shape[0]
    images = [_frame_grid(b, nrow, scale) for b in batches]
    frame_ms = max(20, round(1000 / fps))  # most viewers treat < 20 ms as 100 ms
    durations = [frame_ms] * len(images)
    durations[-1] = max(frame_ms, round(1000 * hold_last_s))
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(path, buf.getvalue())


# --------------------------------------------------------------------------- the widget


_ARROW = {"down": "↓ down", "up": "↑ up"}


class LivePreview(widgets.VBox):
    """Per sample, ``x_t`` and the predicted ``x0`` side by side, updated during a run.

    Use ``preview.on_step`` as ``paint()``'s callback (or call it from yours)::

        preview = LivePreview()
        display(preview)
        result = paint(model, image, keep, callback=preview.on_step)
        preview.show_result(result)  # scrub through the kept frames, save a GIF

    Args:
        max_fps: at most this many updates per second; steps arriving sooner after the
            last shown one are skipped (counted in ``frames_skipped``). The final step of
            a run is always shown; ``flush()`` shows the last skipped one (after a Stop).
        max_overhead: the fraction of wall time frames may cost: when encoding a frame
            takes ``e`` seconds, frames are at least ``e / max_overhead`` apart (None: only
            ``max_fps`` limits them).
        display_size: pictures are enlarged by an integer factor (nearest) to about this
            many pixels.
        gif_path: default file for the "Save GIF" button.
        clock: the time source (seconds); replaceable in tests.
    """

    def __init__(
        self,
        max_fps: float = 10.0,
        max_overhead: float | None = 0.05,
        display_size: int = 192,
        gif_path: str | Path = "ipainter_out/paint.gif",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be positive, got {max_fps}")
        self.max_fps = float(max_fps)
        if max_overhead is not None and not 0 < max_overhead <= 1:
            raise ValueError(f"max_overhead must be in (0, 1] or None, got {max_overhead}")
        self.max_overhead = max_overhead
        self.display_size = int(display_size)
        self._clock = clock
        self._result: PaintResult | None = None
        self._rows: list[tuple[widgets.Image, widgets.Image]] = []
        self.label = widgets.Label("x_t (left) and the predicted x0 (right) appear here while painting")
        self.grid = widgets.VBox()
        self.slider = widgets.IntSlider(
            value=0, min=0, max=0, description="frame", disabled=True, continuous_update=True,
            layout=widgets.Layout(width="100%"),
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
            [self.label, self.grid, self.slider,
             widgets.HBox([self.which, self.gif_path, self.save_gif_button]), self.message]
        )
        self.reset()

    # ----------------------------------------------------------------- run lifecycle

    def reset(self, num_samples: int | None = None) -> None:
        """Forget the previous run: counters, pending step, scrubber (disabled until the next result).

        ``num_samples`` builds the image rows now, so that a run on another thread only
        assigns values to existing widgets and never creates any.
        """
        if num_samples is not None:
            self._ensure_rows(num_samples)
        self.steps_seen = 0
        self.frames_shown = 0
        self.frames_skipped = 0
        self.encode_s = 0.0  # time spent converting and encoding shown frames
        self._last_shown = -float("inf")
        self._interval = 1.0 / self.max_fps  # grows when frames are slow to encode
        self._pending: Step | None = None
        self._latest_x0: torch.Tensor | None = None
        self._latest_x0_t: int | None = None
        self._result = None
        self.slider.disabled = True
        self.save_gif_button.disabled = True
        self.message.value = ""

    def on_step(self, step: Step) -> None:
        """``paint()`` callback: show this step unless the last shown one is less than
        ``interval_s`` old (1/max_fps, or more when frames are slow to encode).

        Returns None (never False), so it never stops the run.
        """
        self.steps_seen += 1
        if step.x0_pred is not None:
            # keep a reference only (the sampler makes fresh tensors each step): up steps
            # have no prediction and show the latest one
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
        """Enable the scrubber over ``result.steps`` (showing the last) and the Save GIF button."""
        self.flush()
        self._result = result
        n = len(result.steps)
        status = "stopped" if result.cancelled else "done"
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
        """Export the shown result (the button's action); errors go to the message line."""
        if self._result is None:
            self.message.value = "nothing to save yet: paint first"
            return None
        try:
            out = export_gif(self._result, path or self.gif_path.value, which=which or self.which.value)
        except Exception as exc:  # a bad path must not escape into the notebook log
            self.message.value = f"<span style='color:#b00'>could not save the GIF: {exc}</span>"
            return None
        self.message.value = f"saved {out}"
        return out

    # ----------------------------------------------------------------- drawing

    def _ensure_rows(self, n: int) -> None:
        if len(self._rows) != n:
            rows, boxes = [], []
            for k in range(n):
                xt, x0 = widgets.Image(format="png"), widgets.Image(format="png")
                rows.append((xt, x0))
                caption = widgets.Label(f"sample {k}")
                boxes.append(widgets.HBox([caption, xt, x0], layout=widgets.Layout(align_items="center")))
            self._rows = rows
            self.grid.children = boxes

    def _set_images(self, x_t: np.ndarray, x0: np.ndarray | None) -> None:
        self._ensure_rows(x_t.shape[0])
        scale = max(1, self.display_size // max(x_t.shape[1], 1))
        for k, (w_xt, w_x0) in enumerate(self._rows):
            w_xt.value = encode_png(x_t[k], scale)
            if x0 is not None:
                w_x0.value = encode_png(x0[k], scale)

    def _show_step(self, step: Step) -> None:
        tick = time.perf_counter()
        x0 = None if self._latest_x0 is None else _as_uint8_hwc(self._latest_x0)
        self._set_images(_as_uint8_hwc(step.x_t), x0)
        stale = "" if step.x0_pred is not None or self._latest_x0_t is None else f" (x0 from t={self._latest_x0_t})"
        self.label.value = (
            f"t={step.t} {_ARROW.get(step.direction, step.direction)} · step {step.index + 1}/{step.total_steps} · "
            f"NFE {step.nfe_so_far}/{step.total_nfe} · {step.elapsed_s:.1f} s{stale}"
        )
        self._pending = None
        self.frames_shown += 1
        took = time.perf_counter() - tick
        self.encode_s += took
        self._interval = 1.0 / self.max_fps
        if self.max_overhead is not None:
            self._interval = max(self._interval, took / self.max_overhead)

    def _latest_x0_frame(self, i: int, steps: Sequence[Frame]) -> Frame | None:
        for j in range(i, -1, -1):
            if steps[j].x0_pred is not None:
                return steps[j]
        return None

    def _show_frame(self, i: int) -> None:
        assert self._result is not None
        frame = self._result.steps[i]
        with_x0 = self._latest_x0_frame(i, self._result.steps)
        x0 = None if with_x0 is None else _as_uint8_hwc(with_x0.x0_pred)  # type: ignore[arg-type]
        self._set_images(_as_uint8_hwc(frame.x_t), x0)
        stale = "" if with_x0 is frame or with_x0 is None else f" (x0 from t={with_x0.t})"
        self.label.value = (
            f"frame {i + 1}/{len(self._result.steps)} · t={frame.t} {_ARROW.get(frame.direction, frame.direction)} · "
            f"step {frame.index + 1} · NFE {frame.nfe} · {frame.elapsed_s:.1f} s{stale}"
        )

    def _on_slider(self, change: dict) -> None:
        if self._result is not None and self._result.steps:
            self._show_frame(int(change["new"]))
