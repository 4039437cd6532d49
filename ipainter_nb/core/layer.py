"""One cutout on the canvas: a ``Layer`` and how it is drawn (scaled, flipped, cached)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ipainter_nb.checks import check_path
from ipainter_nb.core.arguments import check_whole
from ipainter_nb.core.composition_checks import (
    MAX_LAYER_CANVAS_RATIO,
    MAX_LAYER_SIDE,
    CompositionError,
    as_bool,
    as_point,
    as_position,
    as_scale,
    as_size,
    invalid,
    is_number,
)
from ipainter_nb.images import ImageLoadError, check_cutout, load_rgba

from ..public import public_names

__all__ = ["Layer", "check_drawn_size"]

PathLike = str | os.PathLike


def check_drawn_size(layer: Layer, limit: int, what: str) -> None:
    """Refuse a layer whose drawn size exceeds ``limit`` px, before it is drawn.

    Args:
        layer: The layer, at its current scale.
        limit: The largest side allowed, in pixels.
        what: What the limit is, for the message (``"the limit for any layer"``).

    Raises:
        CompositionError: the layer would be drawn larger; the message gives the largest scale.
    """
    iw, ih = layer.image.size
    if max(iw, ih) * layer.scale > limit + 0.5:  # its drawn side would round above the limit (or overflow)
        w, h = (f"{side * layer.scale:.0f}" if side * layer.scale < 1e15 else f"{side * layer.scale:.3g}" for side in (iw, ih))
        raise CompositionError(
            f"scale: layer {layer.name!r} at scale {layer.scale:g} would be drawn {w}x{h} px, larger than "
            f"{what} ({limit} px a side); use a smaller scale (at most {limit / max(layer.image.size):.3g})")


@dataclass(eq=False)  # identity, not value, equality: two identical cutouts are two layers
class Layer:
    """One cutout on the canvas.

    Change a layer that is in a composition through ``Composition.update``/``move``/``reorder``
    so that observers hear about it.

    Args:
        image: The cutout (converted to RGBA).
        x: Left edge on the canvas, in pixels.
        y: Top edge on the canvas, in pixels.
        scale: Multiplies the image's size when drawn.
        flip: Mirror the cutout horizontally.
        z: Drawing order; higher is drawn on top.
        name: A label (the file's stem for ``from_file``).

    Raises:
        CompositionError: ``image`` is not a PIL image, a field is out of range, or the layer would be drawn too large.
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
    # the file ``from_file`` read: a save onto it would replace the cutout (Composition refuses one)
    source: Path | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        # every field is checked when it is set, in the constructor or later: a layer never holds what
        # Composition.from_json would refuse (a save then loads) or what render() cannot draw
        check = _FIELD_CHECKS.get(name)
        if check is None:
            object.__setattr__(self, name, value)
            return
        value = check(value)
        had = self.__dict__.get(name, _UNSET)
        object.__setattr__(self, name, value)
        if name in ("image", "scale") and "image" in self.__dict__ and "scale" in self.__dict__:
            try:
                check_drawn_size(self, MAX_LAYER_SIDE, "the limit for any layer")
            except CompositionError:
                if had is _UNSET:
                    del self.__dict__[name]
                else:
                    object.__setattr__(self, name, had)
                raise

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
        """A layer from an image file, loaded (converted, downscaled, checked) by ``images.load_rgba``.

        Args:
            path: The image file (any format PIL reads; transparency kept).
            x: Left edge on the canvas, in pixels.
            y: Top edge on the canvas, in pixels.
            scale: Multiplies the (downscaled) image's size when drawn.
            flip: Mirror horizontally.
            name: A label; defaults to the file's stem.
            max_size: Downscale the file so that its longer side is at most this (None: never).

        Returns:
            The new layer (not yet in a composition).
        """
        path = check_path("path", path)
        if max_size is not None:
            max_size = check_whole("max_size", max_size, 1)
        img = load_rgba(path, max_size=max_size)
        layer = cls(img, x=x, y=y, scale=scale, flip=flip, name=name or path.stem)
        layer.source = path
        return layer

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) on the canvas, after scaling (at least 1 px each)."""
        w, h = self.image.size
        return max(1, round(w * self.scale)), max(1, round(h * self.scale))

    def bbox(self) -> tuple[int, int, int, int]:
        """The layer's box on the canvas.

        Returns:
            ``(x0, y0, x1, y1)``; x1 and y1 exclusive.
        """
        w, h = self.size
        return self.x, self.y, self.x + w, self.y + h

    def fitting_scale(self, canvas_size: int | tuple[int, int], fraction: float = 0.4) -> float:
        """The scale at which this cutout fits in ``fraction`` of the canvas on both sides.

        Never above the current scale: a cutout that already fits keeps its size. Use it to
        place a new cutout (an upload of 32 px on a 64 px canvas would otherwise cover half of it).

        Args:
            canvas_size: The canvas, an int for a square or (width, height).
            fraction: The share of each canvas side the cutout may take, in
                (0, ``MAX_LAYER_CANVAS_RATIO``].

        Returns:
            The scale to use.

        Raises:
            CompositionError: ``fraction`` or ``canvas_size`` is out of range.
        """
        if not is_number(fraction) or not 0 < fraction <= MAX_LAYER_CANVAS_RATIO:
            raise invalid("fraction", f"a number in (0, {MAX_LAYER_CANVAS_RATIO}]", fraction)
        cw, ch = as_size(canvas_size, "canvas_size")
        w, h = self.image.size
        return min(self.scale, fraction * cw / w, fraction * ch / h)

    def rendered(self) -> Image.Image:
        """The cutout as drawn: scaled and flipped RGBA (cached until scale/flip/image change).

        Enlarged with nearest neighbour, so each cutout pixel stays a crisp block at canvas
        resolution (smooth filters blur a small cutout into mush); reduced with LANCZOS, which
        keeps detail without aliasing. PIL premultiplies alpha, so edges get no dark fringe.
        Replace ``image`` rather than drawing into it: in-place edits do not invalidate the cache.

        Returns:
            The RGBA image at ``size``.
        """
        c = self._cache
        if c is not None and c[0] is self.image and c[1] == self.scale and c[2] == self.flip:
            return c[3]
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
        """Whether a canvas point hits a visible (alpha > 0) pixel of this layer.

        Args:
            px: The point's x on the canvas.
            py: The point's y on the canvas.

        Returns:
            True on a visible pixel of the drawn cutout.
        """
        lx, ly = math.floor(as_point(px, "px")) - self.x, math.floor(as_point(py, "py")) - self.y
        w, h = self.size
        if not (0 <= lx < w and 0 <= ly < h):
            return False
        return self.rendered().getpixel((lx, ly))[3] > 0

    def __repr__(self) -> str:
        w, h = self.image.size
        return (f"Layer({self.name!r}, {w}x{h}, x={self.x}, y={self.y}, scale={self.scale:g}, "
                f"flip={self.flip}, z={self.z})")


_UNSET = object()


def _checked_image(image: Any) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise invalid("image", "a PIL image (Layer.from_file reads one)", type(image).__name__)
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    try:
        check_cutout(rgba, "image")
    except ImageLoadError as exc:
        raise CompositionError(str(exc)) from None
    return rgba


def _checked_name(name: Any) -> str:
    if not isinstance(name, str):
        raise invalid("name", "a string", name)
    return name


_FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "image": _checked_image,
    "x": lambda value: as_position(value, "x"),
    "y": lambda value: as_position(value, "y"),
    "scale": lambda value: as_scale(value, "scale"),
    "flip": lambda value: as_bool(value, "flip"),
    "z": lambda value: as_position(value, "z"),
    "name": _checked_name,
}


public_names(globals())  # after every public definition
