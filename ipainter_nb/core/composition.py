"""Layers of landmark cutouts on a canvas, rendered to the sampler's (image, keep) pair.

A ``Composition`` holds ``Layer`` s (RGBA cutouts with a position, scale, flip and
z-order). ``render()`` alpha-composites them into a (3, H, W) image in [-1, 1] and derives
the keep mask (1, H, W): 1 where a cutout covers the canvas (keep), 0 elsewhere
(generate), as RePaint's ``gt_keep_mask``. Compositions round-trip through JSON so a
scene, its paint settings and its seed can be saved, shared and re-run.

Mask choices:

- ``alpha_threshold`` binarizes the composited alpha: the sampler needs a hard {0, 1} mask
  (it replaces known pixels by their noised ground truth at every step, so a fractional
  mask would mix noise levels).
- ``erode`` shrinks the kept region by that many pixels (square neighbourhood). Cutout
  edges are often soft or carry a halo of the old background; regenerating a thin rim lets
  the model blend the cutout into what it paints.
- ``feather`` never reaches the sampler. It only softens the kept/generated boundary in
  ``render_preview()`` so the user sees roughly how the edge will blend; keeping it out of
  the mask keeps ``render()`` exactly what is painted.

Limits (checked before anything large is allocated; ``CompositionError`` names them): a
canvas side is at most ``MAX_CANVAS_SIDE``; a layer as drawn is at most
``MAX_LAYER_CANVAS_RATIO`` canvas sides on a side (and ``MAX_LAYER_SIDE`` pixels for a layer
on its own); a composition JSON is at most ``MAX_JSON_BYTES`` long and ``MAX_JSON_DEPTH``
levels deep.

Saving with ``embed_images=False`` writes the cutouts as ``<stem>_layers/<name>-<tag>-<hash>.png``
where ``tag`` is derived from the JSON's file name, so that two compositions sharing a stem
(``scene.json`` and ``scene.JSON``, or ``scene.json`` and ``scene.comp``) never share, replace
or delete each other's files. A save removes only files that the previous version of the
same JSON listed and that carry its tag: files it cannot prove are its own stay.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from ipainter_nb.errors import UserInputError
from ipainter_nb.images import (
    ImageLoadError,
    load_rgba,
    mask_to_pil,
    png_bytes,
    read_bounded,
    save_png_atomic,
    tensor_to_pil,
    write_bytes_atomic,
    write_text_atomic,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "MAX_CANVAS_SIDE",
    "MAX_LAYER_CANVAS_RATIO",
    "MAX_LAYER_SIDE",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "CompositionError",
    "Layer",
    "Composition",
]

FORMAT = "ipainter-nb/composition"
VERSION = 1

#: Largest canvas side in pixels (the published models paint 256).
MAX_CANVAS_SIDE = 4096
#: A layer as drawn may be at most this many canvas sides wide or high.
MAX_LAYER_CANVAS_RATIO = 4
#: A layer as drawn may be at most this many pixels on a side, in or out of a composition.
MAX_LAYER_SIDE = 8192
#: Largest composition JSON file read (embedded cutouts included).
MAX_JSON_BYTES = 256 * 2**20
#: Deepest nesting of lists and objects in a composition JSON (real files use about 4).
MAX_JSON_DEPTH = 64

PathLike = str | os.PathLike
Observer = Callable[["Composition"], Any]
_REORDER = ("forward", "backward", "front", "back")


class CompositionError(UserInputError):
    """A composition (or its JSON) is invalid; the message names the field and what was expected."""


# --------------------------------------------------------------------------- validation


def _show(value: Any) -> str:
    """A value as it appears in JSON, shortened, for error messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(field_name: str, expected: str, value: Any) -> CompositionError:
    return CompositionError(f"{field_name}: expected {expected}, got {_show(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _as_int(value: Any, field_name: str, strict: bool = False) -> int:
    """An integer; ``strict`` (JSON) also accepts integral floats like 3.0, loose rounds any
    float (mouse positions arrive as floats)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if _is_number(value) and (not strict or float(value).is_integer()):
        return int(round(value))
    raise _fail(field_name, "an integer", value)


def _as_scale(value: Any, field_name: str) -> float:
    if not _is_number(value) or value <= 0:
        raise _fail(field_name, "a positive number", value)
    return float(value)


def _as_bool(value: Any, field_name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(field_name, "true or false", value)
    return bool(value)


def _as_threshold(value: Any, field_name: str = "alpha_threshold") -> float:
    if not _is_number(value) or not 0.0 <= value < 1.0:
        raise _fail(field_name, "a number in [0, 1)", value)
    return float(value)


def _as_pixels(value: Any, field_name: str) -> int:
    if not _is_number(value) or value < 0 or not float(value).is_integer():
        raise _fail(field_name, "a whole number of pixels >= 0", value)
    return int(value)


def _as_size(value: Any, field_name: str = "size") -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                for v in value)
    )
    if not ok:
        raise _fail(field_name, "a positive integer or [width, height] of positive integers",
                    list(value) if isinstance(value, tuple) else value)
    w, h = int(value[0]), int(value[1])
    if max(w, h) > MAX_CANVAS_SIDE:
        raise CompositionError(
            f"{field_name}: a canvas of {w}x{h} is larger than the limit of {MAX_CANVAS_SIDE} px a side; "
            f"compose at the model's size (64 for the demo model, 256 for the published ones)")
    return w, h


def _check_drawn_size(layer: Layer, limit: int, what: str) -> None:
    """Refuse a layer whose drawn size exceeds ``limit`` px, before it is drawn."""
    w, h = layer.size
    if max(w, h) > limit:
        raise CompositionError(
            f"scale: layer {layer.name!r} at scale {layer.scale:g} would be drawn {w}x{h} px, larger than "
            f"{what} ({limit} px a side); use a smaller scale (at most {limit / max(layer.image.size):.3g})")


def _json_depth_exceeds(text: str, limit: int) -> int | None:
    """The nesting depth of a JSON text if it exceeds ``limit``, else None.

    Checked before ``json.loads``, whose recursion fails on deep input. Strings are blanked
    first (they may hold brackets); the depth is a running sum, vectorised because embedded
    cutouts make these texts megabytes long."""
    skeleton = _JSON_STRING.sub('""', text).encode("utf-8", "surrogatepass")
    chars = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.isin(chars, _OPENERS).astype(np.int64) - np.isin(chars, _CLOSERS)
    deepest = int(np.cumsum(steps).max(initial=0))
    return deepest if deepest > limit else None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSERS = np.frombuffer(b"]}", dtype=np.uint8)


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/dicts in ``value`` nest deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


# --------------------------------------------------------------------------- Layer


@dataclass(eq=False)  # identity, not value, equality: two identical cutouts are two layers
class Layer:
    """One cutout on the canvas.

    ``x``, ``y`` are the top-left corner in canvas pixels, ``scale`` multiplies the
    image's size, ``flip`` mirrors it horizontally, higher ``z`` is drawn on top. Change a
    layer that is in a composition through ``Composition.update``/``move``/``reorder`` so
    observers hear about it.
    """

    image: Image.Image
    x: int = 0
    y: int = 0
    scale: float = 1.0
    flip: bool = False
    z: int = 0
    name: str = ""
    # (source image, scale, flip, rendered): the widgets redraw on every mouse move.
    _cache: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.image, Image.Image):
            raise TypeError(f"image: expected a PIL image, got {type(self.image).__name__}")
        if self.image.mode != "RGBA":
            self.image = self.image.convert("RGBA")
        self.x = _as_int(self.x, "x")
        self.y = _as_int(self.y, "y")
        self.scale = _as_scale(self.scale, "scale")
        self.flip = _as_bool(self.flip, "flip")
        self.z = _as_int(self.z, "z")
        if not isinstance(self.name, str):
            raise _fail("name", "a string", self.name)
        _check_drawn_size(self, MAX_LAYER_SIDE, "the limit for any layer")

    @classmethod
    def from_file(
        cls,
        path: PathLike,
        x: int = 0,
        y: int = 0,
        scale: float = 1.0,
        flip: bool = False,
        name: str | None = None,
        max_size: int | None = 512,
    ) -> Layer:
        """A layer from an image file, loaded (and converted, downscaled, checked) with
        ``images.load_rgba``; ``name`` defaults to the file's stem."""
        img = load_rgba(path, max_size=max_size)
        return cls(img, x=x, y=y, scale=scale, flip=flip, name=name or Path(path).stem)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) on the canvas, after scaling (at least 1 px each)."""
        w, h = self.image.size
        return max(1, round(w * self.scale)), max(1, round(h * self.scale))

    def bbox(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) on the canvas; x1, y1 exclusive."""
        w, h = self.size
        return self.x, self.y, self.x + w, self.y + h

    def fitting_scale(self, canvas_size: int | tuple[int, int], fraction: float = 0.4) -> float:
        """The scale at which this cutout fits in ``fraction`` of the canvas on both sides.

        Never above the current scale: a cutout that already fits keeps its size. Use it to
        place a new cutout (an upload of 32 px on a 64 px canvas would otherwise cover half of it).
        """
        if not _is_number(fraction) or not 0 < fraction <= MAX_LAYER_CANVAS_RATIO:
            raise _fail("fraction", f"a number in (0, {MAX_LAYER_CANVAS_RATIO}]", fraction)
        cw, ch = _as_size(canvas_size, "canvas_size")
        w, h = self.image.size
        return min(self.scale, fraction * cw / w, fraction * ch / h)

    def rendered(self) -> Image.Image:
        """The cutout as drawn: scaled and flipped RGBA (cached until scale/flip/image change).

        Enlarged with nearest neighbour, so each cutout pixel stays a crisp block at canvas
        resolution (smooth filters blur a small cutout into mush); reduced with LANCZOS, which
        keeps detail without aliasing. PIL premultiplies alpha, so edges get no dark fringe.
        Replace ``image`` rather than drawing into it: in-place edits do not invalidate the cache.
        """
        c = self._cache
        if c is not None and c[0] is self.image and c[1] == self.scale and c[2] == self.flip:
            return c[3]
        _check_drawn_size(self, MAX_LAYER_SIDE, "the limit for any layer")  # scale may have been set directly
        out = self.image
        size = self.size
        if size != out.size:
            enlarge = size[0] >= out.size[0] and size[1] >= out.size[1]
            out = out.resize(size, Image.Resampling.NEAREST if enlarge else Image.Resampling.LANCZOS)
        if self.flip:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        self._cache = (self.image, self.scale, self.flip, out)
        return out

    def contains(self, px: float, py: float) -> bool:
        """Whether canvas point (px, py) hits a visible (alpha > 0) pixel of this layer."""
        lx, ly = math.floor(px) - self.x, math.floor(py) - self.y
        w, h = self.size
        if not (0 <= lx < w and 0 <= ly < h):
            return False
        return self.rendered().getpixel((lx, ly))[3] > 0

    def __repr__(self) -> str:
        w, h = self.image.size
        return (f"Layer({self.name!r}, {w}x{h}, x={self.x}, y={self.y}, scale={self.scale:g}, "
                f"flip={self.flip}, z={self.z})")


