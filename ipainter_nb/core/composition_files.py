"""Compositions on disk: the JSON format, embedded or beside-the-file cutouts, safe loading.

A composition JSON holds ``format``, ``version``, the canvas ``size``, the mask knobs, the
``layers`` (each with its cutout as a PNG data URI, or a ``file`` beside the JSON), and
opaque paint ``settings`` and ``seed`` so a scene re-paints identically.

Saving with ``embed_images=False`` writes the cutouts as ``<stem>_layers/<name>-<tag>-<hash>.png``
where ``tag`` is derived from the JSON's file name, so that two compositions sharing a stem
(``scene.json`` and ``scene.JSON``, or ``scene.json`` and ``scene.comp``) never share, replace
or delete each other's files. A save removes only files that the previous version of the
same JSON listed and that carry its tag: files it cannot prove are its own stay.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ipainter_nb.checks import writable_folder
from ipainter_nb.core.composition_checks import (
    FORMAT,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    VERSION,
    CompositionError,
    as_bool,
    as_int,
    as_pixels,
    as_position,
    as_scale,
    as_size,
    as_threshold,
    invalid,
    json_depth_exceeds,
    nested_deeper_than,
)
from ipainter_nb.core.layer import Layer
from ipainter_nb.images import ImageLoadError, load_rgba, png_bytes, read_bounded, write_bytes_atomic, write_text_atomic

from ..public import public_names

__all__ = ["check_extras", "layer_entry", "embedded_entries", "cutout_sources", "save_json", "read_json", "read_header",
           "layers_from_entries"]

_LAYER_FILE = re.compile(r"^[A-Za-z0-9_]+-(?P<tag>[0-9a-f]{8})-[0-9a-f]{12}\.png$")
_DATA_URI = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,(.*)$", re.S)


def check_extras(settings: Any, seed: Any) -> tuple[dict, int | None]:
    """Check the paint settings and seed saved with a composition.

    Args:
        settings: A JSON-serializable dict, flat enough to fit the depth limit.
        seed: A whole number in 0..2**63-1 (the seeds ``paint`` takes), or None.

    Returns:
        ``(settings, seed)``.

    Raises:
        CompositionError: either is not what a composition JSON can hold.
    """
    if not isinstance(settings, dict):
        raise invalid("settings", "a dict", settings)
    if nested_deeper_than(settings, MAX_JSON_DEPTH - 2):
        raise CompositionError(f"settings: nested deeper than {MAX_JSON_DEPTH - 2} levels; keep settings flat")
    try:
        json.dumps(settings, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise CompositionError(f"settings: expected JSON-serializable values ({e})") from None
    if seed is not None:
        seed = as_int(seed, "seed", strict=True)
        if not 0 <= seed < 2**63:  # paint()'s range: a scene saved with another would not re-paint
            raise invalid("seed", "a whole number in 0..2**63-1 (the seeds paint() takes)", seed)
    return settings, seed


def layer_entry(layer: Layer) -> dict:
    """A layer's placement as a JSON object (without its image).

    Args:
        layer: The layer.

    Returns:
        ``{"name", "x", "y", "scale", "flip", "z"}``.
    """
    return {"name": layer.name, "x": layer.x, "y": layer.y, "scale": layer.scale, "flip": layer.flip, "z": layer.z}


def embedded_entries(layers: Iterable[Layer]) -> list[dict]:
    """Layer entries with each cutout embedded as a PNG data URI.

    Args:
        layers: The layers, bottom to top.

    Returns:
        One JSON object per layer.
    """
    entries = []
    for layer in layers:
        entry = layer_entry(layer)
        entry["image"] = "data:image/png;base64," + base64.b64encode(png_bytes(layer.image)).decode()
        entries.append(entry)
    return entries


def cutout_sources(layers: list[Layer]) -> dict[str, Path | None]:
    """Each layer's file (``Layer.source``, None when it was not read from one), by a label for messages:
    the files a save must not replace.

    Args:
        layers: the layers.
    """
    return {f"layer {layer.name!r}": layer.source for layer in layers}


def save_json(path: Path, header: dict, layers: list[Layer], embed_images: bool) -> Path:
    """Write a composition JSON atomically.

    With ``embed_images=False`` the cutouts go to ``<stem>_layers/`` beside the JSON, named by
    this JSON's tag and their content hash (see the module docstring): files are written
    before the JSON that points at them, and afterwards only the files that the previous
    version of this JSON listed and no longer uses are removed.

    Args:
        path: The JSON file to write.
        header: Every field of the JSON but ``layers`` (which is filled in here).
        layers: The layers, bottom to top.
        embed_images: Embed the cutouts as data URIs instead of writing files beside the JSON.

    Returns:
        ``path``.
    """
    data = dict(header)
    if embed_images:
        data["layers"] = embedded_entries(layers)
        write_text_atomic(path, json.dumps(data, indent=2) + "\n")
        return path

    folder = path.parent / f"{path.stem}_layers"
    tag = _json_tag(path)
    previous = _files_listed_by(path, folder, tag)
    writable_folder(folder, "the folder of the cutouts")  # a file or a link that leads nowhere there: named, not an OSError
    data["layers"] = []
    written: set[str] = set()
    for layer in layers:
        png = png_bytes(layer.image)
        safe = re.sub(r"[^A-Za-z0-9_]+", "_", layer.name).strip("_")[:40] or "layer"
        file_name = f"{safe}-{tag}-{hashlib.sha256(png).hexdigest()[:12]}.png"
        target = folder / file_name
        if file_name not in written and not _holds(target, png):
            write_bytes_atomic(target, png)  # a name with our tag: ours to (re)write
        written.add(file_name)
        entry = layer_entry(layer)
        entry["file"] = f"{folder.name}/{file_name}"  # relative, with "/" on every OS
        data["layers"].append(entry)
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    # Only now that the JSON points at the new files is it safe to drop the old ones.
    for stale in previous - written:
        (folder / stale).unlink(missing_ok=True)
    return path


def read_json(path: Path) -> Any:
    """Read a composition file's JSON, bounded in size and depth.

    Args:
        path: The JSON file.

    Returns:
        The parsed JSON value (not yet validated as a composition).

    Raises:
        CompositionError: unreadable, too large, too deep, or not JSON; the message names the file.
    """
    try:
        text = read_bounded(path, MAX_JSON_BYTES, str(path), CompositionError).decode("utf-8")
    except UnicodeDecodeError as e:
        raise CompositionError(f"{path}: cannot be read ({e})") from None
    deep = json_depth_exceeds(text, MAX_JSON_DEPTH)
    if deep is not None:
        raise CompositionError(
            f"{path}: nested more than {MAX_JSON_DEPTH} levels deep (a composition uses about 4); "
            "this is not a composition file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CompositionError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None


def read_header(data: Any) -> dict:
    """Validate every field of composition JSON data except the layers' contents.

    Unknown keys are ignored so that files from later 1.x writers still open.

    Args:
        data: Parsed JSON (``to_dict``/``to_json`` output).

    Returns:
        ``size``, ``alpha_threshold``, ``erode``, ``feather``, ``settings``, ``seed`` (checked)
        and ``layers`` (the list of raw layer entries).

    Raises:
        CompositionError: the first invalid field, by name.
    """
    if not isinstance(data, dict):
        raise invalid("composition", "a JSON object", data)
    if data.get("format") != FORMAT:
        raise invalid("format", f'"{FORMAT}"', data.get("format"))
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise invalid("version", "a positive integer", version)
    if version > VERSION:
        raise CompositionError(
            f"version {version} is newer than this ipainter-nb understands ({VERSION}); "
            "update ipainter-nb to open this file")
    if "size" not in data:
        raise CompositionError("size: missing; expected [width, height]")
    header = {
        "size": as_size(data["size"]),
        "alpha_threshold": as_threshold(data.get("alpha_threshold", 0.5)),
        "erode": as_pixels(data.get("erode", 0), "erode"),
        "feather": as_pixels(data.get("feather", 0), "feather"),
    }
    settings = data.get("settings")
    header["settings"], header["seed"] = check_extras({} if settings is None else settings, data.get("seed"))
    entries = data.get("layers", [])
    if not isinstance(entries, list):
        raise invalid("layers", "a list", entries)
    header["layers"] = entries
    return header


def layers_from_entries(entries: list, base: Path, check: Callable[[Layer], None]) -> list[Layer]:
    """Build the layers of a composition JSON, each validated and checked as it is read.

    Args:
        entries: The raw ``layers`` list.
        base: The folder that relative ``"file"`` references are resolved in (and must stay in).
        check: Called with each layer (e.g. ``Composition._check_fits``); its
            ``CompositionError`` is reported with the layer's index.

    Returns:
        The layers, in file order.

    Raises:
        CompositionError: the first invalid layer, by index and field.
    """
    layers = []
    for i, entry in enumerate(entries):
        layer = _layer_from_entry(entry, f"layers[{i}]", i, base)
        try:
            check(layer)
        except CompositionError as e:
            raise CompositionError(f"layers[{i}].{e}") from None
        layers.append(layer)
    return layers


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
        if json_depth_exceeds(text, MAX_JSON_DEPTH) is not None:
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
        raise invalid(where, "a JSON object", entry)
    name = entry.get("name", f"layer{index}")
    if not isinstance(name, str):
        raise invalid(f"{where}.name", "a string", name)
    x = as_position(entry.get("x", 0), f"{where}.x", strict=True)
    y = as_position(entry.get("y", 0), f"{where}.y", strict=True)
    scale = as_scale(entry.get("scale", 1.0), f"{where}.scale")
    flip = as_bool(entry.get("flip", False), f"{where}.flip")
    z = as_position(entry.get("z", index), f"{where}.z", strict=True)

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
            raise invalid(f"{where}.image", '"data:image/png;base64,..."', uri)
        try:
            raw = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            raise CompositionError(f"{where}.image: invalid base64 data") from None
        source: Any = raw
    else:
        ref = entry["file"]
        if not isinstance(ref, str) or not ref:
            raise invalid(f"{where}.file", "a path to a PNG file", ref)
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


public_names(globals())  # after every public definition
