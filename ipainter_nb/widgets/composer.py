"""Composer: place landmark cutouts on a canvas in a notebook, with the mouse.

The widget is a thin view over a ``Composition``: every edit goes through the
composition's public methods, so ``composer.composition`` is always the truth and anything
observing it (the Painter app) hears about every change.

Drawing follows ipycanvas' advice: all commands of a redraw are batched in one
``hold_canvas()`` message, and the picture travels as ONE image per redraw. The image is
sent at canvas resolution (64x64 for the demo model) and enlarged by the browser with
image smoothing off, so a frame costs a few hundred bytes instead of a JPEG of the
display size, and pixels stay crisp. During a drag only the picture and the overlay
(selection outline, optional mask) are redrawn, at most ``max_fps`` times a second.

Every handler the browser triggers is a public method taking DISPLAY pixels
(``on_mouse_down(x, y)``, ...), so tests and scripts can drive the widget without a
browser.
"""

from __future__ import annotations

import asyncio
import html
import io
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Union

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from PIL import Image
from traitlets import Int

from ipainter_nb.core.composition import Composition, Layer
from ipainter_nb.demo.cutouts import list_cutouts
from ipainter_nb.images import ImageLoadError, load_rgba, tensor_to_uint8

__all__ = ["Composer", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_SIDE", "default_display_scale"]

PathLike = Union[str, os.PathLike]
CutoutSource = Union[str, PathLike, Mapping[str, PathLike | Image.Image], None]

#: Uploads larger than this are refused before decoding (a notebook comm carries them).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Uploads with a side longer than this are refused; smaller big ones are downscaled.
MAX_UPLOAD_SIDE = 4096
#: Cutouts are stored at most this big (``load_rgba``'s downscaling, with its warning).
CUTOUT_MAX_SIZE = 512
#: A new layer covers at most this fraction of the canvas' shorter side.
FIT_FRACTION = 0.75
MIN_SCALE, MAX_SCALE = 0.01, 10.0
IMAGE_SUFFIXES = (".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")

_MASK_RGBA = (255, 64, 160, 110)  # tint of the region the model will generate
_THUMB = 48  # thumbnail box, CSS pixels
_HISTORY = 200  # undo steps kept


def default_display_scale(width: int, height: int) -> int:
    """How much the canvas is enlarged on screen: 64 px -> x6 (384), 256 px -> x2 (512).

    An integer factor keeps every canvas pixel the same size on screen; at most 512 px
    (the notebook column) and never more than x6.
    """
    return max(1, min(6, 512 // max(width, height)))


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
    ``cutouts``: the palette: ``"demo"`` (the shipped pack), a folder, a mapping of
    name -> path or PIL image, or ``None`` for an empty palette.
    ``display_scale``: screen pixels per canvas pixel (default: ``default_display_scale``).
    ``max_fps``: cap on redraws per second while dragging, scrolling or sliding.

    >>> composer = Composer(size=64)
    >>> sun = composer.add_cutout("sun")            # centred, on top, selected
    >>> composer.on_mouse_down(192, 192); composer.on_mouse_move(252, 192)
    >>> composer.on_mouse_up(252, 192)              # dragged 60 display px = 10 canvas px
    >>> composer.undo()
    """

    #: Increments on every change of the composition (observe it with traitlets).
    version = Int(0, read_only=True)

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
        self._comp: Composition = composition if composition is not None else Composition(size)
        self._scale = self._pick_scale(display_scale)
        self._selected: Layer | None = None
        self._drag: _Drag | None = None
        self._undo: list[_Snapshot] = []
        self._redo: list[_Snapshot] = []
        self._last_key: str | None = None  # coalesces a slider drag into one undo step
        self._scale_anchor: tuple[float, float] | None = None
        self._callbacks: list[Callable[[Composition], Any]] = []
        self._cutouts: dict[str, Image.Image] = {}
        self._message: tuple[str, str] = ("info", "")
        self._syncing = False  # True while the widget sets its own controls
        self._continuous = False  # True inside a drag/wheel/slider update: throttle redraws
        self._dirty = False
        self._last_frame = -math.inf
        self._trailing: asyncio.TimerHandle | None = None
        self._clock: Callable[[], float] = time.monotonic
        #: Number of frames sent to the browser (tests check the drag throttle with it).
        self.frames_drawn = 0

        self._build_canvas()
        self._build_tools()
        self.palette = W.HBox(layout=W.Layout(flex_flow="row wrap", align_items="flex-end"))
        self.palette.add_class("ipn-palette")
        self.upload = W.FileUpload(accept="image/*", multiple=True, description="Upload",
                                   tooltip="Add your own cutouts (PNG with transparency)")
        self.upload.observe(self._on_upload, "value")
        #: One line of feedback: errors, warnings, off-canvas layers.
        self.status = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.status.add_class("ipn-status")
        self.children = [
            W.HBox([self.canvas, self.tools]),
            W.HBox([self.palette, self.upload], layout=W.Layout(align_items="flex-end")),
            self.status,
        ]
        self.add_class("ipn-composer")

        if isinstance(cutouts, str) and cutouts == "demo":
            self._add_cutout_sources(list_cutouts())
        elif isinstance(cutouts, Mapping):
            self._add_cutout_sources(cutouts)
        elif cutouts is not None:
            self.add_cutout_folder(cutouts)
        self._comp.observe(self._on_composition_changed)
        self._sync_controls()
        self.redraw()

    # ------------------------------------------------------------------ properties

    @property
    def composition(self) -> Composition:
        """The composition being edited (always current; replace it with the setter)."""
        return self._comp

    @composition.setter
    def composition(self, composition: Composition) -> None:
        self.set_composition(composition)

    def set_composition(self, composition: Composition) -> None:
        """Edit another composition (e.g. one loaded from JSON); clears selection and undo."""
        if not isinstance(composition, Composition):
            raise TypeError(f"expected a Composition, got {type(composition).__name__}")
        self._end_drag()
        self._comp.unobserve(self._on_composition_changed)
        self._comp = composition
        self._comp.observe(self._on_composition_changed)
        self._scale = self._pick_scale(self._fixed_scale)
        self.canvas.width, self.canvas.height = self._display_size()
        self._undo.clear()
        self._redo.clear()
        self._last_key = None
        self._selected = None
        self._on_composition_changed(composition)

    @property
    def display_scale(self) -> float:
        """Screen pixels per canvas pixel."""
        return self._scale

    @property
    def selected(self) -> Layer | None:
        """The selected layer (outlined on the canvas), or None."""
        return self._selected

    @property
    def cutout_names(self) -> list[str]:
        """Names in the palette, in palette order."""
        return list(self._cutouts)

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

    def observe_composition(self, callback: Callable[[Composition], Any]) -> None:
        """Call ``callback(composition)`` after every change of the composition."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def unobserve_composition(self, callback: Callable[[Composition], Any]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    # ------------------------------------------------------------------ building

    def _pick_scale(self, fixed: float | None) -> float:
        if fixed is None:
            return float(default_display_scale(self._comp.width, self._comp.height))
        if not isinstance(fixed, (int, float)) or isinstance(fixed, bool) or not fixed > 0:
            raise ValueError(f"display_scale: expected a positive number, got {fixed!r}")
        return float(fixed)

    def _display_size(self) -> tuple[int, int]:
        return (max(1, round(self._comp.width * self._scale)),
                max(1, round(self._comp.height * self._scale)))

    def _build_canvas(self) -> None:
        w, h = self._display_size()
        # [0] picture, [1] overlay (mask tint, selection outline); the top one gets events.
        self.canvas = MultiCanvas(2, width=w, height=h)
        self.canvas.add_class("ipn-canvas")
        self.canvas.on_mouse_down(self.on_mouse_down)
        self.canvas.on_mouse_move(self.on_mouse_move)
        self.canvas.on_mouse_up(self.on_mouse_up)
        self.canvas.on_mouse_out(self.on_mouse_out)
        self.canvas.on_mouse_wheel(self.on_mouse_wheel)
        self.canvas.on_key_down(self.on_key_down)
        # A fresh browser view (page reload, second view) starts blank: draw again.
        for layer_canvas in (self.canvas[0], self.canvas[1]):
            layer_canvas.on_client_ready(self.redraw)

    def _button(self, description: str, icon: str, tooltip: str,
                action: Callable[[], Any]) -> W.Button:
        button = W.Button(description=description, icon=icon, tooltip=tooltip,
                          layout=W.Layout(width="auto"))
        button.on_click(lambda _: action())
        return button

    def _build_tools(self) -> None:
        self.delete_button = self._button("Delete", "trash", "Delete the selected layer (Delete)",
                                          self.delete_selected)
        self.flip_button = self._button("Flip", "arrows-h", "Mirror the selected layer (f)",
                                        self.flip_selected)
        self.forward_button = self._button("Forward", "arrow-up", "Bring forward (])", self.forward)
        self.backward_button = self._button("Backward", "arrow-down", "Send backward ([)",
                                            self.backward)
        self.undo_button = self._button("Undo", "undo", "Undo (Ctrl+Z)", self.undo)
        self.redo_button = self._button("Redo", "repeat", "Redo (Ctrl+Shift+Z)", self.redo)
        self.bring_back_button = self._button(
            "Bring back", "compress", "Move layers that are off the canvas back onto it",
            self.bring_back)
        self.mask_toggle = W.ToggleButton(value=False, description="Show mask", icon="eye",
                                          tooltip="Tint the region the model will paint",
                                          layout=W.Layout(width="auto"))
        self.mask_toggle.observe(lambda _: self._draw(picture=False), "value")
        self.scale_slider = W.FloatLogSlider(
            value=1.0, base=10, min=math.log10(MIN_SCALE), max=math.log10(MAX_SCALE), step=0.01,
            description="Scale", readout_format=".2f", layout=W.Layout(width="260px"))
        self.scale_slider.observe(self._on_slider, "value")
        self.tools = W.VBox([
            W.HBox([self.undo_button, self.redo_button]),
            W.HBox([self.delete_button, self.flip_button]),
            W.HBox([self.forward_button, self.backward_button]),
            self.scale_slider,
            W.HBox([self.mask_toggle, self.bring_back_button]),
        ], layout=W.Layout(margin="0 0 0 8px"))
        self.tools.add_class("ipn-tools")

    # ------------------------------------------------------------------ palette

    def register_cutout(self, name: str, image: Image.Image) -> str:
        """Put an RGBA image in the palette under ``name`` (made unique); return the name used."""
        base = name.strip() or "cutout"
        unique, k = base, 2
        while unique in self._cutouts:
            unique, k = f"{base}-{k}", k + 1
        self._cutouts[unique] = image
        self.palette.children = (*self.palette.children, self._palette_item(unique, image))
        return unique

    def _palette_item(self, name: str, image: Image.Image) -> W.VBox:
        thumb = Image.new("RGBA", (_THUMB, _THUMB), (0, 0, 0, 0))
        k = (_THUMB - 4) / max(image.size)
        size = (max(1, round(image.width * k)), max(1, round(image.height * k)))
        # Enlarge pixel art with NEAREST (crisp, as on the canvas); shrink photos smoothly.
        resample = Image.Resampling.NEAREST if k >= 1 else Image.Resampling.LANCZOS
        small = image.resize(size, resample)
        thumb.paste(small, ((_THUMB - size[0]) // 2, (_THUMB - size[1]) // 2), small)
        buf = io.BytesIO()
        thumb.save(buf, format="PNG")
        picture = W.Image(value=buf.getvalue(), format="png", width=_THUMB, height=_THUMB)
        button = W.Button(description=name, tooltip=f"Add {name} to the canvas",
                          layout=W.Layout(width="76px", padding="0 2px"))
        button.add_class("ipn-cutout-button")
        button.on_click(lambda _: self.add_cutout(name))
        item = W.VBox([picture, button], layout=W.Layout(align_items="center", margin="2px"))
        item.add_class("ipn-cutout")
        return item

    def _add_cutout_sources(self, sources: Mapping[str, PathLike | Image.Image]) -> list[str]:
        added, notes, problems = [], [], []
        for name, source in sources.items():
            try:
                # messages name the file the user can go and fix
                label = str(name) if isinstance(source, Image.Image) else Path(source).name
                image, warned = self._load(source, label)
            except ImageLoadError as e:
                problems.append(str(e))
                continue
            notes += warned
            added.append(self.register_cutout(str(name), image))
        if problems:
            self._set_message("error", f"Skipped {len(problems)} file(s): " + "; ".join(problems))
        elif notes:
            self._set_message("warning", " ".join(notes))
        return added

    def add_cutout_folder(self, path: PathLike) -> list[str]:
        """Add every image file of a folder to the palette (sorted by name); return the names.

        Unreadable files are skipped and named in the status line.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder}: not a folder of cutout images")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return self._add_cutout_sources({p.stem: p for p in files})

    @staticmethod
    def _load(source: PathLike | Image.Image | bytes, name: str) -> tuple[Image.Image, list[str]]:
        """A cutout through the size checks and ``load_rgba``, with load_rgba's warnings
        (conversions, downscaling) as text for the status line."""
        if isinstance(source, (bytes, bytearray, memoryview)):
            data: bytes | None = bytes(source)
        elif isinstance(source, Image.Image):
            data = None
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as e:
                raise ImageLoadError(f"{name}: cannot be read ({e.strerror or e})") from None
        if data is not None:
            _check_size(data, name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = load_rgba(source if data is None else data, max_size=CUTOUT_MAX_SIZE, name=name)
        return image, [str(w.message) for w in caught]

    # ------------------------------------------------------------------ upload

    def _on_upload(self, change: dict) -> None:
        if not change["new"]:
            return  # our own reset below
        try:
            self.handle_upload(change["new"])
        finally:
            # Clear it so that uploading the same file again fires again.
            self.upload.value = ()

    def handle_upload(self, value: Sequence[Any]) -> list[Layer]:
        """Add uploaded files (ipywidgets 8 ``FileUpload.value``: dicts with "name" and
        "content") to the palette and the canvas; return the new layers.

        A file that is not an image, or is huge, is refused with a message in the status
        line and changes nothing; the others are still added.
        """
        loaded: list[tuple[str, Image.Image]] = []
        notes: list[str] = []
        problems: list[str] = []
        for entry in value:
            get = entry.get if isinstance(entry, Mapping) else partial(getattr, entry)
            name, content = str(get("name", "upload")), get("content", None)
            try:
                if content is None:
                    raise ImageLoadError(f"{name}: the upload has no content")
                image, warned = self._load(bytes(content), name)
            except ImageLoadError as e:
                problems.append(str(e))
                continue
            loaded.append((Path(name).stem, image))
            notes += warned
        layers = []
        if loaded:
            self._end_drag()
            self._record()
            with self._comp.batch():  # one redraw, one undo step for the whole upload
                for stem, image in loaded:
                    layers.append(self._place(self.register_cutout(stem, image)))
        added = f"Added {', '.join(layer.name for layer in layers)}." if layers else ""
        if problems:
            self._set_message("error", " ".join(["Not added:", *problems, added, *notes]).strip())
        elif notes:
            self._set_message("warning", " ".join(notes))
        elif layers:
            self._set_message("ok", added)
        return layers

    # ------------------------------------------------------------------ editing

    def add_cutout(self, name: str, x: float | None = None, y: float | None = None,
                   scale: float | None = None, flip: bool = False) -> Layer:
        """Put the palette's cutout ``name`` on top, selected; return the new layer.

        By default it is centred and scaled to fit (never enlarged).
        """
        if name not in self._cutouts:
            raise KeyError(f"no cutout named {name!r}; the palette has: "
                           f"{', '.join(self._cutouts) or 'nothing'}")
        self._end_drag()
        self._record()
        return self._place(name, x, y, scale, flip)

    def load_layout(self, entries: Iterable[Mapping[str, Any]]) -> list[Layer]:
        """Place several cutouts at once (e.g. ``demo.cutouts.demo_layout()``), one undo step."""
        entries = list(entries)
        for entry in entries:
            if entry.get("name") not in self._cutouts:
                raise KeyError(f"no cutout named {entry.get('name')!r} in the palette")
        self._end_drag()
        self._record()
        with self._comp.batch():
            return [self._place(e["name"], e.get("x"), e.get("y"), e.get("scale"),
                                bool(e.get("flip", False))) for e in entries]

    def _place(self, name: str, x: float | None = None, y: float | None = None,
               scale: float | None = None, flip: bool = False) -> Layer:
        image = self._cutouts[name]
        if scale is None:
            room = FIT_FRACTION * min(self._comp.size)
            scale = min(1.0, room / max(image.size))
        layer = Layer(image, scale=scale, flip=flip, name=name)
        w, h = layer.size
        layer.x = int((self._comp.width - w) // 2) if x is None else round(x)
        layer.y = int((self._comp.height - h) // 2) if y is None else round(y)
        self._selected = layer  # before add(): the redraw it triggers outlines it
        self._comp.add(layer)
        self._sync_controls()
        return layer

    def select(self, layer: Layer | None) -> None:
        """Select a layer of the composition (or None); only the overlay is redrawn."""
        if layer is not None and layer not in self._comp:
            raise ValueError(f"{layer!r} is not in the composition")
        if layer is self._selected:
            return
        self._selected = layer
        self._sync_controls()
        self._draw(picture=False)

    def delete_selected(self) -> bool:
        """Remove the selected layer; False when nothing is selected."""
        layer = self._current()
        if layer is None:
            return False
        self._record()
        self._selected = None
        self._comp.remove(layer)
        self._sync_controls()
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
        """Scale the selected layer about its centre (clamped to [0.01, 10]).

        Consecutive calls on the same layer (a slider drag, wheel turns) are one undo step.
        """
        layer = self._current()
        if layer is None:
            return False
        scale = min(MAX_SCALE, max(MIN_SCALE, float(scale)))
        key = f"scale:{id(layer)}"
        if self._last_key != key or self._scale_anchor is None:
            w, h = layer.size
            # Keep the centre as a float across a slider drag so rounding does not creep.
            self._scale_anchor = (layer.x + w / 2, layer.y + h / 2)
        cx, cy = self._scale_anchor
        self._record(key)
        w = max(1, round(layer.image.width * scale))
        h = max(1, round(layer.image.height * scale))
        self._comp.update(layer, scale=scale, x=math.floor(cx - w / 2 + 0.5),
                          y=math.floor(cy - h / 2 + 0.5))
        self._sync_controls()
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
        if self._selected is not None and self._selected not in self._comp:
            self._selected = None  # removed from outside the widget
        return self._selected

    # ------------------------------------------------------------------ undo / redo

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            tuple((layer, layer.image, layer.x, layer.y, layer.scale, layer.flip)
                  for layer in self._comp.layers),
            self._selected)

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
        with self._comp.batch():
            self._comp.clear()
            for layer, image, x, y, scale, flip in snap.layers:
                layer.image, layer.x, layer.y, layer.scale, layer.flip = image, x, y, scale, flip
                self._comp.add(layer)  # in bottom-to-top order: add() restores z
            self._selected = snap.selected if snap.selected in self._comp else None
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
        self.select(layer)
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
        """Scale the selected layer: wheel up enlarges (about 15% per notch of 100 px)."""
        layer = self._current()
        if layer is None or not dy:
            return
        factor = math.exp(max(-1.0, min(1.0, -dy * 0.0015)))
        self._continuous = True
        try:
            self.set_scale(layer.scale * factor)
        finally:
            self._continuous = False

    def on_key_down(self, key: str, shift_key: bool = False, ctrl_key: bool = False,
                    meta_key: bool = False) -> bool:
        """Keyboard on the focused canvas: Delete/Backspace, f (flip), [ ] (order),
        Ctrl/Cmd+Z (undo), Ctrl/Cmd+Shift+Z or Ctrl+Y (redo), arrows (nudge; Shift: 8 px),
        Escape (deselect). Returns whether the key did something."""
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
        if key == "Escape":
            had = self._selected is not None
            self.select(None)
            return had
        arrows = {"ArrowLeft": (-1, 0), "ArrowRight": (1, 0), "ArrowUp": (0, -1),
                  "ArrowDown": (0, 1)}
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
            self.set_scale(change["new"])
        finally:
            self._continuous = False

    # ------------------------------------------------------------------ change handling

    def _on_composition_changed(self, composition: Composition) -> None:
        self.set_trait("version", self.version + 1)
        if self._continuous:
            self._request_frame()
        else:
            self._draw()
        self._update_status()
        self._sync_controls()
        for callback in list(self._callbacks):
            try:
                callback(composition)
            except Exception as e:  # the change happened; a bad listener must not undo it
                warnings.warn(f"composition callback {callback!r} raised "
                              f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)

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
        """Enable what applies; put the selected layer's scale on the slider."""
        layer = self._current()
        none = layer is None
        for button in (self.delete_button, self.flip_button, self.forward_button,
                       self.backward_button):
            button.disabled = none
        self.scale_slider.disabled = none
        self.undo_button.disabled = not self._undo
        self.redo_button.disabled = not self._redo
        self.bring_back_button.disabled = not self._comp.off_canvas_layers()
        if layer is not None and not math.isclose(self.scale_slider.value, layer.scale):
            self._syncing = True
            try:
                self.scale_slider.value = layer.scale
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
            f'<span class="ipn-{level}" style="color:{colors[level]}">{html.escape(text)}</span>'
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
                self._put_scaled(pic, _opaque_rgba(rendered[0]), s)
            over.clear()
            if self.show_mask:
                self._put_scaled(over, _mask_tint(rendered[1]), s)
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
            self.frames_drawn += 1

    @staticmethod
    def _put_scaled(canvas: Any, rgba: np.ndarray, s: float) -> None:
        # The browser enlarges the canvas-size image; smoothing off keeps pixels square.
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


def _check_size(data: bytes, name: str) -> None:
    """Refuse huge files before decoding them (upload limits of the status line's message)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageLoadError(f"{name}: file is {len(data) / 2**20:.1f} MB; the limit is "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            w, h = probe.size
    except Exception:
        return  # not an image: load_rgba says so in its own words
    if max(w, h) > MAX_UPLOAD_SIDE:
        raise ImageLoadError(f"{name}: image is {w}x{h} px; the limit is {MAX_UPLOAD_SIDE} px "
                             "a side")
