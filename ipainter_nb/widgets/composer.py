"""Composer: place landmark cutouts on a canvas in a notebook, with the mouse.

The widget is a thin view over a ``Composition``: every edit goes through the
composition's public methods, and the composer hears about changes the one way anyone
does, ``Composition.observe``; so ``composer.composition`` is always the truth and whoever
observes it (the Painter) hears every change, from the canvas or from code.

State is in traitlets (``composition``, ``selected``, ``layer_scale``) and the widget
reacts to them with ``@observe``; the cutouts to place come from a ``Palette`` (its own
widget), whose ``on_pick`` / ``on_upload`` events the composer listens to.

Drawing follows ipycanvas' advice: all commands of a redraw are batched in one
``hold_canvas()`` message, and the picture travels as ONE image per redraw, at canvas
resolution (64x64 for the demo model), enlarged by the browser with image smoothing off
so every canvas pixel stays a crisp square. During a drag, a wheel turn or a slider drag
only the picture and the overlay (selection outline, optional mask) are redrawn, at most
``max_fps`` times a second.

Every handler the browser triggers is a public method taking DISPLAY pixels
(``on_mouse_down(x, y)``, ...), so tests and scripts can drive the widget without a
browser.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from traitlets import Float, Instance, observe, validate

from ipainter_nb.core.composition import Composition, Layer
from ipainter_nb.images import tensor_to_uint8
from ipainter_nb.widgets.composer_edits import FIT_FRACTION, ComposerEdits, _Snapshot, fitting_scale
from ipainter_nb.widgets.palette import CutoutSource, Palette
from ipainter_nb.widgets.scale_control import MAX_SCALE, MIN_SCALE, SCALE_STEP, ScaleControl, small_note

__all__ = ["Composer", "default_display_scale", "fitting_scale", "MIN_SCALE", "MAX_SCALE", "SCALE_STEP",
           "FIT_FRACTION", "MIN_WIDTH_PX"]

#: One wheel notch (100 px of deltaY) scales by about exp(0.15): 16%.
_WHEEL_RATE = 0.0015
#: The canvas' one-line guide to what the mouse and keys do.
CANVAS_HINT = "drag: move · wheel: scale · arrows: nudge · f: flip · Del: delete · Ctrl+Z: undo"

#: The Composer is never narrower than this (CSS pixels), whatever the canvas: its tools
#: and the Scale slider need it.
MIN_WIDTH_PX = 360
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


@dataclass
class _Drag:
    layer: Layer
    mouse_x: float  # display pixels where the button went down
    mouse_y: float
    start_x: int  # layer position then, canvas pixels
    start_y: int
    before: _Snapshot
    moved: bool = False


class Composer(ComposerEdits, W.VBox):
    """Place, move, scale, flip, reorder and delete cutouts on a canvas, with undo.

    Args:
        composition: the composition to edit (default: a new empty one of ``size``).
        size: canvas size, ``n`` or ``(width, height)``, of that new composition.
        cutouts: what the palette offers: ``"demo"`` (the shipped pack), a folder, a
            mapping of name -> path or PIL image, or ``None`` for an empty palette.
        display_scale: screen pixels per canvas pixel (default: ``default_display_scale``).
        max_fps: cap (> 0) on redraws per second while dragging, scrolling or sliding.
        **kwargs: passed on to ``ipywidgets.VBox`` (e.g. ``layout``).

    >>> composer = Composer(size=64)
    >>> sun = composer.add_cutout("sun")            # centred, on top, selected
    >>> composer.on_mouse_down(192, 192); composer.on_mouse_move(252, 192)
    >>> composer.on_mouse_up(252, 192)              # dragged 60 display px = 10 canvas px
    >>> composer.layer_scale = 1.5; composer.undo()  # the Scale slider's value, undone (True: there was one)
    True
    """

    #: The composition being edited; assign another (e.g. one loaded from JSON) to edit it
    #: instead: selection and undo history are cleared, the canvas takes its size.
    composition = Instance(Composition)
    #: The selected layer (outlined on the canvas), or None.
    selected = Instance(Layer, allow_none=True)
    #: The selected layer's scale; setting it scales that layer about its centre. With no
    #: layer selected it reads 1.0 and setting it does nothing.
    layer_scale = Float(1.0)

    def __init__(
        self,
        composition: Composition | None = None,
        *,
        size: int | tuple[int, int] = 64,
        cutouts: CutoutSource = "demo",
        display_scale: float | None = None,
        max_fps: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_fps <= 0:
            raise ValueError(f"max_fps: expected a positive number, got {max_fps!r}")
        self.max_fps = float(max_fps)
        self._fixed_scale = display_scale
        comp = composition if composition is not None else Composition(size)
        self._scale = self._pick_scale(display_scale, comp)
        self._drag: _Drag | None = None
        self._undo: list[_Snapshot] = []
        self._redo: list[_Snapshot] = []
        self._last_key: str | None = None  # coalesces a slider drag or wheel turns into one undo step
        self._scale_anchor: tuple[float, float] | None = None
        self._message: tuple[str, str] = ("info", "")
        self._syncing = False  # True while the widget sets its own controls
        self._continuous = False  # True inside a drag/wheel/slider update: throttle redraws
        self._dirty = False
        self._last_frame = -math.inf
        self._trailing: asyncio.TimerHandle | None = None
        self._clock: Callable[[], float] = time.monotonic
        self._gesture_end = W.CallbackDispatcher()

        self._build_canvas(comp)
        self._build_tools()
        self.palette = Palette(cutouts)
        self.palette.on_pick(self.place_from_palette)
        self.palette.on_upload(self.place_intake)
        #: One line of feedback: errors, warnings, off-canvas layers.
        self.status = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.status.add_class("ipainter-composer-status")
        # One column as wide as the canvas (or MIN_WIDTH_PX): the tools and the palette
        # wrap inside it, so the Composer's width never depends on the window's.
        self.children = [self.canvas_box, self.tools, self.palette, self.status]
        self.layout.flex = "0 0 auto"
        self.layout.align_items = "stretch"
        self.add_class("ipainter-composer")

        self.composition = comp  # wires it up: see _on_composition_replaced
        self._report(self.palette.first_intake)

    # ------------------------------------------------------------------ properties

    @property
    def in_gesture(self) -> bool:
        """True during a drag, wheel turn or slider drag: edits that come many times a second."""
        return self._drag is not None or self._continuous

    def on_gesture_end(self, callback: Callable[[], Any], remove: bool = False) -> None:
        """Call ``callback()`` when a drag that moved a layer ends (the mouse-up).

        Args:
            callback: called without arguments, on the kernel's thread.
            remove: unregister ``callback`` instead.
        """
        self._gesture_end.register_callback(callback, remove=remove)

    @property
    def display_scale(self) -> float:
        """Screen pixels per canvas pixel."""
        return self._scale

    @property
    def cutout_names(self) -> list[str]:
        """Names in the palette, in palette order."""
        return self.palette.names

    @property
    def status_text(self) -> str:
        """The status line as plain text (what the user reads)."""
        return " ".join(text for _, text in self._status_parts())

    @property
    def show_mask(self) -> bool:
        """Whether the keep mask is shown over the picture (generated region tinted)."""
        return self.mask_toggle.value

    @show_mask.setter
    def show_mask(self, value: bool) -> None:
        self.mask_toggle.value = bool(value)

    # ------------------------------------------------------------------ building

    @staticmethod
    def _pick_scale(fixed: float | None, comp: Composition) -> float:
        if fixed is None:
            return float(default_display_scale(comp.width, comp.height))
        if not isinstance(fixed, (int, float)) or isinstance(fixed, bool) or not fixed > 0:
            raise ValueError(f"display_scale: expected a positive number, got {fixed!r}")
        return float(fixed)

    def _display_size(self, comp: Composition) -> tuple[int, int]:
        return max(1, round(comp.width * self._scale)), max(1, round(comp.height * self._scale))

    def _build_canvas(self, comp: Composition) -> None:
        w, h = self._display_size(comp)
        # [0] picture, [1] overlay (mask tint, selection outline); the top one gets events.
        self.canvas = MultiCanvas(2, width=w, height=h)
        self.canvas.on_mouse_down(self.on_mouse_down)
        self.canvas.on_mouse_move(self.on_mouse_move)
        self.canvas.on_mouse_up(self.on_mouse_up)
        self.canvas.on_mouse_out(self.on_mouse_out)
        self.canvas.on_mouse_wheel(self.on_mouse_wheel)  # ipycanvas stops the page scrolling
        self.canvas.on_key_down(self.on_key_down)
        # A fresh browser view (page reload, second view) starts blank: draw again.
        for layer_canvas in (self.canvas[0], self.canvas[1]):
            layer_canvas.on_client_ready(self.redraw)
        self.hint = W.HTML(small_note(CANVAS_HINT))
        # As wide as the canvas (the hint wraps): a wider box would stretch the canvas
        # by a fraction and make its pixels uneven.
        self.canvas_box = W.VBox([self.canvas, self.hint], layout=W.Layout(
            flex="0 0 auto", width=f"{w}px", align_self="flex-start", margin="0 0 4px 0"))
        self.canvas_box.add_class("ipainter-canvas")

    def _fit_width(self) -> None:
        """The column takes the canvas' width (at least MIN_WIDTH_PX); nothing in it is wider."""
        self.canvas_box.layout.width = f"{self.canvas.width}px"
        self.layout.width = self.layout.min_width = f"{max(self.canvas.width, MIN_WIDTH_PX)}px"

    @staticmethod
    def _button(description: str, icon: str, tooltip: str, action: Callable[[], Any]) -> W.Button:
        # Never shrinks below its label: the tool box wraps instead.
        button = W.Button(description=description, icon=icon, tooltip=tooltip,
                          layout=W.Layout(width="auto", min_width="2.8em", flex="0 0 auto", margin="2px"))
        button.on_click(lambda _b: action())
        return button

    def _build_tools(self) -> None:
        self.undo_button = self._button("Undo", "undo", "Undo (Ctrl+Z)", self.undo)
        self.redo_button = self._button("Redo", "repeat", "Redo (Ctrl+Shift+Z)", self.redo)
        self.delete_button = self._button("Delete", "trash", "Delete the selected layer (Delete)",
                                          self.delete_selected)
        self.flip_button = self._button("Flip", "arrows-h", "Mirror the selected layer (f)", self.flip_selected)
        self.forward_button = self._button("Forward", "arrow-up", "Bring forward (])", self.forward)
        self.backward_button = self._button("Backward", "arrow-down", "Send backward ([)", self.backward)
        self.bring_back_button = self._button(
            "Bring back", "compress", "Move layers that are off the canvas back onto it", self.bring_back)
        self.mask_toggle = W.ToggleButton(value=False, description="Show mask", icon="eye",
                                          tooltip="Tint the region the model will paint",
                                          layout=W.Layout(width="auto", min_width="2.8em", flex="0 0 auto",
                                                          margin="2px"))
        self.mask_toggle.observe(lambda _c: self._draw(picture=False), "value")
        self.scale_control = ScaleControl(on_step=self._scale_step)
        self.scale_slider = self.scale_control.slider
        self.scale_slider.observe(self._on_slider, "value")
        self.tools = W.Box(
            [self.undo_button, self.redo_button, self.delete_button, self.flip_button, self.forward_button,
             self.backward_button, self.mask_toggle, self.bring_back_button, self.scale_control],
            layout=W.Layout(display="flex", flex_flow="row wrap", align_content="flex-start", width="100%",
                            min_width="0"))
        self.tools.add_class("ipainter-tools")

    # ------------------------------------------------------------------ traits

    @observe("composition")
    def _on_composition_replaced(self, change: Any) -> None:
        old, new = change["old"], change["new"]
        self._end_drag()
        if isinstance(old, Composition):  # the first assignment replaces a placeholder
            old.unobserve(self._on_composition_changed)
        new.observe(self._on_composition_changed)
        self._scale = self._pick_scale(self._fixed_scale, new)
        self.canvas.width, self.canvas.height = self._display_size(new)
        self._fit_width()
        self._undo.clear()
        self._redo.clear()
        self._last_key = None
        self.selected = None
        self._on_composition_changed(new)

    def set_composition(self, composition: Composition) -> None:
        """Edit another composition (e.g. one loaded from JSON): ``composer.composition = it``.

        Args:
            composition: the composition to edit from now on (selection and undo are cleared).
        """
        self.composition = composition

    @validate("selected")
    def _check_selected(self, proposal: Any) -> Layer | None:
        layer = proposal["value"]
        if layer is not None and layer not in self.composition:
            raise ValueError(f"{layer!r} is not in the composition; select one of composer.composition.layers")
        return layer

    @observe("selected")
    def _on_selected(self, _change: Any) -> None:
        self._sync_controls()
        self._draw(picture=False)

    @validate("layer_scale")
    def _clamp_scale(self, proposal: Any) -> float:
        if self._current() is None:
            return 1.0  # neutral: there is no layer whose scale it could be
        return min(MAX_SCALE, max(MIN_SCALE, float(proposal["value"])))

    @observe("layer_scale")
    def _on_layer_scale(self, change: Any) -> None:
        if not self._syncing:
            self.set_scale(change["new"])

    # ------------------------------------------------------------------ mouse and keys

    def on_mouse_down(self, x: float, y: float) -> None:
        """Select the topmost layer with a visible pixel under (x, y) display pixels and
        start dragging it; on a transparent spot, select nothing.

        Args:
            x: pointer position from the canvas' left edge, in display pixels.
            y: pointer position from the canvas' top edge, in display pixels.
        """
        self._end_drag()
        s = self._scale
        layer = self._comp.layer_at(x / s, y / s)
        self.selected = layer
        if layer is not None:
            self._drag = _Drag(layer, x, y, layer.x, layer.y, self._snapshot())

    def on_mouse_move(self, x: float, y: float) -> None:
        """While dragging, move the layer by the mouse's travel / display scale.

        Args:
            x: pointer position from the canvas' left edge, in display pixels.
            y: pointer position from the canvas' top edge, in display pixels.
        """
        drag = self._drag
        if drag is None or drag.layer not in self._comp:
            return
        s = self._scale
        # From the start of the drag, not the last event: rounding never accumulates.
        nx = drag.start_x + math.floor((x - drag.mouse_x) / s + 0.5)
        ny = drag.start_y + math.floor((y - drag.mouse_y) / s + 0.5)
        if (nx, ny) == (drag.layer.x, drag.layer.y):
            return
        if not drag.moved:
            self._record(snapshot=drag.before)
            drag.moved = True
        self._continuous = True
        try:
            self._comp.move_to(drag.layer, nx, ny)
        finally:
            self._continuous = False

    def on_mouse_up(self, x: float, y: float) -> None:
        """Finish a drag at (x, y) and draw its final frame.

        Args:
            x: pointer position where the button went up, in display pixels.
            y: pointer position where the button went up, in display pixels.
        """
        if self._drag is not None:
            self.on_mouse_move(x, y)
        self._end_drag()

    def on_mouse_out(self, x: float, y: float) -> None:
        """The pointer left the canvas: the button-up would be missed, so finish the drag here.

        Args:
            x: last pointer position reported on the canvas, in display pixels.
            y: last pointer position reported on the canvas, in display pixels.
        """
        self.on_mouse_up(x, y)

    def on_mouse_wheel(self, dx: float, dy: float) -> None:
        """Scale the selected layer: wheel up enlarges (about 16% per notch of 100 px).

        Args:
            dx: horizontal wheel travel (ignored).
            dy: vertical wheel travel in pixels; negative (wheel up) enlarges, positive shrinks.
        """
        layer = self._current()
        if layer is None or not dy:
            return
        factor = math.exp(max(-1.0, min(1.0, -dy * _WHEEL_RATE)))
        self._continuous = True
        try:
            self.set_scale(layer.scale * factor)
        finally:
            self._continuous = False

    def on_key_down(self, key: str, shift_key: bool = False, ctrl_key: bool = False, meta_key: bool = False) -> bool:
        """Keyboard on the focused canvas: Delete/Backspace, f (flip), [ ] (order),
        + and - (scale), Ctrl/Cmd+Z (undo), Ctrl/Cmd+Shift+Z or Ctrl+Y (redo), arrows
        (nudge; Shift: 8 px), Escape (deselect). Returns whether the key did something.

        Args:
            key: the browser's ``KeyboardEvent.key`` (e.g. ``"f"``, ``"Delete"``, ``"ArrowUp"``).
            shift_key: Shift was held (redo with Ctrl/Cmd+Z, 8 px arrow nudges).
            ctrl_key: Ctrl was held (undo/redo shortcuts; other keys are then ignored).
            meta_key: Cmd (macOS) was held; counts as Ctrl.
        """
        command = ctrl_key or meta_key
        lower = key.lower()
        if command and lower == "z":
            return self.redo() if shift_key else self.undo()
        if command and lower == "y":
            return self.redo()
        if command:
            return False
        if key in ("Delete", "Backspace"):
            return self.delete_selected()
        if lower == "f":
            return self.flip_selected()
        if key == "]":
            return self.forward()
        if key == "[":
            return self.backward()
        if key in ("+", "=", "-"):
            layer = self._current()
            delta = -SCALE_STEP if key == "-" else SCALE_STEP
            return layer is not None and self.set_scale(layer.scale + delta)
        if key == "Escape":
            had = self.selected is not None
            self.selected = None
            return had
        arrows = {"ArrowLeft": (-1, 0), "ArrowRight": (1, 0), "ArrowUp": (0, -1), "ArrowDown": (0, 1)}
        if key in arrows:
            step = 8 if shift_key else 1
            return self.nudge(arrows[key][0] * step, arrows[key][1] * step)
        return False

    def _end_drag(self) -> None:
        drag, self._drag = self._drag, None
        if drag is not None and self._dirty:
            self._draw()  # the last throttled position must reach the screen
        self._update_status()
        if drag is not None and drag.moved:
            self._gesture_end()

    def _scale_step(self, direction: int) -> None:
        """A -/+ button: one SCALE_STEP smaller or larger (as the - and + keys)."""
        self.on_key_down("+" if direction > 0 else "-")

    def _on_slider(self, change: dict) -> None:
        if self._syncing:
            return
        self._continuous = True
        try:
            self.layer_scale = change["new"]
        finally:
            self._continuous = False

    # ------------------------------------------------------------------ change handling

    def _on_composition_changed(self, _composition: Composition) -> None:
        if self.selected is not None and self.selected not in self._comp:
            self.selected = None  # removed by code outside the widget
        self._message = ("info", "")  # what it said was about the composition before this change
        if self._continuous:
            self._request_frame()
        else:
            self._draw()
        self._update_status()
        self._sync_controls()

    def _request_frame(self) -> None:
        """Draw now unless the last frame is younger than 1/max_fps; then draw later."""
        wait = self._last_frame + 1.0 / self.max_fps - self._clock()
        if wait <= 0:
            self._draw()
            return
        self._dirty = True
        if self._trailing is None:
            try:
                loop = asyncio.get_running_loop()  # the kernel's loop; absent in plain Python
            except RuntimeError:
                return  # mouse-up (or the next event) draws the final frame
            self._trailing = loop.call_later(wait, self._trailing_frame)

    def _trailing_frame(self) -> None:
        self._trailing = None
        if self._dirty:
            self._draw()

    def _sync_controls(self) -> None:
        """Enable what applies; show the selected layer's scale, or a neutral 1.00 without one."""
        layer = self._current()
        none = layer is None
        for button in (self.delete_button, self.flip_button, self.forward_button, self.backward_button):
            button.disabled = none
        self.scale_control.disabled = none
        self.undo_button.disabled = not self._undo
        self.redo_button.disabled = not self._redo
        self.bring_back_button.disabled = not self._comp.off_canvas_layers()
        self._syncing = True
        try:
            self.layer_scale = 1.0 if none else layer.scale
            if not math.isclose(self.scale_slider.value, self.layer_scale):
                self.scale_slider.value = self.layer_scale
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ status

    def _set_message(self, level: str, text: str) -> None:
        self._message = (level, text)
        self._update_status()

    def _status_parts(self) -> list[tuple[str, str]]:
        parts = [self._message] if self._message[1] else []
        off = self._comp.off_canvas_layers()
        if off:
            names = ", ".join(layer.name or "layer" for layer in off)
            parts.append(("warning", f"{len(off)} layer(s) off the canvas ({names}): kept but not "
                                     "painted. Undo or 'Bring back' returns them."))
        return parts

    def _update_status(self) -> None:
        colors = {"info": "#555", "ok": "#2e7d32", "warning": "#b26a00", "error": "#c62828"}
        self.status.value = " ".join(
            f'<span class="ipainter-{level}" style="color:{colors[level]}">{html.escape(text)}</span>'
            for level, text in self._status_parts())

    # ------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        """Draw the picture and the overlay now (e.g. after a browser reload)."""
        self._draw()

    def picture(self) -> np.ndarray:
        """What the picture layer shows, at canvas resolution: (H, W, 4) uint8 RGBA.

        The composition rendered as the sampler sees it (mid-grey where the model paints).
        """
        return _opaque_rgba(self._comp.render()[0])

    def mask_overlay(self) -> np.ndarray:
        """(H, W, 4) uint8: the generated region tinted, the kept region transparent."""
        return _mask_tint(self._comp.render()[1])

    def _draw(self, picture: bool = True) -> None:
        """One batched message: the picture (optional) and the overlay."""
        s = self._scale
        pic, over = self.canvas[0], self.canvas[1]
        rendered = self._comp.render() if picture or self.show_mask else None  # once per frame
        with hold_canvas():
            if picture:
                pic.clear()
                _put_enlarged(pic, _opaque_rgba(rendered[0]), s)
            over.clear()
            if self.show_mask:
                _put_enlarged(over, _mask_tint(rendered[1]), s)
            layer = self._current()
            if layer is not None:
                x0, y0, x1, y1 = layer.bbox()
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
        if picture:
            self._dirty = False
            self._last_frame = self._clock()


def _put_enlarged(canvas: Any, rgba: np.ndarray, s: float) -> None:
    """Send a canvas-resolution image once; the browser enlarges it ``s`` times with image
    smoothing off, so each canvas pixel is a crisp square (ipycanvas draws put_image_data
    through drawImage, which follows the transform and the smoothing setting)."""
    canvas.save()
    canvas.set_transform(s, 0, 0, s, 0, 0)
    canvas.image_smoothing_enabled = False
    canvas.put_image_data(rgba, 0, 0)
    canvas.restore()


def _opaque_rgba(image: Any) -> np.ndarray:
    rgb = tensor_to_uint8(image)
    # RGBA, because ipycanvas sends RGBA as (lossless) PNG but RGB as JPEG.
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


def _mask_tint(keep: Any) -> np.ndarray:
    out = np.zeros((*keep.shape[1:], 4), np.uint8)
    out[keep[0].numpy() < 0.5] = _MASK_RGBA
    return out
