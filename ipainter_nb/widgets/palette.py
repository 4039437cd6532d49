"""The cutout palette: a thumbnail button per cutout one can place, and the upload intake.

The palette holds named RGBA images and says when the user wants one; it knows nothing of
the canvas. Two events, through ipywidgets' ``CallbackDispatcher`` (as ``Button.on_click``):

- ``on_pick(callback)``: ``callback(name)`` when a cutout's button is clicked;
- ``on_upload(callback)``: ``callback(intake)`` after the user uploaded files, with the
  ``Intake`` that says which cutouts they became and which files were refused.

A cutout is kept once per content: loading or uploading the same picture again (under any
file name) adds no second entry; the intake names the entry that already holds it.
Entries wrap onto new lines inside the palette's width and never widen what contains it.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as W
from ipywidgets import CallbackDispatcher
from PIL import Image

from ipainter_nb.demo.cutouts import list_cutouts
from ipainter_nb.images import IMAGE_SUFFIXES, ImageLoadError, load_rgba
from ipainter_nb.widgets.arguments import check_cutout_source, check_widget_kwargs

__all__ = ["Palette", "Intake", "CutoutSource", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_SIDE", "CUTOUT_MAX_SIZE",
           "UPLOAD_LABEL", "describe_intake"]

PathLike = str | os.PathLike
#: What a palette starts with: "demo" (the shipped pack), a folder, name -> file/image, or None.
CutoutSource = str | PathLike | Mapping[str, PathLike | Image.Image] | None

#: Uploads larger than this are refused before decoding (a notebook comm carries them).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Uploads with a side longer than this are refused; smaller big ones are downscaled.
MAX_UPLOAD_SIDE = 4096
#: Cutouts are stored at most this big (``load_rgba``'s downscaling, with its warning).
CUTOUT_MAX_SIZE = 512
#: What the upload button says.
UPLOAD_LABEL = "Upload cutout…"

_THUMB = 48  # thumbnail box, CSS pixels
_ITEM_WIDTH = "80px"

# ipywidgets' FileUpload appends "(n)" to its label, n being the entries of its value. After
# each upload the palette puts one light entry (name only, no content) per cutout uploaded
# so far into that value: the count is then the number of the user's cutouts, and the next
# upload of the same file is still a change of the value (an event).
_EPOCH = datetime.fromtimestamp(0, tz=timezone.utc)


@dataclass
class Intake:
    """What one load (a folder, a mapping of images, an upload) did to the palette.

    Attributes:
        names: palette names of the readable cutouts, in the order given (an already
            present picture gives the name of the entry that holds it).
        duplicates: those of ``names`` that were already in the palette (nothing was
            added for them).
        problems: one message per file that was refused (unreadable, too big, fully
            transparent).
        notes: what loading changed in the files that were taken (converted modes,
            downscaling).
    """

    names: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _content_key(image: Image.Image) -> str:
    """Same pixels, same key, whatever the file name or format the picture came in."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def _check_upload_size(data: bytes, name: str) -> None:
    """Refuse huge files before decoding them."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageLoadError(f"{name}: file is {len(data) / 2**20:.1f} MB; the limit is "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            w, h = probe.size
    except Exception:
        return  # not an image: load_rgba says so in its own words
    if max(w, h) > MAX_UPLOAD_SIDE:
        raise ImageLoadError(f"{name}: image is {w}x{h} px; the limit is {MAX_UPLOAD_SIDE} px a side")


def _read_cutout(source: PathLike | Image.Image | bytes, name: str) -> tuple[Image.Image, list[str]]:
    """A cutout through the size checks and ``load_rgba``, with load_rgba's warnings
    (conversions, downscaling) as text for a status line."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_upload_size(bytes(source), name)
        source = bytes(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = load_rgba(source, max_size=CUTOUT_MAX_SIZE, name=name)
    return image, [str(w.message) for w in caught]


def _thumbnail_png(image: Image.Image) -> bytes:
    thumb = Image.new("RGBA", (_THUMB, _THUMB), (0, 0, 0, 0))
    k = (_THUMB - 4) / max(image.size)
    size = (max(1, round(image.width * k)), max(1, round(image.height * k)))
    # Enlarge pixel art with NEAREST (crisp, as on the canvas); shrink photos smoothly.
    small = image.resize(size, Image.Resampling.NEAREST if k >= 1 else Image.Resampling.LANCZOS)
    thumb.paste(small, ((_THUMB - size[0]) // 2, (_THUMB - size[1]) // 2), small)
    buf = io.BytesIO()
    thumb.save(buf, format="PNG")
    return buf.getvalue()


class Palette(W.VBox):
    """Cutouts to place, as thumbnail buttons that wrap, and an upload button.

    Args:
        cutouts: ``"demo"`` (the shipped pack), a folder of images, a mapping of
            name -> path or PIL image, or ``None`` for an empty palette. What loading that
            source did is in ``palette.first_intake`` (files skipped, conversions).
        **kwargs: passed on to ``ipywidgets.VBox`` (default ``layout``: the full width).

    >>> palette = Palette()
    >>> palette.on_pick(lambda name: print("place", name))
    >>> palette.pick("sun")                        # what a click on the sun's button does
    place sun
    """

    def __init__(self, cutouts: CutoutSource = "demo", **kwargs: Any) -> None:
        check_widget_kwargs(Palette, kwargs)  # a misspelt keyword would only be a traitlets deprecation warning
        check_cutout_source(cutouts)
        kwargs.setdefault("layout", W.Layout(width="100%", max_width="100%", min_width="0"))
        super().__init__(**kwargs)
        self._images: dict[str, Image.Image] = {}
        self._name_of_content: dict[str, str] = {}
        self._pick_callbacks = CallbackDispatcher()
        self._upload_callbacks = CallbackDispatcher()
        #: The cutout buttons; a row that wraps inside the palette's width.
        self.items = W.Box(layout=W.Layout(display="flex", flex_flow="row wrap", align_items="flex-end",
                                           width="100%", min_width="0"))
        #: Names of the cutouts the user uploaded (each once), counted on the upload button.
        self.uploaded: list[str] = []
        self._counting = False  # True while the palette sets the upload button's count
        self.upload = W.FileUpload(accept="image/*", multiple=True, description=UPLOAD_LABEL,
                                   tooltip="Add your own cutouts (PNG with transparency); "
                                           "the number is how many you have uploaded",
                                   layout=W.Layout(width="auto", min_width="9em", align_self="flex-start"))
        self.upload.add_class("ipainter-upload")
        self.upload.observe(self._on_upload_value, "value")
        self.children = [self.items, self.upload]
        self.add_class("ipainter-palette")

        if isinstance(cutouts, str) and cutouts == "demo":
            self.first_intake = self.add_sources(list_cutouts())
        elif isinstance(cutouts, Mapping):
            self.first_intake = self.add_sources(cutouts)
        elif cutouts is not None:
            self.first_intake = self.add_folder(cutouts)
        else:
            self.first_intake = Intake()

    # ------------------------------------------------------------------ reading

    @property
    def names(self) -> list[str]:
        """The cutouts' names, in palette order."""
        return list(self._images)

    def __contains__(self, name: object) -> bool:
        return name in self._images

    def __len__(self) -> int:
        return len(self._images)

    def image(self, name: str) -> Image.Image:
        """The RGBA cutout called ``name``; KeyError lists what the palette has.

        Args:
            name: a palette name (see ``names``).
        """
        try:
            return self._images[name]
        except KeyError:
            raise KeyError(f"no cutout named {name!r}; the palette has: {', '.join(self._images) or 'nothing'}") from None

    # ------------------------------------------------------------------ events

    def on_pick(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(name)`` when a cutout's button is clicked (``remove=True`` stops).

        Args:
            callback: takes the picked cutout's palette name.
            remove: unregister ``callback`` instead.
        """
        self._pick_callbacks.register_callback(callback, remove=remove)

    def on_upload(self, callback: Callable[[Intake], Any], remove: bool = False) -> None:
        """Call ``callback(intake)`` after the user uploaded files (``remove=True`` stops).

        Args:
            callback: takes the upload's ``Intake`` (names added, duplicates, problems).
            remove: unregister ``callback`` instead.
        """
        self._upload_callbacks.register_callback(callback, remove=remove)

    def pick(self, name: str) -> None:
        """Tell the listeners that ``name`` was picked (what a click on its button does).

        Args:
            name: a palette name; KeyError, and no listener called, when there is none.
        """
        self.image(name)  # an unknown name fails here, naming what there is
        self._pick_callbacks(name)

    # ------------------------------------------------------------------ adding

    def add(self, name: str, image: Image.Image) -> str:
        """Put an RGBA image in the palette under ``name`` (made unique); return the name it
        is under. A picture already in the palette is not added again: its entry's name is
        returned.

        Args:
            name: the wanted name; ``-2``, ``-3``, ... is appended when it is taken, and a
                blank name becomes ``"cutout"``.
            image: the cutout, already RGBA (no checks or conversion are done here).
        """
        return self._add(name, image)[0]

    def _add(self, name: str, image: Image.Image) -> tuple[str, bool]:
        key = _content_key(image)
        if key in self._name_of_content:
            return self._name_of_content[key], True
        base = name.strip() or "cutout"
        unique, k = base, 2
        while unique in self._images:
            unique, k = f"{base}-{k}", k + 1
        self._images[unique] = image
        self._name_of_content[key] = unique
        self.items.children = (*self.items.children, self._item(unique, image))
        return unique, False

    def _item(self, name: str, image: Image.Image) -> W.VBox:
        picture = W.Image(value=_thumbnail_png(image), format="png", width=_THUMB, height=_THUMB)
        button = W.Button(description=name, tooltip=f"Add {name} to the canvas",
                          layout=W.Layout(width=_ITEM_WIDTH, padding="0 2px"))
        button.on_click(lambda _b: self.pick(name))
        item = W.VBox([picture, button], layout=W.Layout(align_items="center", margin="2px", flex="0 0 auto"))
        item.add_class("ipainter-palette-item")
        return item

    def add_sources(self, sources: Mapping[str, PathLike | Image.Image | bytes]) -> Intake:
        """Add name -> file, PIL image or file bytes; unreadable ones are named in the intake.

        Args:
            sources: palette name -> image file path, PIL image or encoded file bytes; each
                goes through the upload size checks and ``load_rgba``.

        Returns:
            What was added, already present, refused and converted.
        """
        intake = Intake()
        for name, source in sources.items():
            # messages name the file the user can go and fix
            label = str(name) if isinstance(source, (Image.Image, bytes, bytearray, memoryview)) else Path(source).name
            self._take(intake, str(name), source, label)
        return intake

    def add_folder(self, path: PathLike) -> Intake:
        """Add every image file of a folder (sorted by name); unreadable ones are named in
        the intake. NotADirectoryError when ``path`` is not a folder.

        Args:
            path: the folder; its image files (not subfolders) are named by their stem.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder}: not a folder of cutout images")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return self.add_sources({p.stem: p for p in files})

    def add_upload(self, value: Sequence[Any]) -> Intake:
        """Add uploaded files (ipywidgets 8 ``FileUpload.value``: dicts with "name" and
        "content"); a refused file (not an image, too big) is named in the intake.

        Args:
            value: the upload widget's value: mappings (or objects) with ``name`` and
                ``content`` (the file's bytes); each is named by its file name's stem.
        """
        intake = Intake()
        for entry in value:
            get = entry.get if isinstance(entry, Mapping) else partial(getattr, entry)
            file_name, content = str(get("name", "upload")), get("content", None)
            if content is None:
                intake.problems.append(f"{file_name}: the upload has no content")
                continue
            self._take(intake, Path(file_name).stem, bytes(content), file_name)
        return intake

    def _take(self, intake: Intake, name: str, source: Any, label: str) -> None:
        try:
            image, notes = _read_cutout(source, label)
        except ImageLoadError as e:
            intake.problems.append(str(e))
            return
        entry, duplicate = self._add(name, image)
        intake.names.append(entry)
        if duplicate:
            intake.duplicates.append(entry)
        else:
            intake.notes += notes

    def _on_upload_value(self, change: dict) -> None:
        if self._counting:
            return  # our own count below
        try:
            intake = self.add_upload(change["new"])
            self.uploaded += [name for name in dict.fromkeys(intake.names) if name not in self.uploaded]
        finally:
            self._counting = True
            try:  # the count of the user's cutouts, without their bytes
                self.upload.value = tuple({"name": name, "type": "", "size": 0, "content": memoryview(b""),
                                           "last_modified": _EPOCH} for name in self.uploaded)
            finally:
                self._counting = False
        self._upload_callbacks(intake)


def describe_intake(intake: Intake, placed: Sequence[str] = ()) -> tuple[str, str]:
    """(level, text) for a status line: "error" when files were refused, "warning" when
    loading changed a file (conversions, downscaling), "ok" otherwise.

    Args:
        intake: what a palette load did (names, duplicates, problems, notes).
        placed: names of the layers put on the canvas from it ("Added ..." in the text).

    Returns:
        ``(level, text)``; ``text`` is empty when there is nothing to say.
    """
    parts = ["Not added:", *intake.problems] if intake.problems else []
    if placed:
        parts.append(f"Added {', '.join(placed)}.")
    if intake.duplicates:
        parts.append(f"Already in the palette: {', '.join(dict.fromkeys(intake.duplicates))}.")
    parts += intake.notes
    level = "error" if intake.problems else "warning" if intake.notes else "ok"
    return level, " ".join(parts)
