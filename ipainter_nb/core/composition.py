"""A canvas of landmark cutouts, rendered to the sampler's (image, keep) pair.

A ``Composition`` holds ``Layer`` s (RGBA cutouts with a position, scale, flip and
z-order). ``render()`` alpha-composites them into a (3, H, W) image in [-1, 1] and derives
the keep mask (1, H, W): 1 where a cutout covers the canvas (keep), 0 elsewhere
(generate), as RePaint's ``gt_keep_mask``. Compositions round-trip through JSON
(``core/composition_files.py``) so a scene, its paint settings and its seed can be saved,
shared and re-run; the value rules and limits live in ``core/composition_checks.py``.

How layers become the picture and the mask: ``core/compositing.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ipainter_nb.checks import apart_from, check_path, writable_file, writable_folder
from ipainter_nb.core import compositing
from ipainter_nb.core import composition_files as files
from ipainter_nb.core.arguments import check_side
from ipainter_nb.core.composition_checks import (
    FORMAT,
    MAX_CANVAS_SIDE,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_LAYER_CANVAS_RATIO,
    MAX_LAYER_SIDE,
    VERSION,
    CompositionError,
    as_bool,
    as_color,
    as_int,
    as_pixels,
    as_point,
    as_position,
    as_scale,
    as_size,
    as_threshold,
    invalid,
)
from ipainter_nb.core.layer import Layer, check_drawn_size
from ipainter_nb.errors import warn_caller
from ipainter_nb.images import load_rgba, mask_to_pil, save_png_atomic

from ..public import public_names

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

PathLike = str | os.PathLike
Observer = Callable[["Composition"], Any]
_REORDER = ("forward", "backward", "front", "back")


class Composition:
    """A canvas holding layers of cutouts; renders the sampler's ``image`` and ``keep``.

    Observers registered with ``observe`` are called with the composition after every
    change; an observer that raises is reported with a warning and the others still run.

    Args:
        size: The canvas, an int for a square or (width, height); the model's image size.
        alpha_threshold: Composited alpha above this is kept, in [0, 1).
        erode: Pixels shaved off the kept region so cutout edges are regenerated.
        feather: Display-only softening of the boundary in ``render_preview`` (see the
            module docstring for why).

    Raises:
        CompositionError: a value is out of range (the message names it).
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        alpha_threshold: float = 0.5,
        erode: int = 0,
        feather: int = 0,
    ) -> None:
        self.width, self.height = as_size(size)
        self._alpha_threshold = as_threshold(alpha_threshold)
        self._erode = as_pixels(erode, "erode")
        self._feather = as_pixels(feather, "feather")
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
        """Composited alpha above this is kept (setting it notifies observers)."""
        return self._alpha_threshold

    @alpha_threshold.setter
    def alpha_threshold(self, value: float) -> None:
        self._alpha_threshold = as_threshold(value)
        self._changed()

    @property
    def erode(self) -> int:
        """Pixels shaved off the kept region (setting it notifies observers)."""
        return self._erode

    @erode.setter
    def erode(self, value: int) -> None:
        self._erode = as_pixels(value, "erode")
        self._changed()

    @property
    def feather(self) -> int:
        """Display-only softening of the boundary, in pixels (setting it notifies observers)."""
        return self._feather

    @feather.setter
    def feather(self, value: int) -> None:
        self._feather = as_pixels(value, "feather")
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
        """Call ``callback(composition)`` after every change (once per ``batch()``).

        Args:
            callback: Called with this composition; registering it twice has no effect.
        """
        if not callable(callback):
            raise invalid("callback", "a function of the composition", type(callback).__name__)
        if callback not in self._observers:
            self._observers.append(callback)

    def unobserve(self, callback: Observer) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored.

        Args:
            callback: A callback given to ``observe``.
        """
        with contextlib.suppress(ValueError):
            self._observers.remove(callback)

    @contextlib.contextmanager
    def batch(self) -> Iterator[Composition]:
        """Group several changes into one notification (e.g. a widget applying a drag).

        Yields:
            This composition; observers hear once when the outermost ``batch`` ends.
        """
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
                warn_caller(f"composition observer {callback!r} raised {type(e).__name__}: {e}", RuntimeWarning)

    # ----------------------------------------------------------------- mutations

    def _require(self, layer: Layer) -> Layer:
        if layer not in self:
            raise CompositionError(f"{layer!r} is not in this composition: add() it first")
        return layer

    def _check_fits(self, layer: Layer) -> None:
        limit = min(MAX_LAYER_SIDE, MAX_LAYER_CANVAS_RATIO * max(self.size))
        check_drawn_size(layer, limit, f"{MAX_LAYER_CANVAS_RATIO} times the {self.width}x{self.height} canvas")

    def check_size(self, image_size: int, model_name: str = "the model") -> None:
        """Raise ``CompositionError`` unless the canvas is ``image_size`` square (what the model paints).

        The one place this rule is worded: the widget and the CLI show its message.

        Args:
            image_size: The model's image side.
            model_name: The model as the message names it.

        Raises:
            CompositionError: the canvas is another size.
        """
        image_size = check_side(image_size)
        if self.size != (image_size, image_size):
            raise CompositionError(
                f"the composition is {self.width}x{self.height} but {model_name} paints {image_size}x{image_size}: "
                f"compose at that size (Composition({image_size}))")

    def add(self, layer: Layer) -> Layer:
        """Put ``layer`` on top of the others (its z is reassigned).

        Args:
            layer: A layer not yet in this composition.

        Returns:
            ``layer``.

        Raises:
            CompositionError: ``layer`` is not a ``Layer``, it is already here, or it would be
                drawn larger than the canvas allows.
        """
        if not isinstance(layer, Layer):
            raise CompositionError(f"expected a Layer (ip.Layer.from_file(...)), got {type(layer).__name__}")
        if layer in self:
            raise CompositionError(f"{layer!r} is already in this composition")
        self._check_fits(layer)
        layer.z = max((other.z for other in self._layers), default=-1) + 1
        self._layers.append(layer)
        self._changed()
        return layer

    def remove(self, layer_or_index: Layer | int) -> Layer:
        """Remove a layer.

        Args:
            layer_or_index: The layer, or its index in ``layers`` (bottom = 0).

        Returns:
            The removed layer.

        Raises:
            CompositionError: the layer is not in this composition, or there is no layer at that index.
        """
        if isinstance(layer_or_index, Layer):
            layer = self._require(layer_or_index)
        else:
            index = as_int(layer_or_index, "layer_or_index", strict=True)
            if not -len(self._layers) <= index < len(self._layers):
                raise CompositionError(f"layer_or_index={index}: there is no layer at that index; the composition has "
                                       f"{len(self._layers)} (0 is the bottom one, -1 the top one)")
            layer = self.layers[index]
        self._layers = [other for other in self._layers if other is not layer]
        self._changed()
        return layer

    def clear(self) -> None:
        """Remove every layer."""
        self._layers = []
        self._changed()

    def move(self, layer: Layer, dx: float, dy: float) -> None:
        """Shift a layer (rounded to whole pixels).

        Args:
            layer: A layer of this composition.
            dx: Pixels to the right.
            dy: Pixels down.
        """
        self._require(layer)
        x, y = as_position(layer.x + as_int(dx, "dx"), "x"), as_position(layer.y + as_int(dy, "dy"), "y")
        layer.x, layer.y = x, y
        self._changed()

    def move_to(self, layer: Layer, x: float, y: float) -> None:
        """Place a layer's top-left corner (rounded to whole pixels).

        Args:
            layer: A layer of this composition.
            x: The new left edge.
            y: The new top edge.
        """
        self._require(layer)
        layer.x, layer.y = as_position(x, "x"), as_position(y, "y")
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
        """Change several fields of a layer at once (all validated first), with one notification.

        Args:
            layer: A layer of this composition.
            x: New left edge (None: unchanged).
            y: New top edge.
            scale: New scale.
            flip: New mirroring.
            name: New label.
            image: New cutout (any image ``images.load_rgba`` reads).

        Raises:
            CompositionError: a value is invalid; the layer is then unchanged.
        """
        self._require(layer)
        # Validate everything before touching the layer so a bad value changes nothing.
        new: dict[str, Any] = {}
        if x is not None:
            new["x"] = as_position(x, "x")
        if y is not None:
            new["y"] = as_position(y, "y")
        if scale is not None:
            new["scale"] = as_scale(scale, "scale")
        if flip is not None:
            new["flip"] = as_bool(flip, "flip")
        if name is not None:
            if not isinstance(name, str):
                raise invalid("name", "a string", name)
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
        """Move a layer one step forward or backward, or to the front or back.

        z values are renumbered 0..n-1 bottom to top afterwards.

        Args:
            layer: A layer of this composition.
            where: ``"forward"``, ``"backward"``, ``"front"`` or ``"back"``.

        Raises:
            CompositionError: an unknown ``where``.
        """
        self._require(layer)
        if where not in _REORDER:
            raise CompositionError(f"where: expected one of {', '.join(_REORDER)}, got {where!r}")
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
        """The topmost layer with a visible pixel at a canvas point.

        Args:
            x: The point's x on the canvas.
            y: The point's y on the canvas.

        Returns:
            That layer, or None.
        """
        x, y = as_point(x, "x"), as_point(y, "y")
        for layer in reversed(self.layers):
            if layer.contains(x, y):
                return layer
        return None

    def is_off_canvas(self, layer: Layer) -> bool:
        """Whether the layer's box lies entirely outside the canvas (it is kept, not drawn).

        Args:
            layer: A layer (of this composition or not).

        Returns:
            True when nothing of it would appear in the picture.
        """
        if not isinstance(layer, Layer):
            raise invalid("layer", "a Layer", type(layer).__name__)
        x0, y0, x1, y1 = layer.bbox()
        return x1 <= 0 or y1 <= 0 or x0 >= self.width or y0 >= self.height

    def off_canvas_layers(self) -> list[Layer]:
        """Layers that would not appear in the picture, bottom to top (for a UI warning)."""
        return [layer for layer in self.layers if self.is_off_canvas(layer)]

    # ----------------------------------------------------------------- rendering

    def render(self, background: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """The sampler's inputs.

        Args:
            background: The flat value layers are composited over, in [-1, 1] (0.0 =
                mid-grey); what lies under the generated region does not affect painting.

        Returns:
            ``image`` (3, H, W) float32 in [-1, 1] and ``keep`` (1, H, W) float32 in {0, 1}
            (1 = keep, 0 = generate).
        """
        return compositing.render(self.layers, self.size, background, self.alpha_threshold, self.erode)

    def render_preview(
        self,
        overlay: bool = False,
        feather: int | None = None,
        overlay_color: tuple[int, int, int] = (255, 64, 160),
        overlay_opacity: float = 0.4,
    ) -> Image.Image:
        """What will be kept, as an RGB picture: the generated region is mid-grey.

        Args:
            overlay: Tint the generated region so it stands out from grey parts of the cutouts.
            feather: Blur the kept/generated boundary by this many pixels, for display only
                (default: the composition's ``feather``).
            overlay_color: The tint, RGB 0-255.
            overlay_opacity: The tint's strength, 0-1.

        Returns:
            The picture at the canvas size.
        """
        overlay = as_bool(overlay, "overlay")
        feather = self.feather if feather is None else as_pixels(feather, "feather")
        color = as_color(overlay_color, "overlay_color")
        opacity = as_threshold(overlay_opacity, "overlay_opacity", closed=True)
        image, keep = self.render()
        return compositing.preview(image, keep, feather, color if overlay else None, opacity)

    def export_batch(self, directory: PathLike, name: str) -> tuple[Path, Path]:
        """Write the picture and its mask in the batch format of ``ipainter paint -s DIR``.

        Args:
            directory: The folder (created if missing).
            name: The file name without folders; ``.png`` is optional.

        Returns:
            The paths of ``<name>.png`` (the picture, generated region grey) and
            ``<name>_mask.png`` (white = keep).

        Raises:
            CompositionError: ``name`` holds a folder.
            UserInputError: ``directory`` is no path, a file, or cannot be written (a symbolic link to a
                folder is that folder; one that leads nowhere is refused).
        """
        if not isinstance(name, str):
            raise invalid("name", "a file name (a str)", type(name).__name__)
        name = name[:-4] if name.lower().endswith(".png") else name
        if not name or name in (".", "..") or re.search(r"[/\\]", name):
            raise CompositionError(f"name: expected a file name without folders, got {name!r}")
        directory = writable_folder(check_path("directory", directory, "folder"), "directory", parents=True)
        picture, mask = directory / f"{name}.png", directory / f"{name}_mask.png"
        for out in (picture, mask):  # a cutout a layer was read from would be replaced
            apart_from(out, "name", files.cutout_sources(self._layers))
        image, keep = self.render()
        return save_png_atomic(image * keep, picture), save_png_atomic(mask_to_pil(keep), mask)


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

    def to_dict(self) -> dict:
        """The composition as a JSON-ready dict, images embedded as PNG data URIs.

        Returns:
            The dict that ``from_dict`` reads back.
        """
        data = self._header(*files.check_extras(self.settings, self.seed))
        data["layers"] = files.embedded_entries(self.layers)
        return data

    def to_json(
        self,
        path: PathLike,
        embed_images: bool = True,
        settings: dict | None = None,
        seed: int | None = None,
    ) -> Path:
        """Save atomically to ``path``.

        Args:
            path: The JSON file to write.
            embed_images: Embed the cutouts as PNG data URIs. With False they go to
                ``<stem>_layers/`` beside the JSON (see ``core.composition_files``).
            settings: Paint settings to save (default: ``self.settings``).
            seed: Seed to save (default: ``self.seed``).

        Returns:
            ``path`` as a ``Path``.

        Raises:
            CompositionError: ``settings`` or ``seed`` cannot be saved.
            UserInputError: ``path`` is no path, a folder, in a folder that does not exist, or a symbolic
                link that leads nowhere (a link to a file is replaced by the new file; its target stays).
        """
        path = writable_file(check_path("path", path), "path")
        apart_from(path, "path", files.cutout_sources(self._layers))
        embed_images = as_bool(embed_images, "embed_images")
        settings, seed = files.check_extras(
            self.settings if settings is None else settings, self.seed if seed is None else seed)
        return files.save_json(path, self._header(settings, seed), self.layers, embed_images)

    @classmethod
    def from_json(cls, path: PathLike) -> Composition:
        """Load a composition saved by ``to_json``.

        Args:
            path: The JSON file.

        Returns:
            The composition, with its ``settings`` and ``seed``.

        Raises:
            CompositionError: the file or a field is invalid; the message names the file and the field.
        """
        path = check_path("path", path)
        data = files.read_json(path)
        try:
            return cls.from_dict(data, base_dir=path.parent)
        except CompositionError as e:
            raise CompositionError(f"{path.name}: {e}") from None

    @classmethod
    def from_dict(cls, data: Any, base_dir: PathLike | None = None) -> Composition:
        """Build a composition from ``to_dict``/``to_json`` data, validating every field.

        Unknown keys are ignored so that files from later 1.x writers still open.

        Args:
            data: The parsed JSON.
            base_dir: Where relative ``"file"`` references are resolved (default: the current folder).

        Returns:
            The composition.

        Raises:
            CompositionError: the first invalid field, by name.
        """
        base = check_path("base_dir", base_dir, "folder") if base_dir is not None else Path.cwd()
        header = files.read_header(data)
        comp = cls(header["size"], alpha_threshold=header["alpha_threshold"], erode=header["erode"],
                   feather=header["feather"])
        comp.settings, comp.seed = header["settings"], header["seed"]
        comp._layers.extend(files.layers_from_entries(header["layers"], base, comp._check_fits))
        return comp


public_names(globals())  # after every public definition
