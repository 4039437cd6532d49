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
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from PIL import Image
from traitlets import Float, Instance, observe, validate

from ipainter_nb.core.composition import MAX_LAYER_CANVAS_RATIO, Composition, Layer
from ipainter_nb.images import ImageLoadError, ImageLoadWarning, load_rgba, tensor_to_uint8
from ipainter_nb.widgets.palette import CutoutSource, Intake, Palette, PathLike, describe_intake

__all__ = ["Composer", "default_display_scale", "MIN_SCALE", "MAX_SCALE", "SCALE_STEP", "FIT_FRACTION"]

#: The scale control's range and step: a hand can hit 1.00 and never loses a cutout off view.
MIN_SCALE, MAX_SCALE, SCALE_STEP = 0.1, 4.0, 0.05
#: A new layer is at most this fraction of the canvas' width and height.
FIT_FRACTION = 1 / 3
#: One wheel notch (100 px of deltaY) scales by about exp(0.15): 16%.
_WHEEL_RATE = 0.0015
#: The canvas' one-line guide to what the mouse and keys do.
CANVAS_HINT = "drag: move · wheel: scale · arrows: nudge · f: flip · Del: delete · Ctrl+Z: undo"

_MASK_RGBA = (255, 64, 160, 110)  # tint of the region the model will generate
_HISTORY = 200  # undo steps kept


