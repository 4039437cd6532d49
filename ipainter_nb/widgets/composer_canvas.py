"""The Composer's canvas view: a picture layer and an overlay at an integer display scale,
each redraw one batched message, throttled during gestures.

``CanvasView`` knows nothing of edits: it is given what to show (the rendered picture, the
keep mask when the mask is shown, the selection's box) and calls back ``redraw()`` when a
browser view needs a frame (a reload, a deferred frame of a gesture). Drawing follows
ipycanvas' advice: all commands of a redraw are batched in one ``hold_canvas()`` message, and
the picture travels as ONE image per redraw, at canvas resolution, enlarged by the browser
with image smoothing off so every canvas pixel stays a crisp square.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas

from ipainter_nb.images import tensor_to_uint8
from ipainter_nb.widgets.arguments import check_positive
from ipainter_nb.widgets.scale_control import small_note

__all__ = ["CanvasView", "default_display_scale", "opaque_rgba", "mask_tint", "CANVAS_HINT"]

#: The canvas' one-line guide to what the mouse and keys do.
CANVAS_HINT = "drag: move · wheel: scale · arrows: nudge · f: flip · Del: delete · Ctrl+Z: undo"
_MASK_RGBA = (255, 64, 160, 110)  # tint of the region the model will generate


def default_display_scale(width: int, height: int) -> int:
    """Screen pixels per canvas pixel: 64 px -> x6 (384), 256 px -> x2 (512).

    An integer factor keeps every canvas pixel the same size on screen; at most 512 px
    (the notebook column) and never more than x6.

    Args:
        width: canvas width in canvas pixels.
        height: canvas height in canvas pixels.
    """
    return max(1, min(6, 512 // max(width, height)))


class CanvasView:
    """Two stacked canvases (picture, overlay) and the hint under them, in ``canvas_box``.

    Args:
        size: (width, height) of the composition, canvas pixels.
        display_scale: screen pixels per canvas pixel (None: ``default_display_scale``).
        max_fps: cap (> 0) on frames per second through ``request_frame``.
        redraw: called without arguments when a full frame is needed (a new browser view, a
            deferred frame).

    >>> view = CanvasView((64, 64), None, 30.0, redraw=lambda: None)
    >>> view.scale, (view.canvas.width, view.canvas.height)
    (6.0, (384, 384))
    """

    def __init__(self, size: tuple[int, int], display_scale: float | None, max_fps: float,
                 redraw: Callable[[], Any]) -> None:
        self.max_fps = check_positive("max_fps", max_fps)
        self._fixed = None if display_scale is None else check_positive("display_scale", display_scale)
        self._redraw = redraw
        self.scale = self._pick_scale(size)
        self.dirty = False  # a throttled frame waits to be drawn
        self._last_frame = -math.inf
        self._trailing: asyncio.TimerHandle | None = None
        self.clock: Callable[[], float] = time.monotonic
        w, h = self._display_size(size)
        # [0] picture, [1] overlay (mask tint, selection outline); the top one gets events.
        self.canvas = MultiCanvas(2, width=w, height=h)
        # A fresh browser view (page reload, second view) starts blank: draw again.
        for layer_canvas in (self.canvas[0], self.canvas[1]):
            layer_canvas.on_client_ready(redraw)
        self.hint = W.HTML(small_note(CANVAS_HINT))
        # As wide as the canvas (the hint wraps): a wider box would stretch the canvas
        # by a fraction and make its pixels uneven.
        self.canvas_box = W.VBox([self.canvas, self.hint], layout=W.Layout(
            flex="0 0 auto", width=f"{w}px", align_self="flex-start", margin="0 0 4px 0"))
        self.canvas_box.add_class("ipainter-canvas")

    def _pick_scale(self, size: tuple[int, int]) -> float:
        return float(default_display_scale(*size)) if self._fixed is None else self._fixed

    def _display_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return max(1, round(size[0] * self.scale)), max(1, round(size[1] * self.scale))

    def fit(self, size: tuple[int, int]) -> None:
        """Take the display scale and size of a composition of ``size``.

        Args:
            size: (width, height) of the composition, canvas pixels.
        """
        self.scale = self._pick_scale(size)
        self.canvas.width, self.canvas.height = self._display_size(size)
        self.canvas_box.layout.width = f"{self.canvas.width}px"

    def request_frame(self) -> None:
        """Redraw now unless the last frame is younger than 1/max_fps; then redraw later."""
        wait = self._last_frame + 1.0 / self.max_fps - self.clock()
        if wait <= 0:
            self._redraw()
            return
        self.dirty = True
        if self._trailing is None:
            try:
                loop = asyncio.get_running_loop()  # the kernel's loop; absent in plain Python
            except RuntimeError:
                return  # mouse-up (or the next event) draws the final frame
            self._trailing = loop.call_later(wait, self._trailing_frame)

    def _trailing_frame(self) -> None:
        self._trailing = None
        if self.dirty:
            self._redraw()

    def show(self, image: Any, keep: Any, outline: tuple[float, float, float, float] | None) -> None:
        """One batched message: the picture (when ``image`` is given) and the overlay.

        Args:
            image: the rendered composition, (3, H, W) in [-1, 1], or None to keep the picture shown.
            keep: its keep mask, (1, H, W), to tint the generated region, or None for no tint.
            outline: the selected layer's box (x0, y0, x1, y1) in canvas pixels, or None.
        """
        s = self.scale
        pic, over = self.canvas[0], self.canvas[1]
        with hold_canvas():
            if image is not None:
                pic.clear()
                _put_enlarged(pic, opaque_rgba(image), s)
            over.clear()
            if keep is not None:
                _put_enlarged(over, mask_tint(keep), s)
            if outline is not None:
                x0, y0, x1, y1 = outline
                rect = (x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s)
                # A dark line under a light dashed one shows on any background.
                over.set_line_dash([])
                over.line_width = 3
                over.stroke_style = "rgba(0, 0, 0, 0.7)"
                over.stroke_rect(*rect)
                over.set_line_dash([6, 4])
                over.line_width = 1.5
                over.stroke_style = "#4fc3f7"
                over.stroke_rect(*rect)
        if image is not None:
            self.dirty = False
            self._last_frame = self.clock()


def _put_enlarged(canvas: Any, rgba: np.ndarray, s: float) -> None:
    """Send a canvas-resolution image once; the browser enlarges it ``s`` times with image
    smoothing off, so each canvas pixel is a crisp square (ipycanvas draws put_image_data
    through drawImage, which follows the transform and the smoothing setting)."""
    canvas.save()
    canvas.set_transform(s, 0, 0, s, 0, 0)
    canvas.image_smoothing_enabled = False
    canvas.put_image_data(rgba, 0, 0)
    canvas.restore()


def opaque_rgba(image: Any) -> np.ndarray:
    """A rendered picture as the canvas shows it.

    Args:
        image: (3, H, W) float in [-1, 1].

    Returns:
        (H, W, 4) uint8, opaque.
    """
    rgb = tensor_to_uint8(image)
    # RGBA, because ipycanvas sends RGBA as (lossless) PNG but RGB as JPEG.
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


def mask_tint(keep: Any) -> np.ndarray:
    """The overlay of the mask: the generated region tinted, the kept region transparent.

    Args:
        keep: (1, H, W) keep mask (1 = keep).

    Returns:
        (H, W, 4) uint8.
    """
    out = np.zeros((*keep.shape[1:], 4), np.uint8)
    out[keep[0].numpy() < 0.5] = _MASK_RGBA
    return out