# --------------------------------------------------------------------------- Composition


def _erode(keep: np.ndarray, px: int) -> np.ndarray:
    """Shrink the kept region (1s) of an (H, W) {0,1} mask by ``px`` pixels.

    Erosion of keep = dilation of generate = a max-pool of (1 - keep). A square max-pool is
    separable, so two 1-D pools cost O(px) per pixel instead of O(px^2). max_pool2d pads
    with -inf, so the canvas border is not treated as "generate": a cutout touching the
    edge stays kept up to the edge.
    """
    if px <= 0:
        return keep
    gen = torch.from_numpy(1.0 - keep)[None, None]
    k = 2 * px + 1
    gen = F.max_pool2d(gen, kernel_size=(1, k), stride=1, padding=(0, px))
    gen = F.max_pool2d(gen, kernel_size=(k, 1), stride=1, padding=(px, 0))
    return (1.0 - gen[0, 0]).numpy()


class Composition:
    """A canvas of ``size`` (an int for square, or (width, height)) holding layers.

    ``alpha_threshold``: composited alpha above this is kept. ``erode``: pixels shaved off
    the kept region so cutout edges are regenerated. ``feather``: display-only softening of
    the boundary in ``render_preview`` (see the module docstring for why).
    Observers registered with ``observe`` are called with the composition after every
    change; an observer that raises is reported with a warning and the others still run.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        alpha_threshold: float = 0.5,
        erode: int = 0,
        feather: int = 0,
    ) -> None:
        self.width, self.height = _as_size(size)
        self._alpha_threshold = _as_threshold(alpha_threshold)
        self._erode = _as_pixels(erode, "erode")
        self._feather = _as_pixels(feather, "feather")
        self._layers: list[Layer] = []
        self._observers: list[Observer] = []
        self._held = 0
        self._pending = False
        #: Paint settings saved with the composition (opaque to it; e.g. schedule knobs).
        self.settings: dict = {}
        #: Seed saved with the composition, so a scene re-paints identically.
        self.seed: int | None = None

    # ----------------------------------------------------------------- properties

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width, self.height

    @property
    def alpha_threshold(self) -> float:
        return self._alpha_threshold

    @alpha_threshold.setter
    def alpha_threshold(self, value: float) -> None:
        self._alpha_threshold = _as_threshold(value)
        self._changed()

    @property
    def erode(self) -> int:
        return self._erode

    @erode.setter
    def erode(self, value: int) -> None:
        self._erode = _as_pixels(value, "erode")
        self._changed()

    @property
    def feather(self) -> int:
        return self._feather

    @feather.setter
    def feather(self, value: int) -> None:
        self._feather = _as_pixels(value, "feather")
        self._changed()

    @property
    def layers(self) -> list[Layer]:
        """The layers bottom to top (by z; ties keep insertion order). A new list each call."""
        return sorted(self._layers, key=lambda layer: layer.z)

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __contains__(self, layer: object) -> bool:
        return any(layer is other for other in self._layers)

    def __repr__(self) -> str:
        return (f"Composition(size=({self.width}, {self.height}), layers={len(self)}, "
                f"alpha_threshold={self.alpha_threshold:g}, erode={self.erode}, "
                f"feather={self.feather})")

    # ----------------------------------------------------------------- observers

    def observe(self, callback: Observer) -> None:
        """Call ``callback(composition)`` after every change (once per ``batch()``)."""
        if callback not in self._observers:
            self._observers.append(callback)

    def unobserve(self, callback: Observer) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        with contextlib.suppress(ValueError):
            self._observers.remove(callback)

    @contextlib.contextmanager
    def batch(self) -> Iterator[Composition]:
        """Group several changes into one notification (e.g. a widget applying a drag)."""
        self._held += 1
        try:
            yield self
        finally:
            self._held -= 1
            if self._held == 0 and self._pending:
                self._changed()

    def _changed(self) -> None:
        if self._held:
            self._pending = True
            return
        self._pending = False
        for callback in list(self._observers):
            try:
                callback(self)
            except Exception as e:  # the change happened; one bad observer must not hide it
                warnings.warn(f"composition observer {callback!r} raised "
                              f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=3)

    # ----------------------------------------------------------------- mutations

    def _require(self, layer: Layer) -> Layer:
        if layer not in self:
            raise ValueError(f"{layer!r} is not in this composition")
        return layer

    def _check_fits(self, layer: Layer) -> None:
        limit = min(MAX_LAYER_SIDE, MAX_LAYER_CANVAS_RATIO * max(self.size))
        _check_drawn_size(layer, limit, f"{MAX_LAYER_CANVAS_RATIO} times the {self.width}x{self.height} canvas")

    def check_size(self, image_size: int, model_name: str = "the model") -> None:
        """Raise ``CompositionError`` unless the canvas is ``image_size`` square (what the model paints).

        The one place this rule is worded: the widget and the CLI show its message.
        """
        if self.size != (image_size, image_size):
            raise CompositionError(
                f"the composition is {self.width}x{self.height} but {model_name} paints {image_size}x{image_size}: "
                f"compose at that size (Composition({image_size}))")

    def add(self, layer: Layer) -> Layer:
        """Put ``layer`` on top of the others (its z is reassigned) and return it."""
        if not isinstance(layer, Layer):
            raise TypeError(f"expected a Layer, got {type(layer).__name__}")
        if layer in self:
            raise ValueError(f"{layer!r} is already in this composition")
        self._check_fits(layer)
        layer.z = max((other.z for other in self._layers), default=-1) + 1
        self._layers.append(layer)
        self._changed()
        return layer

    def remove(self, layer_or_index: Layer | int) -> Layer:
        """Remove a layer, or the one at that index of ``layers`` (bottom = 0); return it."""
        if isinstance(layer_or_index, Layer):
            layer = self._require(layer_or_index)
        else:
            layer = self.layers[layer_or_index]
        self._layers = [other for other in self._layers if other is not layer]
        self._changed()
        return layer

    def clear(self) -> None:
        """Remove every layer."""
        self._layers = []
        self._changed()

    def move(self, layer: Layer, dx: float, dy: float) -> None:
        """Shift a layer by (dx, dy) pixels (rounded)."""
        self._require(layer)
        layer.x += _as_int(dx, "dx")
        layer.y += _as_int(dy, "dy")
        self._changed()

    def move_to(self, layer: Layer, x: float, y: float) -> None:
        """Place a layer's top-left corner at (x, y) (rounded)."""
        self._require(layer)
        layer.x, layer.y = _as_int(x, "x"), _as_int(y, "y")
        self._changed()

    def update(
        self,
        layer: Layer,
        *,
        x: float | None = None,
        y: float | None = None,
        scale: float | None = None,
        flip: bool | None = None,
        name: str | None = None,
        image: Image.Image | None = None,
    ) -> None:
        """Change several fields of a layer at once (validated), with one notification."""
        self._require(layer)
        # Validate everything before touching the layer so a bad value changes nothing.
        new: dict[str, Any] = {}
        if x is not None:
            new["x"] = _as_int(x, "x")
        if y is not None:
            new["y"] = _as_int(y, "y")
        if scale is not None:
            new["scale"] = _as_scale(scale, "scale")
        if flip is not None:
            new["flip"] = _as_bool(flip, "flip")
        if name is not None:
            if not isinstance(name, str):
                raise _fail("name", "a string", name)
            new["name"] = name
        if image is not None:
            new["image"] = load_rgba(image, max_size=None, name=layer.name)
        if "scale" in new or "image" in new:
            probe = Layer(new.get("image", layer.image), scale=new.get("scale", layer.scale), name=layer.name)
            self._check_fits(probe)
        for key, value in new.items():
            setattr(layer, key, value)
        self._changed()

    def reorder(self, layer: Layer, where: str) -> None:
        """Move a layer one step ``"forward"``/``"backward"`` or to the ``"front"``/``"back"``.

        z values are renumbered 0..n-1 bottom to top afterwards.
        """
        self._require(layer)
        if where not in _REORDER:
            raise ValueError(f"where: expected one of {', '.join(_REORDER)}, got {where!r}")
        order = self.layers
        i = next(k for k, other in enumerate(order) if other is layer)
        j = {"forward": min(i + 1, len(order) - 1), "backward": max(i - 1, 0),
             "front": len(order) - 1, "back": 0}[where]
        order.insert(j, order.pop(i))
        for z, other in enumerate(order):
            other.z = z
        self._changed()

    # ----------------------------------------------------------------- queries

    def layer_at(self, x: float, y: float) -> Layer | None:
        """The topmost layer with a visible pixel at canvas point (x, y), or None."""
        for layer in reversed(self.layers):
            if layer.contains(x, y):
                return layer
        return None

    def is_off_canvas(self, layer: Layer) -> bool:
        """True when the layer's box lies entirely outside the canvas (it is kept, not drawn)."""
        x0, y0, x1, y1 = layer.bbox()
        return x1 <= 0 or y1 <= 0 or x0 >= self.width or y0 >= self.height

    def off_canvas_layers(self) -> list[Layer]:
        """Layers that would not appear in the picture, bottom to top (for a UI warning)."""
        return [layer for layer in self.layers if self.is_off_canvas(layer)]

    # ----------------------------------------------------------------- rendering

    def _composite(self, background: float) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) colour in [0, 1] and (H, W) alpha, all layers "over" in z order."""
        if not _is_number(background) or not -1.0 <= background <= 1.0:
            raise _fail("background", "a number in [-1, 1]", background)
        w, h = self.size
        rgb = np.full((h, w, 3), (background + 1.0) / 2.0, dtype=np.float32)
        alpha = np.zeros((h, w), dtype=np.float32)
        for layer in self.layers:
            x0, y0, x1, y1 = layer.bbox()
            cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if cx0 >= cx1 or cy0 >= cy1:
                continue  # off canvas
            src = layer.rendered().crop((cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0))
            src = np.asarray(src, dtype=np.float32) / 255.0
            a = src[..., 3]
            region = (slice(cy0, cy1), slice(cx0, cx1))
            rgb[region] = src[..., :3] * a[..., None] + rgb[region] * (1.0 - a[..., None])
            alpha[region] = a + alpha[region] * (1.0 - a)
        return rgb, alpha

    def render(self, background: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """The sampler's inputs: ``image`` (3, H, W) float32 in [-1, 1] and ``keep``
        (1, H, W) float32 in {0, 1} (1 = keep, 0 = generate).

        Layers are composited over a flat ``background`` value (0.0 = mid-grey); what lies
        under the generated region does not affect painting.
        """
        rgb, alpha = self._composite(background)
        keep = _erode((alpha > self.alpha_threshold).astype(np.float32), self.erode)
        image = torch.from_numpy(rgb * 2.0 - 1.0).permute(2, 0, 1).contiguous()
        return image, torch.from_numpy(np.ascontiguousarray(keep))[None]

    def render_preview(
        self,
        overlay: bool = False,
        feather: int | None = None,
        overlay_color: tuple[int, int, int] = (255, 64, 160),
        overlay_opacity: float = 0.4,
    ) -> Image.Image:
        """What will be kept, as an RGB picture: the generated region is mid-grey.

        ``feather`` (default: the composition's) blurs the kept/generated boundary by that
        many pixels for display only. ``overlay`` tints the generated region with
        ``overlay_color`` so it stands out from grey parts of the cutouts.
        """
        image, keep = self.render()
        feather = self.feather if feather is None else _as_pixels(feather, "feather")
        soft = keep
        if feather > 0:
            blurred = mask_to_pil(keep).filter(ImageFilter.GaussianBlur(radius=feather / 2))
            soft = torch.from_numpy(np.asarray(blurred, dtype=np.float32) / 255.0)[None]
        shown = image * soft  # grey (0.0) where generated
        if overlay:
            color = torch.tensor(overlay_color, dtype=torch.float32).view(3, 1, 1) / 127.5 - 1
            tint = overlay_opacity * (1.0 - soft)
            shown = shown * (1.0 - tint) + color * tint
        return tensor_to_pil(shown)

    def export_batch(self, directory: PathLike, name: str) -> tuple[Path, Path]:
        """Write ``<name>.png`` (the picture, generated region grey) and ``<name>_mask.png``
        (white = keep) into ``directory``: the batch format of ``ipainter paint -s DIR``."""
        name = name[:-4] if name.lower().endswith(".png") else name
        if not name or name in (".", "..") or re.search(r"[/\\]", name):
            raise CompositionError(f"name: expected a file name without folders, got {name!r}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        image, keep = self.render()
        picture = save_png_atomic(image * keep, directory / f"{name}.png")
        mask = save_png_atomic(mask_to_pil(keep), directory / f"{name}_mask.png")
        return picture, mask

    # ----------------------------------------------------------------- JSON

    def _header(self, settings: dict, seed: int | None) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "size": [self.width, self.height],
            "alpha_threshold": self.alpha_threshold,
            "erode": self.erode,
            "feather": self.feather,
            "layers": [],
            "settings": settings,
            "seed": seed,
        }

    @staticmethod
    def _layer_entry(layer: Layer) -> dict:
        return {"name": layer.name, "x": layer.x, "y": layer.y, "scale": layer.scale,
                "flip": layer.flip, "z": layer.z}

    @staticmethod
    def _check_extras(settings: Any, seed: Any) -> tuple[dict, int | None]:
        if not isinstance(settings, dict):
            raise _fail("settings", "a dict", settings)
        if _nested_deeper_than(settings, MAX_JSON_DEPTH - 2):
            raise CompositionError(f"settings: nested deeper than {MAX_JSON_DEPTH - 2} levels; keep settings flat")
        try:
            json.dumps(settings, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise CompositionError(f"settings: expected JSON-serializable values ({e})") from None
        if seed is not None:
            seed = _as_int(seed, "seed", strict=True)
        return settings, seed

    def to_dict(self) -> dict:
        """The composition as a JSON-ready dict, images embedded as PNG data URIs."""
        return self._embedded_dict(*self._check_extras(self.settings, self.seed))

    def _embedded_dict(self, settings: dict, seed: int | None) -> dict:
        data = self._header(settings, seed)
        for layer in self.layers:
            entry = self._layer_entry(layer)
            entry["image"] = "data:image/png;base64," + base64.b64encode(png_bytes(layer.image)).decode()
            data["layers"].append(entry)
        return data

    def to_json(
        self,
        path: PathLike,
        embed_images: bool = True,
        settings: dict | None = None,
        seed: int | None = None,
    ) -> Path:
        """Save atomically to ``path``; return it.

        ``settings`` / ``seed`` default to ``self.settings`` / ``self.seed``. With
        ``embed_images=False`` the cutouts go to ``<stem>_layers/`` beside the JSON, named by
        this JSON's tag and their content hash (see the module docstring): files are written
        before the JSON that points at them, and afterwards only the files that the previous
        version of this JSON listed and no longer uses are removed.
        """
        path = Path(path)
        settings, seed = self._check_extras(
            self.settings if settings is None else settings, self.seed if seed is None else seed)
        if embed_images:
            write_text_atomic(path, json.dumps(self._embedded_dict(settings, seed), indent=2) + "\n")
            return path

        folder = path.parent / f"{path.stem}_layers"
        tag = _json_tag(path)
        previous = _files_listed_by(path, folder, tag)
        folder.mkdir(exist_ok=True)
        data = self._header(settings, seed)
        written: set[str] = set()
        for layer in self.layers:
            png = png_bytes(layer.image)
            safe = re.sub(r"[^A-Za-z0-9_]+", "_", layer.name).strip("_")[:40] or "layer"
            file_name = f"{safe}-{tag}-{hashlib.sha256(png).hexdigest()[:12]}.png"
            target = folder / file_name
            if file_name not in written and not _holds(target, png):
                write_bytes_atomic(target, png)  # a name with our tag: ours to (re)write
            written.add(file_name)
            entry = self._layer_entry(layer)
            entry["file"] = f"{folder.name}/{file_name}"  # relative, with "/" on every OS
            data["layers"].append(entry)
        write_text_atomic(path, json.dumps(data, indent=2) + "\n")
        # Only now that the JSON points at the new files is it safe to drop the old ones.
        for stale in previous - written:
            (folder / stale).unlink(missing_ok=True)
        return path

    @classmethod
    def from_json(cls, path: PathLike) -> Composition:
        """Load a composition saved by ``to_json``; errors name the file and the bad field."""
        path = Path(path)
        try:
            text = read_bounded(path, MAX_JSON_BYTES, str(path), CompositionError).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CompositionError(f"{path}: cannot be read ({e})") from None
        deep = _json_depth_exceeds(text, MAX_JSON_DEPTH)
        if deep is not None:
            raise CompositionError(
                f"{path}: nested more than {MAX_JSON_DEPTH} levels deep (a composition uses about 4); "
                "this is not a composition file")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise CompositionError(
                f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
            ) from None
        try:
            return cls.from_dict(data, base_dir=path.parent)
        except CompositionError as e:
            raise CompositionError(f"{path.name}: {e}") from None

    @classmethod
    def from_dict(cls, data: Any, base_dir: PathLike | None = None) -> Composition:
        """Build a composition from ``to_dict``/``to_json`` data, validating every field.

        ``base_dir`` resolves relative ``"file"`` references (default: the current folder).
        Unknown keys are ignored so that files from later 1.x writers still open.
        """
        if not isinstance(data, dict):
            raise _fail("composition", "a JSON object", data)
        if data.get("format") != FORMAT:
            raise _fail("format", f'"{FORMAT}"', data.get("format"))
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise _fail("version", "a positive integer", version)
        if version > VERSION:
            raise CompositionError(
                f"version {version} is newer than this ipainter-nb understands ({VERSION}); "
                "update ipainter-nb to open this file")
        if "size" not in data:
            raise CompositionError("size: missing; expected [width, height]")
        comp = cls(
            _as_size(data["size"]),
            alpha_threshold=_as_threshold(data.get("alpha_threshold", 0.5)),
            erode=_as_pixels(data.get("erode", 0), "erode"),
            feather=_as_pixels(data.get("feather", 0), "feather"),
        )
        settings = data.get("settings")
        comp.settings, comp.seed = cls._check_extras(
            {} if settings is None else settings, data.get("seed"))

        entries = data.get("layers", [])
        if not isinstance(entries, list):
            raise _fail("layers", "a list", entries)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        for i, entry in enumerate(entries):
            layer = _layer_from_entry(entry, f"layers[{i}]", i, base)
            try:
                comp._check_fits(layer)
            except CompositionError as e:
                raise CompositionError(f"layers[{i}].{e}") from None
            comp._layers.append(layer)
        return comp


# --------------------------------------------------------------------------- helpers

_LAYER_FILE = re.compile(r"^[A-Za-z0-9_]+-(?P<tag>[0-9a-f]{8})-[0-9a-f]{12}\.png$")
_DATA_URI = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,(.*)$", re.S)


def _json_tag(path: Path) -> str:
    """A short tag of the JSON's file name as given (case kept): it marks this JSON's cutout files."""
    return hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _files_listed_by(path: Path, folder: Path, tag: str) -> set[str]:
    """Cutout files in ``folder`` that the JSON now at ``path`` lists and that carry ``tag``:
    the files a save may remove once they are no longer used. Empty when ``path`` is
    missing, unreadable or not a composition."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return set()
        text = path.read_text(encoding="utf-8")
        if _json_depth_exceeds(text, MAX_JSON_DEPTH) is not None:
            return set()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return set()
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("layers"), list):
        return set()
    ours = set()
    for entry in data["layers"]:
        ref = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(ref, str):
            continue
        folder_name, _, file_name = ref.partition("/")
        match = _LAYER_FILE.match(file_name)
        if folder_name == folder.name and match is not None and match["tag"] == tag:
            ours.add(file_name)
    return ours