def default_display_scale(width: int, height: int) -> int:
    """How much the canvas is enlarged on screen: 64 px -> x6 (384), 256 px -> x2 (512).

    An integer factor keeps every canvas pixel the same size on screen; at most 512 px
    (the notebook column) and never more than x6.
    """
    return max(1, min(6, 512 // max(width, height)))


def fitting_scale(layer: Layer, canvas_size: tuple[int, int]) -> float:
    """The scale at which a new cutout fits (``Layer.fitting_scale`` with ``FIT_FRACTION``),
    rounded down onto the scale control's steps so that the control reads a round number."""
    fit = layer.fitting_scale(canvas_size, FIT_FRACTION)
    return max(MIN_SCALE, round(math.floor(fit / SCALE_STEP + 1e-9) * SCALE_STEP, 2))


# One layer's state, enough to put it back exactly (identity kept, so selection survives).
_LayerState = tuple[Layer, Image.Image, int, int, float, bool]


@dataclass
class _Snapshot:
    layers: tuple[_LayerState, ...]  # bottom to top
    selected: Layer | None


@dataclass
class _Drag:
    layer: Layer
    mouse_x: float  # display pixels where the button went down
    mouse_y: float
    start_x: int  # layer position then, canvas pixels
    start_y: int
    before: _Snapshot
    moved: bool = False


class Composer(W.VBox):
    """Place, move, scale, flip, reorder and delete cutouts on a canvas, with undo.

    ``composition``: the composition to edit (default: a new empty one of ``size``).
    ``cutouts``: what the palette offers: ``"demo"`` (the shipped pack), a folder, a
    mapping of name -> path or PIL image, or ``None`` for an empty palette.
    ``display_scale``: screen pixels per canvas pixel (default: ``default_display_scale``).
    ``max_fps``: cap on redraws per second while dragging, scrolling or sliding.

    >>> composer = Composer(size=64)
    >>> sun = composer.add_cutout("sun")            # centred, on top, selected
    >>> composer.on_mouse_down(192, 192); composer.on_mouse_move(252, 192)
    >>> composer.on_mouse_up(252, 192)              # dragged 60 display px = 10 canvas px
    >>> composer.layer_scale = 1.5                  # what the Scale slider and the wheel set
    >>> composer.undo()
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

        self._build_canvas(comp)
        self._build_tools()
        self.palette = Palette(cutouts)
        self.palette.on_pick(self.add_cutout)
        self.palette.on_upload(self.place_intake)
        #: One line of feedback: errors, warnings, off-canvas layers.
        self.status = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.status.add_class("ipainter-composer-status")
        row = W.Box([self.canvas_box, self.tools],
                    layout=W.Layout(display="flex", flex_flow="row wrap", align_items="flex-start", width="100%"))
        self.children = [row, self.palette, self.status]
        self.add_class("ipainter-composer")

        self.composition = comp  # wires it up: see _on_composition_replaced
        self._report(self.palette.first_intake)

    # ------------------------------------------------------------------ properties

    @property
    def display_scale(self) -> float:
        """Screen pixels per canvas pixel."""
        return self._scale

    @property
    def cutout_names(self) -> list[str]:
        """Names in the palette, in palette order."""
        return self.palette.names

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

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
        self.hint = W.HTML(_small_note(CANVAS_HINT))
        # As wide as the canvas (the hint wraps): a wider box would stretch the canvas
        # by a fraction and make its pixels uneven.
        self.canvas_box = W.VBox([self.canvas, self.hint], layout=W.Layout(
            flex="0 0 auto", width=f"{w}px", align_items="flex-start", margin="0 8px 4px 0"))
        self.canvas_box.add_class("ipainter-canvas")

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
        self.scale_slider = W.FloatSlider(
            value=1.0, min=MIN_SCALE, max=MAX_SCALE, step=SCALE_STEP, description="Scale",
            readout=True, readout_format=".2f", continuous_update=True,
            tooltip="Scale of the selected layer (or turn the mouse wheel over the canvas)",
            style={"description_width": "3em"},
            # no side margins: width 100% plus the default 2 px margins overflowed the box by 4 px
            layout=W.Layout(width="100%", min_width="12em", margin="2px 0"))
        self.scale_slider.observe(self._on_slider, "value")
        self.scale_control = W.VBox(
            [self.scale_slider, W.HTML(_small_note("or turn the mouse wheel over the canvas"))],
            layout=W.Layout(width="100%", min_width="12em", margin="4px 0"))
        self.scale_control.add_class("ipainter-scale")
        self.tools = W.Box(
            [self.undo_button, self.redo_button, self.delete_button, self.flip_button, self.forward_button,
             self.backward_button, self.scale_control, self.mask_toggle, self.bring_back_button],
            layout=W.Layout(display="flex", flex_flow="row wrap", align_content="flex-start",
                            flex="1 1 14em", min_width="12em", max_width="24em"))
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
        self.canvas_box.layout.width = f"{self.canvas.width}px"
        self._undo.clear()
        self._redo.clear()
        self._last_key = None
        self.selected = None
        self._on_composition_changed(new)

    def set_composition(self, composition: Composition) -> None:
        """Edit another composition (e.g. one loaded from JSON): ``composer.composition = it``."""
        self.composition = composition

    @property
    def _comp(self) -> Composition:
        return self.composition

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

    # ------------------------------------------------------------------ palette

    def add_cutout_folder(self, path: PathLike) -> list[str]:
        """Add every image file of a folder to the palette (sorted by name); return their
        palette names. Unreadable files are skipped and named in the status line."""
        intake = self.palette.add_folder(path)
        self._report(intake)
        return intake.names

    def handle_upload(self, value: Sequence[Any]) -> list[Layer]:
        """What the upload button does: add the files (ipywidgets 8 ``FileUpload.value``)
        to the palette and place them on the canvas; return the new layers.

        A file that is not an image, or is huge, is refused with a message in the status
        line and changes nothing; the others are still placed. A picture already in the
        palette is placed again from its existing entry.
        """
        return self.place_intake(self.palette.add_upload(value))

    def place_intake(self, intake: Intake) -> list[Layer]:
        """Place every cutout an ``Intake`` names (one undo step) and report it in the status line."""
        layers: list[Layer] = []
        if intake.names:
            self._end_drag()
            self._record()
            with self._comp.batch():  # one redraw, one undo step for the whole upload
                layers = [self._place(name) for name in intake.names]
        self._report(intake, [layer.name for layer in layers])
        return layers

    def _report(self, intake: Intake, placed: Sequence[str] = ()) -> None:
        level, text = describe_intake(intake, placed)
        if text:
            self._set_message(level, text)

    # ------------------------------------------------------------------ editing

    def add_cutout(self, name: str, x: float | None = None, y: float | None = None,
                   scale: float | None = None, flip: bool = False) -> Layer:
        """Put the palette's cutout ``name`` on top, selected; return the new layer.

        By default it is centred at a size that fits (``fitting_scale``: a third of the
        canvas). A cutout larger
        than the canvas is first reduced to the canvas' size, so that ``scale`` 1 never
        exceeds the canvas and the scale control's range covers every useful size.
        """
        self.palette.image(name)  # KeyError naming what the palette has
        self._end_drag()
        self._record()
        return self._place(name, x, y, scale, flip)

    def load_layout(self, entries: Iterable[Mapping[str, Any]]) -> list[Layer]:
        """Place several cutouts at once (e.g. ``demo.cutouts.demo_layout()``), one undo step."""
        entries = list(entries)
        for entry in entries:
            if entry.get("name") not in self.palette:
                raise KeyError(f"no cutout named {entry.get('name')!r} in the palette")
        self._end_drag()
        self._record()
        with self._comp.batch():
            return [self._place(e["name"], e.get("x"), e.get("y"), e.get("scale"), bool(e.get("flip", False)))
                    for e in entries]

    def _image_for_canvas(self, name: str) -> Image.Image:
        image = self.palette.image(name)
        side = max(self._comp.size)
        if max(image.size) <= side:
            return image
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImageLoadWarning)  # the palette already said it was big
            try:
                return load_rgba(image, max_size=side, name=name)
            except ImageLoadError:  # too thin to reduce: keep it whole
                return image

    def _place(self, name: str, x: float | None = None, y: float | None = None,
               scale: float | None = None, flip: bool = False) -> Layer:
        layer = Layer(self._image_for_canvas(name), scale=1.0 if scale is None else scale, flip=flip, name=name)
        if scale is None:
            layer.scale = fitting_scale(layer, self._comp.size)
        w, h = layer.size
        layer.x = int((self._comp.width - w) // 2) if x is None else round(x)
        layer.y = int((self._comp.height - h) // 2) if y is None else round(y)
        with self.hold_trait_notifications():  # selected is checked once the layer is in
            self.selected = layer  # before add(): the redraw it triggers outlines it
            self._comp.add(layer)
        return layer

    def select(self, layer: Layer | None) -> None:
        """Select a layer of the composition (or None); only the overlay is redrawn."""
        self.selected = layer

    def delete_selected(self) -> bool:
        """Remove the selected layer; False when nothing is selected."""
        layer = self._current()
        if layer is None:
            return False
        self._record()
        self.selected = None
        self._comp.remove(layer)
        return True

    def flip_selected(self) -> bool:
        """Mirror the selected layer left-right; False when nothing is selected."""
        layer = self._current()
        if layer is None:
            return False
        self._record()
        self._comp.update(layer, flip=not layer.flip)
        return True

    def forward(self) -> bool:
        """Bring the selected layer one step up; False if none or already on top."""
        return self._reorder("forward")

    def backward(self) -> bool:
        """Send the selected layer one step down; False if none or already at the bottom."""
        return self._reorder("backward")

    def _reorder(self, where: str) -> bool:
        layer = self._current()
        if layer is None:
            return False
        order = self._comp.layers
        end = order[-1] if where == "forward" else order[0]
        if end is layer:
            return False  # nothing would change: no undo step for it
        self._record()
        self._comp.reorder(layer, where)
        return True

    def set_scale(self, scale: float) -> bool:
        """Scale the selected layer about its centre, clamped to [MIN_SCALE, MAX_SCALE] and
        to the largest size the composition accepts; False when nothing is selected.

        Consecutive calls on the same layer (a slider drag, wheel turns) are one undo step.
        """
        layer = self._current()
        if layer is None:
            return False
        # The composition refuses layers drawn over MAX_LAYER_CANVAS_RATIO canvas sides.
        largest = MAX_LAYER_CANVAS_RATIO * max(self._comp.size) / max(layer.image.size)
        scale = min(MAX_SCALE, largest, max(MIN_SCALE, float(scale)))
        if scale == layer.scale:
            return True
        key = f"scale:{id(layer)}"
        if self._last_key != key or self._scale_anchor is None:
            w, h = layer.size
            # Keep the centre as a float across a slider drag so rounding does not creep.
            self._scale_anchor = (layer.x + w / 2, layer.y + h / 2)
        cx, cy = self._scale_anchor
        self._record(key)
        w = max(1, round(layer.image.width * scale))
        h = max(1, round(layer.image.height * scale))
        self._comp.update(layer, scale=scale, x=math.floor(cx - w / 2 + 0.5), y=math.floor(cy - h / 2 + 0.5))
        return True

    def nudge(self, dx: int, dy: int) -> bool:
        """Move the selected layer by (dx, dy) canvas pixels (arrow keys); one undo step per run."""
        layer = self._current()
        if layer is None:
            return False
        self._record(f"nudge:{id(layer)}")
        self._comp.move(layer, dx, dy)
        return True

    def bring_back(self) -> int:
        """Move layers lying entirely off the canvas just inside its nearest edge; return how many."""
        off = self._comp.off_canvas_layers()
        if not off:
            return 0
        self._record()
        with self._comp.batch():
            for layer in off:
                w, h = layer.size
                x = min(max(layer.x, 1 - w), self._comp.width - 1)
                y = min(max(layer.y, 1 - h), self._comp.height - 1)
                # Bring at least half of it (or all, if it fits) into view.
                x = min(max(x, -w // 2), self._comp.width - (w + 1) // 2)
                y = min(max(y, -h // 2), self._comp.height - (h + 1) // 2)
                self._comp.move_to(layer, x, y)
        return len(off)

    def _current(self) -> Layer | None:
        layer = self.selected
        return layer if layer is not None and layer in self._comp else None

    # ------------------------------------------------------------------ undo / redo

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            tuple((layer, layer.image, layer.x, layer.y, layer.scale, layer.flip) for layer in self._comp.layers),
            self._current())

    def _record(self, key: str | None = None, snapshot: _Snapshot | None = None) -> None:
        """Remember the state before an action; ``key`` merges repeats of one gesture."""
        if key is not None and key == self._last_key and self._undo:
            return
        self._undo.append(snapshot or self._snapshot())
        del self._undo[:-_HISTORY]
        self._redo.clear()
        self._last_key = key
        if key is None or not key.startswith("scale:"):
            self._scale_anchor = None

    def _restore(self, snap: _Snapshot) -> None:
        with self.hold_trait_notifications(), self._comp.batch():
            self._comp.clear()
            for layer, image, x, y, scale, flip in snap.layers:
                layer.image, layer.x, layer.y, layer.scale, layer.flip = image, x, y, scale, flip
                self._comp.add(layer)  # in bottom-to-top order: add() restores z
            self.selected = snap.selected
        self._last_key = None
        self._scale_anchor = None
        self._sync_controls()
        self._draw(picture=False)  # the selection may differ even if the layers do not

    def undo(self) -> bool:
        """Undo the last action; False when there is nothing to undo."""
        self._end_drag()
        if not self._undo:
            return False
        self._redo.append(self._snapshot())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        """Redo the last undone action; False when there is nothing to redo."""
        self._end_drag()
        if not self._redo:
            return False
        self._undo.append(self._snapshot())
        self._restore(self._redo.pop())
        return True

    # ------------------------------------------------------------------ mouse and keys

    def on_mouse_down(self, x: float, y: float) -> None:
        """Select the topmost layer with a visible pixel under (x, y) display pixels and
        start dragging it; on a transparent spot, select nothing."""
        self._end_drag()
        s = self._scale
        layer = self._comp.layer_at(x / s, y / s)
        self.selected = layer
        if layer is not None:
            self._drag = _Drag(layer, x, y, layer.x, layer.y, self._snapshot())

    def on_mouse_move(self, x: float, y: float) -> None:
        """While dragging, move the layer by the mouse's travel / display scale."""
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
        """Finish a drag at (x, y) and draw its final frame."""
        if self._drag is not None:
            self.on_mouse_move(x, y)
        self._end_drag()

    def on_mouse_out(self, x: float, y: float) -> None:
        """The pointer left the canvas: the button-up would be missed, so finish the drag here."""
        self.on_mouse_up(x, y)

    def on_mouse_wheel(self, dx: float, dy: float) -> None:
        """Scale the selected layer: wheel up enlarges (about 16% per notch of 100 px)."""
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
        (nudge; Shift: 8 px), Escape (deselect). Returns whether the key did something."""
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
        self.scale_slider.disabled = none
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


def _small_note(text: str) -> str:
    return f"<div style='color:#666; font-size:smaller; line-height:1.3'>{html.escape(text)}</div>"


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
