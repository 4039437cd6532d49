"""The Composer's editing actions: place, move, scale, flip, reorder, delete, with undo.

``LayerEditor`` is the component of ``Composer`` that changes the composition, and works
without it (from code, or under another view): it owns the composition being edited, the
selection and the undo history as traits (``composition``, ``selected``, ``can_undo``,
``can_redo``); every action goes through the composition's public methods and records one
undo step (a slider drag, wheel turns or a run of arrow keys on one layer are merged into
one step). The Composer (``composer.py``) is the canvas: it draws, turns mouse and keys into
these actions, and links its own ``composition`` and ``selected`` traits to the editor's.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from traitlets import Bool, HasTraits, Instance, observe, validate

from ipainter_nb.core.composition import MAX_LAYER_CANVAS_RATIO, Composition, Layer
from ipainter_nb.core.composition_checks import as_position
from ipainter_nb.images import ImageLoadError, ImageLoadWarning, load_rgba
from ipainter_nb.widgets.palette import Palette
from ipainter_nb.widgets.scale_control import MAX_SCALE, MIN_SCALE, SCALE_STEP

__all__ = ["LayerEditor", "Snapshot", "fitting_scale", "free_spot", "FIT_FRACTION"]

#: A new layer is at most this fraction of the canvas' width and height.
FIT_FRACTION = 1 / 3
_HISTORY = 200  # undo steps kept


def fitting_scale(layer: Layer, canvas_size: tuple[int, int]) -> float:
    """The scale at which a new cutout fits, on the scale control's steps.

    Args:
        layer: the new layer (its picture's size counts).
        canvas_size: (width, height) of the canvas, canvas pixels.

    Returns:
        ``Layer.fitting_scale`` with ``FIT_FRACTION``, rounded down onto ``SCALE_STEP``
        so that the control reads a round number (at least ``MIN_SCALE``).
    """
    fit = layer.fitting_scale(canvas_size, FIT_FRACTION)
    return max(MIN_SCALE, round(math.floor(fit / SCALE_STEP + 1e-9) * SCALE_STEP, 2))


# One layer's state, enough to put it back exactly (identity kept, so selection survives).
_LayerState = tuple[Layer, Image.Image, int, int, float, bool]


def free_spot(occupied: np.ndarray, w: int, h: int) -> tuple[int, int]:
    """Where a ``w`` x ``h`` cutout covers the fewest occupied pixels, nearest the centre among those.

    Args:
        occupied: (H, W) booleans, True where a cutout already is.
        w: the new cutout's width in canvas pixels.
        h: its height.

    Returns:
        The top-left corner ``(x, y)``; the centre on an empty canvas. A cutout larger than
        the canvas is centred.
    """
    rows, cols = occupied.shape
    if w > cols or h > rows:
        return (cols - w) // 2, (rows - h) // 2
    # pixels covered by every placement at once, from the summed-area table
    table = np.pad(occupied.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    ys, xs = np.arange(rows - h + 1)[:, None], np.arange(cols - w + 1)[None, :]
    covered = table[ys + h, xs + w] - table[ys, xs + w] - table[ys + h, xs] + table[ys, xs]
    off_centre = (2 * ys + h - rows) ** 2 + (2 * xs + w - cols) ** 2
    best = np.lexsort((off_centre.ravel(), covered.ravel()))[0]  # fewest covered, then nearest the centre
    y, x = divmod(int(best), covered.shape[1])
    return x, y


@dataclass
class Snapshot:
    """The layers and the selection at one moment: one undo step.

    Args:
        layers: every layer's state, bottom to top.
        selected: the selected layer, or None.
    """

    layers: tuple[_LayerState, ...]  # bottom to top
    selected: Layer | None


class LayerEditor(HasTraits):
    """Editing actions on a composition, with a selection and undo.

    Every action returns whether it changed something (or what it placed), so a key or a
    button that does nothing adds no undo step. Assigning another ``composition`` clears
    the selection and the history.

    Args:
        composition: the composition to edit.
        palette: where cutouts are found by name (``image(name)``, ``name in palette``).

    >>> from ipainter_nb.widgets.palette import Palette
    >>> editor = LayerEditor(Composition(64), Palette("demo"))
    >>> sun = editor.add_cutout("sun")
    >>> editor.selected is sun, editor.can_undo
    (True, True)
    >>> editor.undo(), len(editor.composition), editor.can_redo
    (True, 0, True)
    """

    composition = Instance(Composition, help="the composition being edited")
    selected = Instance(Layer, allow_none=True, help="the selected layer, or None")
    can_undo = Bool(False, help="whether there is an action to undo")
    can_redo = Bool(False, help="whether there is an undone action to redo")

    def __init__(self, composition: Composition, palette: Palette) -> None:
        super().__init__()
        self.palette = palette
        self._undo: list[Snapshot] = []
        self._redo: list[Snapshot] = []
        self._last_key: str | None = None  # coalesces a slider drag or wheel turns into one undo step
        self._scale_anchor: tuple[float, float] | None = None
        self.composition = composition

    @property
    def _comp(self) -> Composition:
        return self.composition

    @observe("composition")
    def _on_composition_replaced(self, change: Any) -> None:
        old, new = change["old"], change["new"]
        if isinstance(old, Composition):  # the first assignment replaces a placeholder
            old.unobserve(self._on_composition_changed)
        new.observe(self._on_composition_changed)
        self._undo.clear()
        self._redo.clear()
        self._last_key = None
        self._history_changed()
        self.selected = None

    def _on_composition_changed(self, _composition: Composition) -> None:
        if self.selected is not None and self.selected not in self._comp:
            self.selected = None  # removed by code outside the editor

    @validate("selected")
    def _check_selected(self, proposal: Any) -> Layer | None:
        return self.selectable(proposal["value"])

    def selectable(self, layer: Layer | None) -> Layer | None:
        """``layer`` when it may be selected (None, or a layer of the composition).

        Args:
            layer: the layer to select, or None.

        Raises:
            ValueError: ``layer`` is not in the composition.
        """
        if layer is not None and layer not in self.composition:
            raise ValueError(f"{layer!r} is not in the composition; select one of composer.composition.layers")
        return layer

    def _history_changed(self) -> None:
        self.can_undo, self.can_redo = bool(self._undo), bool(self._redo)

    # ------------------------------------------------------------------ editing

    def add_cutout(self, name: str, x: float | None = None, y: float | None = None,
                   scale: float | None = None, flip: bool = False) -> Layer:
        """Put the palette's cutout ``name`` on top, selected; return the new layer.

        By default it is centred at a size that fits (``fitting_scale``: a third of the
        canvas). A cutout larger
        than the canvas is first reduced to the canvas' size, so that ``scale`` 1 never
        exceeds the canvas and the scale control's range covers every useful size.

        Args:
            name: the palette entry to place; KeyError if the palette has none by that name.
            x: left edge in canvas pixels (default: centred horizontally).
            y: top edge in canvas pixels (default: centred vertically).
            scale: size factor of the cutout (default: ``fitting_scale``).
            flip: mirror the cutout left-right.
        """
        self.palette.image(name)  # KeyError naming what the palette has
        self.record()
        return self._place(name, x, y, scale, flip)

    def place_from_palette(self, name: str) -> Layer:
        """What a click on a palette button does: ``add_cutout`` at a free spot (``free_spot``),
        so that cutouts clicked one after another do not cover each other.

        Args:
            name: the palette entry to place; KeyError if the palette has none by that name.

        Returns:
            The new layer (on top, selected).
        """
        self.palette.image(name)  # KeyError naming what the palette has
        self.record()
        return self._place(name, free=True)

    def load_layout(self, entries: Iterable[Mapping[str, Any]]) -> list[Layer]:
        """Place several cutouts at once (e.g. ``demo.cutouts.demo_layout()``), one undo step.

        Args:
            entries: mappings with a palette ``name`` and optional ``x``, ``y``, ``scale``
                and ``flip`` (as ``add_cutout`` takes them); KeyError, and nothing placed,
                when a name is not in the palette.

        Returns:
            The new layers, bottom to top.
        """
        entries = list(entries)
        for entry in entries:
            if entry.get("name") not in self.palette:
                raise KeyError(f"no cutout named {entry.get('name')!r} in the palette")
        self.record()
        with self._comp.batch():
            return [self._place(e["name"], e.get("x"), e.get("y"), e.get("scale"), e.get("flip", False))
                    for e in entries]

    def place_names(self, names: Sequence[str]) -> list[Layer]:
        """Place palette cutouts at free spots (``free_spot``), one undo step for them all.

        Args:
            names: palette entries to place, in order (the last one ends on top, selected).

        Returns:
            The new layers, in the order of ``names``.
        """
        if not names:
            return []
        self.record()
        with self._comp.batch():  # one redraw, one undo step for the whole upload
            return [self._place(name, free=True) for name in names]

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
               scale: float | None = None, flip: bool = False, free: bool = False) -> Layer:
        layer = Layer(self._image_for_canvas(name), scale=1.0 if scale is None else scale, flip=flip, name=name)
        if scale is None:
            layer.scale = fitting_scale(layer, self._comp.size)
        w, h = layer.size
        if free:
            x, y = free_spot(self._comp.render()[1][0].numpy() > 0.5, w, h)
        layer.x = int((self._comp.width - w) // 2) if x is None else as_position(x, "x")
        layer.y = int((self._comp.height - h) // 2) if y is None else as_position(y, "y")
        with self.hold_trait_notifications():  # selected is checked once the layer is in
            self.selected = layer  # before add(): the redraw it triggers outlines it
            self._comp.add(layer)
        return layer

    def select(self, layer: Layer | None) -> None:
        """Select a layer of the composition (or None).

        Args:
            layer: a layer of ``composition`` (ValueError otherwise), or None to deselect.
        """
        self.selected = layer

    def delete_selected(self) -> bool:
        """Remove the selected layer; False when nothing is selected."""
        layer = self.current()
        if layer is None:
            return False
        self.record()
        self.selected = None
        self._comp.remove(layer)
        return True

    def flip_selected(self) -> bool:
        """Mirror the selected layer left-right; False when nothing is selected."""
        layer = self.current()
        if layer is None:
            return False
        self.record()
        self._comp.update(layer, flip=not layer.flip)
        return True

    def forward(self) -> bool:
        """Bring the selected layer one step up; False if none or already on top."""
        return self._reorder("forward")

    def backward(self) -> bool:
        """Send the selected layer one step down; False if none or already at the bottom."""
        return self._reorder("backward")

    def _reorder(self, where: str) -> bool:
        layer = self.current()
        if layer is None:
            return False
        order = self._comp.layers
        end = order[-1] if where == "forward" else order[0]
        if end is layer:
            return False  # nothing would change: no undo step for it
        self.record()
        self._comp.reorder(layer, where)
        return True

    def set_scale(self, scale: float) -> bool:
        """Scale the selected layer about its centre, clamped to [MIN_SCALE, MAX_SCALE] and
        to the largest size the composition accepts; False when nothing is selected.

        Consecutive calls on the same layer (a slider drag, wheel turns) are one undo step.

        Args:
            scale: the new size factor of the selected layer (1 = the cutout's own size).
        """
        layer = self.current()
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
        self.record(key)
        w = max(1, round(layer.image.width * scale))
        h = max(1, round(layer.image.height * scale))
        self._comp.update(layer, scale=scale, x=math.floor(cx - w / 2 + 0.5), y=math.floor(cy - h / 2 + 0.5))
        return True

    def nudge(self, dx: int, dy: int) -> bool:
        """Move the selected layer by (dx, dy) canvas pixels (arrow keys); one undo step per run.

        Args:
            dx: canvas pixels to the right (negative: left).
            dy: canvas pixels down (negative: up).

        Returns:
            False when nothing is selected.
        """
        layer = self.current()
        if layer is None:
            return False
        self.record(f"nudge:{id(layer)}")
        self._comp.move(layer, dx, dy)
        return True

    def bring_back(self) -> int:
        """Move layers lying entirely off the canvas just inside its nearest edge; return how many."""
        off = self._comp.off_canvas_layers()
        if not off:
            return 0
        self.record()
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

    def current(self) -> Layer | None:
        """The selected layer while it is in the composition, else None."""
        layer = self.selected
        return layer if layer is not None and layer in self._comp else None

    # ------------------------------------------------------------------ undo / redo

    def snapshot(self) -> Snapshot:
        """The layers and the selection now (what ``record`` keeps; a drag takes one as it starts)."""
        return Snapshot(
            tuple((layer, layer.image, layer.x, layer.y, layer.scale, layer.flip) for layer in self._comp.layers),
            self.current())

    def record(self, key: str | None = None, snapshot: Snapshot | None = None) -> None:
        """Remember the state before an action (one undo step).

        Args:
            key: merges repeats of one gesture (consecutive records with the same key are one step).
            snapshot: the state to remember (default: now).
        """
        if key is not None and key == self._last_key and self._undo:
            return
        self._undo.append(snapshot or self.snapshot())
        del self._undo[:-_HISTORY]
        self._redo.clear()
        self._last_key = key
        if key is None or not key.startswith("scale:"):
            self._scale_anchor = None
        self._history_changed()

    def _restore(self, snap: Snapshot) -> None:
        with self.hold_trait_notifications(), self._comp.batch():
            self._comp.clear()
            for layer, image, x, y, scale, flip in snap.layers:
                layer.image, layer.x, layer.y, layer.scale, layer.flip = image, x, y, scale, flip
                self._comp.add(layer)  # in bottom-to-top order: add() restores z
            self.selected = snap.selected
        self._last_key = None
        self._scale_anchor = None
        self._history_changed()

    def undo(self) -> bool:
        """Undo the last action; False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self.snapshot())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        """Redo the last undone action; False when there is nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(self.snapshot())
        self._restore(self._redo.pop())
        return True