def _inside(base: Path, ref: str, field_name: str) -> Path:
    """``base / ref`` if it stays inside ``base`` (links followed), else a ``CompositionError``.

    A composition file names its cutouts relative to its own folder; one that reaches
    elsewhere (``../../etc/passwd``, an absolute path, a link out of the folder) would let a
    shared file read any picture on the disk into a composition that is saved and shared again.
    """
    path = base / ref
    try:
        inside = Path(ref).is_absolute() is False and path.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # a link loop
        inside = False
    if not inside:
        raise CompositionError(
            f"{field_name}: {ref!r} points outside the composition's folder {base}; a composition may only use cutouts "
            "beside it: copy the cutout into that folder (or save with embed_images=True)")
    return path


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``data``."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _layer_from_entry(entry: Any, where: str, index: int, base: Path) -> Layer:
    if not isinstance(entry, dict):
        raise _fail(where, "a JSON object", entry)
    name = entry.get("name", f"layer{index}")
    if not isinstance(name, str):
        raise _fail(f"{where}.name", "a string", name)
    x = _as_int(entry.get("x", 0), f"{where}.x", strict=True)
    y = _as_int(entry.get("y", 0), f"{where}.y", strict=True)
    scale = _as_scale(entry.get("scale", 1.0), f"{where}.scale")
    flip = _as_bool(entry.get("flip", False), f"{where}.flip")
    z = _as_int(entry.get("z", index), f"{where}.z", strict=True)

    has_image, has_file = "image" in entry, "file" in entry
    if has_image == has_file:
        raise CompositionError(
            f'{where}: expected exactly one of "image" (a data URI) or "file" (a path), '
            f"got {'both' if has_image else 'neither'}")
    label = f"{where} ({name!r})"
    if has_image:
        uri = entry["image"]
        match = _DATA_URI.match(uri) if isinstance(uri, str) else None
        if match is None:
            raise _fail(f"{where}.image", '"data:image/png;base64,..."', uri)
        try:
            raw = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            raise CompositionError(f"{where}.image: invalid base64 data") from None
        source: Any = raw
    else:
        ref = entry["file"]
        if not isinstance(ref, str) or not ref:
            raise _fail(f"{where}.file", "a path to a PNG file", ref)
        source = _inside(base, ref, f"{where}.file")
        if not source.is_file():
            raise CompositionError(
                f"{where}.file: image file {ref!r} of layer {name!r} not found "
                f"(looked for {source})")
    try:
        # max_size=None: the saved cutout is what the user placed; never rescale on load.
        image = load_rgba(source, max_size=None, name=f"{label} image")
    except ImageLoadError as e:
        raise CompositionError(str(e)) from None
    return Layer(image, x=x, y=y, scale=scale, flip=flip, z=z, name=name)
