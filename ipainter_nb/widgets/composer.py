"""Composer: place landmark cutouts on a canvas in a notebook, with the mouse.

The widget is a thin view over a ``Composition``: every edit goes through the
composition's public methods, and the composer hears about changes the one way anyone
does, ``Composition.observe``; so ``composer.composition`` is always the truth and whoever
observes it (the Painter) hears every change, from the canvas or from code.

State is in traitlets (``composition``, ``selected``, ``layer_scale``), with ``@observe``
reactions. Its components: a ``Palette`` (``on_pick`` / ``on_upload`` events), a
``LayerEditor`` (``editor``: owns the composition, the selection and the undo history; the
composer's traits of those names are linked to it and its edit methods call it), a
``CanvasView`` (``view``: one batched message per redraw, at most ``max_fps`` during a
gesture) and a ``ToolBar`` (``tools``).

Every handler the browser triggers is a public method taking DISPLAY pixels
(``on_mouse_down(x, y)``, ...), so tests and scripts can drive the widget without a
browser.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np
from traitlets import Float, Instance, link, observe, validate

from ipainter_nb.core.composition import Composition, Layer
from ipainter_nb.widgets.arguments import check_composer_arguments
from ipainter_nb.widgets.composer_canvas import CanvasView, default_display_scale, mask_tint, opaque_rgba
from ipainter_nb.widgets.composer_edits import FIT_FRACTION, LayerEditor, Snapshot, fitting_scale
from ipainter_nb.widgets.composer_tools import ToolBar
from ipainter_nb.widgets.palette import CutoutSource, Intake, Palette, PathLike, describe_intake
from ipainter_nb.widgets.scale_control import MAX_SCALE, MIN_SCALE, SCALE_STEP

__all__ = ["Composer", "default_display_scale", "fitting_scale", "MIN_SCALE", "MAX_SCALE", "SCALE_STEP",
           "FIT_FRACTION", "MIN_WIDTH_PX"]

#: One wheel notch (100 px of deltaY) scales by about exp(0.15): 16%.
_WHEEL_RATE = 0.0015
#: The Composer is never narrower than this (CSS pixels), whatever the canvas: its tools
#: and the Scale slider need it.
MIN_WIDTH_PX = 360


@dataclass
class _Drag:
    layer: Layer
    mouse_x: float  # display pixels where the button went down
    mouse_y: float
    start_x: int  # layer position then, canvas pixels
    start_y: int
    before: Snapshot
    moved: bool = False


class Composer(W.VBox):
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
        composition, display_scale, max_fps = check_composer_arguments(type(self), kwargs, composition, cutouts,
                                                                       display_scale, max_fps)
        super().__init__(**kwargs)
        comp = composition if composition is not None else Composition(size)
        self.view = CanvasView(comp.size, display_scale, max_fps, redraw=self.redraw)
        self.canvas, self.hint, self.canvas_box = self.view.canvas, self.view.hint, self.view.canvas_box
        self.max_fps = self.view.max_fps
        self._drag: _Drag | None = None
        self._message: tuple[str, str] = ("info", "")
        self._syncing = False  # True while the widget sets its own controls
        self._continuous = False  # True inside a drag/wheel/slider update: throttle redraws
        self._gesture_end = W.CallbackDispatcher()
        for event in ("down", "move", "up", "out", "wheel"):  # ipycanvas stops the page scrolling on a wheel
            getattr(self.canvas, f"on_mouse_{event}")(getattr(self, f"on_mouse_{event}"))
        self.canvas.on_key_down(self.on_key_down)
        self.tools = ToolBar({"undo": self.undo, "redo": self.redo, "delete": self.delete_selected,
                              "flip": self.flip_selected, "forward": self.forward, "backward": self.backward,
                              "bring_back": self.bring_back}, on_scale_step=self._scale_step)
        for name in ("undo", "redo", "delete", "flip", "forward", "backward", "bring_back"):
            setattr(self, f"{name}_button", getattr(self.tools, f"{name}_button"))
        self.mask_toggle, self.scale_control = self.tools.mask_toggle, self.tools.scale_control
        self.scale_slider = self.scale_control.slider
        self.mask_toggle.observe(lambda _c: self._draw(picture=False), "value")
        self.scale_slider.observe(self._on_slider, "value")
        self.palette = Palette(cutouts)
        self.palette.on_pick(self.place_from_palette)
        self.palette.on_upload(self.place_intake)
        #: The edits: composition, selection and undo history (the traits of the same names are linked to it).
        self.editor = LayerEditor(comp, self.palette)
        self.editor.observe(self._on_composition_replaced, names="composition")
        self.editor.observe(lambda _change: self._sync_controls(), names=["can_undo", "can_redo"])
        #: One line of feedback: errors, warnings, off-canvas layers.
        self.status = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.status.add_class("ipainter-composer-status")
        # One column as wide as the canvas (or MIN_WIDTH_PX): the tools and the palette
        # wrap inside it, so the Composer's width never depends on the window's.
        self.children = [self.canvas_box, self.tools, self.palette, self.status]
        self.layout.flex = "0 0 auto"
        self.layout.align_items = "stretch"
        self.add_class("ipainter-composer")

        link((self.editor, "composition"), (self, "composition"))
        link((self.editor, "selected"), (self, "selected"))
        self._on_composition_replaced({"old": None, "new": comp})  # wires it up
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
        return self.view.scale

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

    def _fit_width(self) -> None:
        """The column takes the canvas' width (at least MIN_WIDTH_PX); nothing in it is wider."""
        self.layout.width = self.layout.min_width = f"{max(self.canvas.width, MIN_WIDTH_PX)}px"

    # ------------------------------------------------------------------ traits

    def _on_composition_replaced(self, change: Any) -> None:
        """The editor's composition was replaced (it already cleared the selection and the history)."""
        old, new = change["old"], change["new"]
        self._end_drag()
        if isinstance(old, Composition):
            old.unobserve(self._on_composition_changed)
        new.observe(self._on_composition_changed)
        self.view.fit(new.size)
        self._fit_width()
        self._on_composition_changed(new)

    def set_composition(self, composition: Composition) -> None:
        """Edit another composition (e.g. one loaded from JSON): ``composer.composition = it``.

        Args:
            composition: the composition to edit from now on (selection and undo are cleared).
        """
        self.composition = composition

    @validate("selected")
    def _check_selected(self, proposal: Any) -> Layer | None:
        return self.editor.selectable(proposal["value"])

    @observe("selected")
    def _on_selected(self, _change: Any) -> None:
        self._sync_controls()
        self._draw(picture=False)

    @validate("layer_scale")
    def _clamp_scale(self, proposal: Any) -> float:
        if self.editor.current() is None:
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
        s = self.view.scale
        layer = self._comp.layer_at(x / s, y / s)
        self.selected = layer
        if layer is not None:
            self._drag = _Drag(layer, x, y, layer.x, layer.y, self.editor.snapshot())

    def on_mouse_move(self, x: float, y: float) -> None:
        """While dragging, move the layer by the mouse's travel / display scale.

        Args:
            x: pointer position from the canvas' left edge, in display pixels.
            y: pointer position from the canvas' top edge, in display pixels.
        """
        drag = self._drag
        if drag is None or drag.layer not in self._comp:
            return
        s = self.view.scale
        # From the start of the drag, not the last event: rounding never accumulates.
        nx = drag.start_x + math.floor((x - drag.mouse_x) / s + 0.5)
        ny = drag.start_y + math.floor((y - drag.mouse_y) / s + 0.5)
        if (nx, ny) == (drag.layer.x, drag.layer.y):
            return
        if not drag.moved:
            self.editor.record(snapshot=drag.before)
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
        layer = self.editor.current()
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
            layer = self.editor.current()
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
        if drag is not None and self.view.dirty:
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
        self._message = ("info", "")  # what it said was about the composition before this change
        if self._continuous:
            self.view.request_frame()
        else:
            self._draw()
        self._update_status()
        self._sync_controls()

    def _sync_controls(self) -> None:
        """Enable what applies; show the selected layer's scale, or a neutral 1.00 without one."""
        layer = self.editor.current()
        none = layer is None
        for button in (self.delete_button, self.flip_button, self.forward_button, self.backward_button):
            button.disabled = none
        self.scale_control.disabled = none
        self.undo_button.disabled = not self.editor.can_undo
        self.redo_button.disabled = not self.editor.can_redo
        self.bring_back_button.disabled = not self._comp.off_canvas_layers()
        self._syncing = True
        try:
            self.layer_scale = 1.0 if none else layer.scale
            if not math.isclose(self.scale_slider.value, self.layer_scale):
                self.scale_slider.value = self.layer_scale
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ edits (the editor's, after a drag ends)

    @property
    def _comp(self) -> Composition:
        return self.editor.composition

    @property
    def can_undo(self) -> bool:
        """Whether there is an action to undo."""
        return self.editor.can_undo

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone action to redo."""
        return self.editor.can_redo

    def add_cutout_folder(self, path: PathLike) -> list[str]:
        """Add every image file of a folder to the palette (sorted by name); return their
        palette names. Unreadable files are skipped and named in the status line.

        Args:
            path: the folder to read (not recursive).
        """
        intake = self.palette.add_folder(path)
        self._report(intake)
        return intake.names

    def handle_upload(self, value: Sequence[Any]) -> list[Layer]:
        """What the upload button does: add the files (ipywidgets 8 ``FileUpload.value``)
        to the palette and place them on the canvas; return the new layers.

        A file that is not an image, or is huge, is refused with a message in the status
        line and changes nothing; the others are still placed. A picture already in the
        palette is placed again from its existing entry.

        Args:
            value: the upload widget's value: a sequence of file dicts (``name``, ``content``, ...).
        """
        return self.place_intake(self.palette.add_upload(value))

    def place_intake(self, intake: Intake) -> list[Layer]:
        """Place every cutout an ``Intake`` names (one undo step) and report it in the status line.

        Args:
            intake: what a palette addition produced (names added, duplicates, problems).

        Returns:
            The new layers, in the order of ``intake.names``.
        """
        if intake.names:
            self._end_drag()
        layers = self.editor.place_names(intake.names)
        self._report(intake, [layer.name for layer in layers])
        return layers

    def _report(self, intake: Intake, placed: Sequence[str] = ()) -> None:
        level, text = describe_intake(intake, placed)
        if text:
            self._set_message(level, text)

    def add_cutout(self, name: str, x: float | None = None, y: float | None = None,
                   scale: float | None = None, flip: bool = False) -> Layer:
        """Put the palette's cutout ``name`` on top, selected; return the new layer (``editor.add_cutout``).

        Args:
            name: the palette entry to place; KeyError if the palette has none by that name.
            x: left edge in canvas pixels (default: centred horizontally).
            y: top edge in canvas pixels (default: centred vertically).
            scale: size factor of the cutout (default: ``fitting_scale``).
            flip: mirror the cutout left-right.
        """
        self._end_drag()
        return self.editor.add_cutout(name, x, y, scale, flip)

    def place_from_palette(self, name: str) -> Layer:
        """What a click on a palette button does: ``add_cutout`` at a free spot; return the new layer.

        Args:
            name: the palette entry to place; KeyError if the palette has none by that name.
        """
        self._end_drag()
        return self.editor.place_from_palette(name)

    def load_layout(self, entries: Iterable[Mapping[str, Any]]) -> list[Layer]:
        """Place several cutouts at once (``editor.load_layout``), one undo step; return them, bottom to top.

        Args:
            entries: mappings with a palette ``name`` and optional ``x``, ``y``, ``scale`` and ``flip``.
        """
        self._end_drag()
        return self.editor.load_layout(entries)

    def select(self, layer: Layer | None) -> None:
        """Select a layer of the composition (or None); only the overlay is redrawn.

        Args:
            layer: a layer of ``composition`` (ValueError otherwise), or None to deselect.
        """
        self.selected = layer

    def delete_selected(self) -> bool:
        """Remove the selected layer; False when nothing is selected."""
        return self.editor.delete_selected()

    def flip_selected(self) -> bool:
        """Mirror the selected layer left-right; False when nothing is selected."""
        return self.editor.flip_selected()

    def forward(self) -> bool:
        """Bring the selected layer one step up; False if none or already on top."""
        return self.editor.forward()

    def backward(self) -> bool:
        """Send the selected layer one step down; False if none or already at the bottom."""
        return self.editor.backward()

    def set_scale(self, scale: float) -> bool:
        """Scale the selected layer about its centre (``editor.set_scale``); False when nothing is selected.

        Args:
            scale: the new size factor of the selected layer (1 = the cutout's own size).
        """
        return self.editor.set_scale(scale)

    def nudge(self, dx: int, dy: int) -> bool:
        """Move the selected layer by (dx, dy) canvas pixels (arrow keys); False when nothing is selected.

        Args:
            dx: canvas pixels to the right (negative: left).
            dy: canvas pixels down (negative: up).
        """
        return self.editor.nudge(dx, dy)

    def bring_back(self) -> int:
        """Move layers lying entirely off the canvas just inside its nearest edge; return how many."""
        return self.editor.bring_back()

    def undo(self) -> bool:
        """Undo the last action; False when there is nothing to undo."""
        self._end_drag()
        return self._restored(self.editor.undo())

    def redo(self) -> bool:
        """Redo the last undone action; False when there is nothing to redo."""
        self._end_drag()
        return self._restored(self.editor.redo())

    def _restored(self, done: bool) -> bool:
        if done:
            self._sync_controls()
            self._draw(picture=False)  # the selection may differ even if the layers do not
        return done

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
        return opaque_rgba(self._comp.render()[0])

    def mask_overlay(self) -> np.ndarray:
        """(H, W, 4) uint8: the generated region tinted, the kept region transparent."""
        return mask_tint(self._comp.render()[1])

    def _draw(self, picture: bool = True) -> None:
        """One batched message: the picture (optional) and the overlay."""
        rendered = self._comp.render() if picture or self.show_mask else None  # once per frame
        layer = self.editor.current()
        self.view.show(rendered[0] if picture else None, rendered[1] if self.show_mask else None,
                       layer.bbox() if layer is not None else None)
