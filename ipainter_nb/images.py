"""Conversions at the edges: PIL / numpy / files <-> the core's tensors, and safe file writes.

The core works on float tensors in [-1, 1] (images) and {0, 1} (keep masks, 1 = keep the
known pixel, 0 = generate, as RePaint's ``gt_keep_mask``). Everything that touches PIL,
uint8 arrays or the file system goes through this module so the conventions live in one
place:

- tensors: ``pil_to_tensor``, ``tensor_to_pil``, ``tensor_to_uint8`` (numpy, HWC),
  ``quantize_uint8`` / ``uint8_to_tensor`` (the uint8 frames a run keeps), ``make_grid``,
  ``upscale_nearest``;
- files: ``open_image`` (every PIL mode by its real range, EXIF orientation applied),
  ``load_picture``, ``load_mask``, ``load_picture_and_mask``, ``load_rgba`` (cutouts),
  ``centre_square``, ``IMAGE_SUFFIXES``;
- safe writes: ``atomic_write`` & co, ``remove_stale_temps``, ``claim_output``.

How PIL modes are read (pictures, masks and cutouts alike):

- ``I;16``, ``I;16B``, ``I;16L``, ``I;16N``: 16-bit greyscale, 0..65535.
- ``I`` (32-bit integer): a PNG can only hold 16-bit data there (older Pillow opens 16-bit
  PNGs as ``I``), so a PNG is read as 0..65535; from other formats, values up to 255 are
  read as 8-bit data and anything larger as 16-bit data (0..65535, clipped).
- ``F`` (float): 0..1 when no value exceeds 1, otherwise 0..255 (clipped); NaN reads as 0.
- palette, ``LA``, ``CMYK``, ``YCbCr``, ...: converted by PIL, alpha kept where there is one.

An animated image (GIF, APNG, WebP with several frames) is refused: which frame is meant is
ambiguous. A still GIF is a valid picture, so ``.gif`` is in ``IMAGE_SUFFIXES``.

Interruptions: ``atomic_write`` removes its temp file when the write raises, including
``KeyboardInterrupt`` (SIGINT) and ``SystemExit``. SIGTERM kills a Python process without
running ``except``/``finally`` blocks unless a handler turns it into an exception: the CLI
installs one that raises ``SystemExit``. Temp files left by a hard kill are found and
removed later by ``remove_stale_temps``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import signal
import socket
import stat
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ipainter_nb.errors import UserInputError

__all__ = [
    "png_bytes",
    "IMAGE_SUFFIXES",
    "ImageLoadError",
    "ImageLoadWarning",
    "ImageSizeError",
    "MAX_IMAGE_FILE_BYTES",
    "MIN_CUTOUT_SIZE",
    "OutputClaim",
    "atomic_write",
    "centre_square",
    "claim_output",
    "load_mask",
    "load_picture",
    "load_picture_and_mask",
    "load_rgba",
    "make_grid",
    "mask_to_pil",
    "open_image",
    "pil_to_tensor",
    "quantize_uint8",
    "read_bounded",
    "remove_stale_temps",
    "save_png_atomic",
    "signals_deferred",
    "tensor_to_pil",
    "tensor_to_uint8",
    "uint8_to_tensor",
    "upscale_nearest",
    "write_bytes_atomic",
    "write_text_atomic",
]

PathLike = str | os.PathLike
ImageSource = PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image

#: File suffixes read as pictures (lower case). A still GIF is a picture; animated ones are
#: refused when opened.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")

#: A cutout smaller than this on either side is rejected: it would vanish on the canvas
#: and cannot be picked with the mouse.
MIN_CUTOUT_SIZE = 4

#: Pixels brighter than this (0..255 scale) in a mask are kept.
MASK_THRESHOLD = 127


class ImageLoadError(UserInputError):
    """An image file could not be used; the message names the file, the reason and the fix."""


class ImageLoadWarning(UserWarning):
    """An image was usable only after a conversion (no alpha, 16-bit, downscaled...)."""


# --------------------------------------------------------------------------- tensors


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """A PIL image as a (3, H, W) float32 tensor in [-1, 1], every mode by its real range.

    Alpha is dropped (not composited): callers that care about transparency composite
    first, as ``Composition.render`` does.
    """
    arr = np.asarray(_as_rgb(img), dtype=np.float32)
    return torch.from_numpy(arr / 127.5 - 1.0).permute(2, 0, 1).contiguous()


def _check_image_shape(t: torch.Tensor | np.ndarray) -> None:
    if t.ndim not in (3, 4) or t.shape[-3] != 3:
        raise ValueError(f"expected a (3,H,W) or (N,3,H,W) image tensor, got shape {tuple(t.shape)}")


def quantize_uint8(t: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as a uint8 tensor of the same shape on the CPU (values clamped).

    A uint8 tensor is returned as is (on the CPU). Rounded, not truncated, so that
    ``pil_to_tensor`` -> ``quantize_uint8`` gives the original bytes back. Done in numpy:
    torch spreads even this small op over its thread pool, which costs far more than the
    op itself on a CPU that is busy running the model in another thread.
    """
    a = t.detach().cpu()
    if a.dtype == torch.uint8:
        return a
    f = a.numpy() if a.dtype == torch.float32 else a.float().numpy()
    return torch.from_numpy(np.rint((np.clip(f, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8))


def uint8_to_tensor(u8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The inverse of ``quantize_uint8``: uint8 values as float32 in [-1, 1], same shape."""
    a = torch.as_tensor(u8)
    if a.dtype != torch.uint8:
        raise ValueError(f"expected uint8 values, got {a.dtype}")
    return a.float() / 127.5 - 1.0


def tensor_to_uint8(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) -> (H, W, 3) or (N, 3, H, W) -> (N, H, W, 3) uint8 array.

    Takes float images in [-1, 1] (clamped) or uint8 tensors (as ``quantize_uint8`` makes).
    """
    _check_image_shape(t)
    return np.ascontiguousarray(np.moveaxis(quantize_uint8(t).numpy(), -3, -1))


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """A (3, H, W) or (1, 3, H, W) tensor in [-1, 1] (or uint8) as an RGB PIL image."""
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"tensor_to_pil takes one image, got a batch of {t.shape[0]}; use make_grid")
        t = t[0]
    return Image.fromarray(tensor_to_uint8(t))


def upscale_nearest(img: Image.Image, factor: int) -> Image.Image:
    """``img`` enlarged ``factor`` times with nearest neighbour: each pixel a crisp square."""
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a whole number >= 1, got {factor!r}")
    factor = int(factor)
    if factor == 1:
        return img
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def _mask_array(keep: torch.Tensor | np.ndarray) -> np.ndarray:
    """Any (H,W), (1,H,W) or (1,1,H,W) keep mask as a bool (H, W) array."""
    arr = keep.detach().cpu().numpy() if isinstance(keep, torch.Tensor) else np.asarray(keep)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"expected a (H,W), (1,H,W) or (1,1,H,W) mask, got shape {tuple(keep.shape)}")
    return arr > 0.5


def mask_to_pil(keep: torch.Tensor | np.ndarray) -> Image.Image:
    """A keep mask as a mode "L" image: white (255) = keep, black (0) = generate."""
    return Image.fromarray(_mask_array(keep).astype(np.uint8) * 255)


def make_grid(
    images: torch.Tensor | Sequence[torch.Tensor],
    nrow: int = 8,
    gap: int = 2,
    fill: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Tile (N, 3, H, W) images (in [-1, 1], or uint8) into one RGB picture, ``nrow`` per row.

    Images are separated by a ``gap``-pixel line of ``fill`` (no outer border).
    """
    batch = torch.stack(list(images)) if not isinstance(images, torch.Tensor) else images
    if batch.dim() == 3:
        batch = batch[None]
    arr = tensor_to_uint8(batch)  # (N, H, W, 3)
    n, h, w, _ = arr.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image")
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    out = np.empty((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), np.uint8)
    out[...] = np.asarray(fill, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        out[y:y + h, x:x + w] = arr[i]
    return Image.fromarray(out)


# --------------------------------------------------------------------------- modes


def _is_high_bit_depth(img: Image.Image) -> bool:
    return img.mode in ("I", "F") or img.mode.startswith("I;16")


def _grey_scale_of(img: Image.Image, arr: np.ndarray) -> float:
    """The value that means white for a high-bit-depth greyscale image (see module docstring)."""
    if img.mode == "F":
        return 1.0 if np.nanmax(arr, initial=0.0) <= 1.0 else 255.0
    if img.mode.startswith("I;16") or img.format == "PNG":
        return 65535.0
    return 255.0 if arr.max(initial=0) <= 255 else 65535.0


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer and float greyscale as 8-bit "L", by the real range."""
    arr = np.asarray(img).astype(np.float64)
    white = _grey_scale_of(img, arr)
    out = np.nan_to_num(arr, nan=0.0) / white * 255.0
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _as_rgb(img: Image.Image) -> Image.Image:
    """Any mode as RGB (alpha dropped), high bit depths by their real range."""
    if img.mode == "RGB":
        return img
    if _is_high_bit_depth(img):
        img = _high_bit_depth_to_l(img)
    return img.convert("RGB")


def _as_grey_over_black(img: Image.Image) -> Image.Image:
    """Any mode as "L", transparent pixels counting as black (a mask drawn on a transparent
    layer means "keep what I painted")."""
    if _is_high_bit_depth(img):
        grey = _high_bit_depth_to_l(img)
        trns = img.info.get("transparency")
        if isinstance(trns, (int, float)):
            # The transparent grey value is given in the file's own (16-bit) scale.
            arr = np.where(np.asarray(img) == trns, 0, np.asarray(grey)).astype(np.uint8)
            grey = Image.fromarray(arr)
        return grey
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        arr = np.asarray(rgba)
        if arr[..., :3].min() == arr[..., :3].max() and arr[..., 3].min() != arr[..., 3].max():
            # one flat colour everywhere: the mask lives in the alpha channel alone (opaque = keep),
            # as masks exported as "alpha only" are; over black, flat black would keep nothing
            return Image.fromarray(np.ascontiguousarray(arr[..., 3]))
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("L")
    return img.convert("L")


# --------------------------------------------------------------------------- opening files


def _label_of(src: ImageSource, name: str | None) -> str:
    if name:
        return name
    if isinstance(src, Image.Image):
        return src.info.get("filename") or "image"
    if isinstance(src, (bytes, bytearray, memoryview)):
        return "uploaded image"
    if hasattr(src, "read"):
        return str(getattr(src, "name", None) or "image")
    return str(src)


#: The largest picture file read (a 100-megapixel 16-bit TIFF is about 600 MB).
MAX_IMAGE_FILE_BYTES = 1 << 30


def read_bounded(path: PathLike, max_bytes: int, label: str, error: type[UserInputError] = UserInputError) -> bytes:
    """The bytes of the regular file ``path``, or ``error`` naming ``label`` and the problem.

    A device or pipe (``/dev/zero``, a FIFO) would be read forever, and a file larger than
    ``max_bytes`` (a sparse file of terabytes named like a picture) would fill the memory:
    both are refused before reading.
    """
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{label}: is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{label}: is not a regular file (a device, pipe or socket); pass a file")
        if info.st_size > max_bytes:
            raise error(f"{label}: {info.st_size:,} bytes, more than the {max_bytes:,} such a file may have; is it the right file?")
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)[:max_bytes]
    except FileNotFoundError:
        raise error(f"{label}: file not found") from None
    except OSError as e:
        raise error(f"{label}: cannot be read ({e.strerror or e})") from None


def _read_bytes(src: ImageSource, label: str) -> bytes:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    if hasattr(src, "read"):
        return src.read()
    return read_bounded(src, MAX_IMAGE_FILE_BYTES, label, ImageLoadError)


class ImageSizeError(ImageLoadError):
    """An image whose size (read from its header, orientation applied) is not the one needed."""

    def __init__(self, label: str, size: tuple[int, int], needed: tuple[int, int]) -> None:
        self.size, self.needed = size, needed
        super().__init__(f"{label} is {size[0]}x{size[1]} but {needed[0]}x{needed[1]} is needed: "
                         f"resize the picture (and its mask) to {needed[0]}x{needed[1]}")


def _possible_sizes(img: Image.Image) -> set[tuple[int, int]]:
    """The (width, height) the picture may be shown at, from its header: EXIF orientations 5-8
    turn it a quarter. A PNG may keep its EXIF after the pixels (reading it would decode them):
    either way round is possible then, and the size is checked again once decoded."""
    w, h = img.size
    if img.format == "PNG" and "exif" not in img.info:
        return {(w, h), (h, w)}
    try:
        turned = img.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # a damaged EXIF block: exif_transpose will say so, or ignore it, later
        return {(w, h), (h, w)}
    return {(h, w) if turned else (w, h)}


def open_image(
    src: ImageSource,
    name: str | None = None,
    draft_size: int | None = None,
    expect_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Open and decode an image (path, bytes, file object or PIL image) with its EXIF
    orientation applied, or raise ``ImageLoadError`` naming the file and the reason.

    The mode is left as the file has it (16-bit stays 16-bit); the ``load_*`` functions
    convert by the real range. ``draft_size`` lets the JPEG decoder skip detail that a later
    downscale to that size would throw away. ``expect_size`` (width, height) refuses another
    size from the header alone (``ImageSizeError``), before the pixels are decoded. Animated
    images are refused.
    """
    label = _label_of(src, name)
    if isinstance(src, Image.Image):
        img = src
    else:
        data = _read_bytes(src, label)
        try:
            img = Image.open(io.BytesIO(data))
            possible = _possible_sizes(img) if expect_size is not None else set()
            if possible and tuple(expect_size) not in possible:
                raise ImageSizeError(label, possible.pop() if len(possible) == 1 else img.size, tuple(expect_size))
            if draft_size is not None and img.format == "JPEG":
                img.draft("RGB", (draft_size, draft_size))
            img.load()  # decode now so truncated files fail here, not later
        except ImageSizeError:
            raise
        except Image.DecompressionBombError:
            raise ImageLoadError(
                f"{label}: image is too large to open safely (over {Image.MAX_IMAGE_PIXELS * 2} pixels); "
                "downscale it first"
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise ImageLoadError(
                f"{label}: not a readable image [{type(e).__name__}]; a PNG, JPEG, WebP, BMP, GIF or TIFF file is expected"
            ) from None
    if getattr(img, "n_frames", 1) > 1:
        raise ImageLoadError(
            f"{label}: an animated image ({img.n_frames} frames); save the frame you mean as a PNG"
        )
    # Photos carry their orientation in EXIF; use them the way the user sees them.
    return ImageOps.exif_transpose(img)


def _size_tuple(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return (int(size), int(size))
    w, h = size
    return (int(w), int(h))


def centre_square(img: Image.Image) -> Image.Image:
    """The largest centred square of ``img`` (a crop, no scaling)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def load_picture(
    src: ImageSource,
    size: int | tuple[int, int] | None = None,
    *,
    fit: str = "exact",
    name: str | None = None,
) -> torch.Tensor:
    """A picture file as a (3, H, W) float32 tensor in [-1, 1] (alpha dropped).

    ``size`` (an int or (W, H)): with ``fit="exact"`` the picture must already have that
    size (otherwise ``ImageLoadError`` says so and what to do); with ``fit="crop"`` its
    centred square is resized to ``size`` (how training folders are read).
    """
    label = _label_of(src, name)
    img = open_image(src, name=label, expect_size=_size_tuple(size) if size is not None and fit == "exact" else None)
    if size is not None:
        want = _size_tuple(size)
        if fit == "crop":
            img = _as_rgb(centre_square(img)).resize(want, Image.Resampling.BICUBIC, reducing_gap=3.0)
        elif fit == "exact":
            if img.size != want:  # a PIL image given directly: no header was read
                raise ImageSizeError(label, img.size, want)
        else:
            raise ValueError(f"fit must be 'exact' or 'crop', got {fit!r}")
    return pil_to_tensor(img)


def load_mask(
    src: ImageSource,
    size: int | tuple[int, int] | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """A keep-mask file (white = keep) as a (1, H, W) float32 tensor of {0, 1}.

    Any mode (by its real range; 16-bit greyscale included), EXIF orientation applied as
    for pictures. Pixels brighter than half white are kept. Transparent pixels count as
    black (generate), since a mask drawn on a transparent layer means "keep what I
    painted"; a mask whose colour is one flat value everywhere holds the mask in its alpha
    channel alone, and there opaque means keep. ``size`` (an int or (W, H)) resizes with nearest neighbour so the mask stays
    binary.
    """
    grey = _as_grey_over_black(open_image(src, name=name))
    if size is not None:
        grey = grey.resize(_size_tuple(size), Image.Resampling.NEAREST)
    return _as_keep(grey)


def _as_keep(grey: Image.Image) -> torch.Tensor:
    arr = np.asarray(grey) > MASK_THRESHOLD
    return torch.from_numpy(arr.astype(np.float32))[None]


def load_picture_and_mask(
    image_path: ImageSource,
    mask_path: ImageSource,
    size: int | tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(image (3, H, W) in [-1, 1], keep (1, H, W) in {0, 1}) from a picture and its mask.

    Both are read the same way (EXIF orientation, real range of every mode); the mask must
    have the picture's size (after orientation) and, when given, both must be ``size``.
    """
    image = load_picture(image_path, size)
    (h, w) = image.shape[-2:]
    try:
        # the mask's size is checked from its header: a huge one is refused without decoding it
        keep = _as_keep(_as_grey_over_black(open_image(mask_path, expect_size=(w, h))))
    except ImageSizeError as exc:
        mw, mh = exc.size
        raise ImageLoadError(
            f"mask {_label_of(mask_path, None)} is {mw}x{mh} but picture {_label_of(image_path, None)} is "
            f"{w}x{h}: a mask must have its picture's size"
        ) from None
    if keep.shape[-2:] != image.shape[-2:]:  # a PIL image given directly
        raise ImageLoadError(f"mask {_label_of(mask_path, None)} is {keep.shape[-1]}x{keep.shape[-2]} but picture "
                             f"{_label_of(image_path, None)} is {w}x{h}: a mask must have its picture's size")
    return image, keep


# --------------------------------------------------------------------------- cutouts


def _warn(msg: str) -> None:
    # stacklevel=3: point at the caller of load_rgba, not at this helper.
    warnings.warn(msg, ImageLoadWarning, stacklevel=3)


def _to_rgba(img: Image.Image, label: str) -> Image.Image:
    """Convert any mode to RGBA, warning about what was done when it was not RGBA."""
    mode = img.mode
    if mode == "RGBA":
        return img
    has_trns = "transparency" in img.info
    if _is_high_bit_depth(img):
        out = _high_bit_depth_to_l(img).convert("RGBA")
        trns = img.info.get("transparency")
        if isinstance(trns, (int, float)):
            # The transparent grey value is given in the file's own (16-bit) scale.
            alpha = np.asarray(img) != trns
            out.putalpha(Image.fromarray(alpha.astype(np.uint8) * 255))
            _warn(f"{label}: {mode} (16-bit) greyscale image scaled to 8 bits and converted "
                  "to RGBA; its transparent value is kept transparent")
        else:
            _warn(f"{label}: {mode} (16-bit) greyscale image has no alpha channel; scaled to "
                  "8 bits and treated as fully opaque (the whole rectangle will be kept)")
        return out
    if mode in ("P", "PA"):
        out = img.convert("RGBA")
        if mode == "PA" or has_trns:
            _warn(f"{label}: palette image converted to RGBA; its transparency is kept")
        else:
            _warn(f"{label}: palette image without transparency converted to RGBA and "
                  "treated as fully opaque (the whole rectangle will be kept)")
        return out
    if mode in ("LA", "La", "RGBa"):
        _warn(f"{label}: {mode} image converted to RGBA (alpha kept)")
        return img.convert("RGBA")
    if mode in ("RGB", "L", "1"):
        out = img.convert("RGBA")  # PIL applies a tRNS colour key if there is one
        kind = {"RGB": "RGB", "L": "greyscale", "1": "1-bit"}[mode]
        if has_trns:
            _warn(f"{label}: {kind} image converted to RGBA; its transparent colour is kept transparent")
        else:
            _warn(f"{label}: {kind} image has no alpha channel; treated as fully opaque "
                  "(the whole rectangle will be kept). Use a PNG with transparency to cut out a shape")
        return out
    # CMYK, YCbCr, LAB, HSV, ...: through RGB.
    _warn(f"{label}: {mode} image converted to RGB and treated as fully opaque")
    return img.convert("RGB").convert("RGBA")


def load_rgba(
    path_or_bytes: ImageSource,
    max_size: int | None = 512,
    name: str | None = None,
) -> Image.Image:
    """Load a landmark cutout as an RGBA PIL image, or fail with a message a user can act on.

    ``path_or_bytes`` is a path, the file's bytes (an upload widget's value), a binary
    file object, or a PIL image. ``name`` labels the image in messages (defaults to the
    file name). Non-RGBA images are converted with an ``ImageLoadWarning`` saying what was
    done; images larger than ``max_size`` on either side are downscaled keeping the aspect
    ratio (``max_size=None`` keeps any size). Raises ``ImageLoadError`` for a missing or
    unreadable file, an image smaller than ``MIN_CUTOUT_SIZE`` on a side, or one that is
    fully transparent.
    """
    src = path_or_bytes
    label = _label_of(src, name)
    img = open_image(src, name=label, draft_size=max_size)
    w, h = img.size
    if min(w, h) < MIN_CUTOUT_SIZE:
        raise ImageLoadError(
            f"{label}: image is {w}x{h} px; a cutout must be at least {MIN_CUTOUT_SIZE}x{MIN_CUTOUT_SIZE} px"
        )
    rgba = _to_rgba(img, label)
    if rgba is src:
        rgba = rgba.copy()  # never hand back (and later mutate) the caller's image

    if max_size is not None and max(w, h) > max_size:
        k = max_size / max(w, h)
        new = (max(1, round(w * k)), max(1, round(h * k)))
        if min(new) < MIN_CUTOUT_SIZE:
            raise ImageLoadError(
                f"{label}: image is {w}x{h} px, too elongated to fit in {max_size} px while "
                f"keeping at least {MIN_CUTOUT_SIZE} px on the short side"
            )
        # PIL premultiplies alpha when resizing RGBA, so edges get no dark fringe.
        rgba = rgba.resize(new, Image.Resampling.LANCZOS)
        _warn(f"{label}: image is {w}x{h} px, larger than max_size={max_size}; downscaled to {new[0]}x{new[1]} px")

    if rgba.getchannel("A").getextrema()[1] == 0:
        raise ImageLoadError(f"{label}: image is fully transparent; nothing to place")
    return rgba


# --------------------------------------------------------------------------- atomic writes


def _current_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import, before any threads.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
# Temp and claim files name their writer (host, pid) so that a later run can tell a
# leftover of a dead process from a write in progress.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-)?[A-Za-z0-9_]{8}\.tmp$")
_CLAIM = re.compile(r"^\.(?P<name>.+)\.claim$")


_NAME_MAX = 255  # bytes in one file name on the usual file systems


def _hidden_name(name: str, tail: str) -> str:
    """``.<name><tail>``, with ``name`` shortened and a hash of it added when the whole would
    exceed the file system's name limit (a long output name must not make its temp file fail)."""
    full = f".{name}{tail}"
    if len(os.fsencode(full)) <= _NAME_MAX:
        return full
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    room = _NAME_MAX - len(os.fsencode(f".~{digest}{tail}"))
    short = os.fsdecode(os.fsencode(name)[:room])
    while len(os.fsencode(short)) > room:  # a cut inside a multi-byte character re-encodes longer
        short = short[:-1]
    return f".{short}~{digest}{tail}"


def _temp_path(path: Path) -> tuple[int, str]:
    """Create ``.<name>.<host>-<pid>-<random>.tmp`` beside ``path`` exclusively; (fd, path)."""
    while True:
        tmp = path.parent / _hidden_name(path.name, f".{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600), str(tmp)
        except FileExistsError:
            continue


def _publish(tmp: str, path: Path, replace: bool) -> None:
    if replace:
        os.replace(tmp, path)
        return
    # A hard link creates ``path`` only if nothing is there, atomically: a finished output
    # of another process is never replaced.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} appeared while it was being written (another process?); it was left as it is") from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise FileExistsError(f"{path} appeared while it was being written; it was left as it is") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_write(path: PathLike, write: Callable[[BinaryIO], None], *, replace: bool = True) -> Path:
    """Write via a temp file in the same folder, then move it over ``path`` in one step.

    Readers see either the old file or the complete new one. If ``write`` raises (any
    exception, ``KeyboardInterrupt`` and ``SystemExit`` included) the temp file is removed
    and the old file stays. ``replace=False`` never replaces an existing ``path``
    (``FileExistsError``). Returns the path.
    """
    path = Path(path)
    fd, tmp = _temp_path(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # The temp file is 0600; give the result the permissions a plain open() would.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        _publish(tmp, path, replace)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then act on the first one that came.

    For writes whose writer cannot be interrupted cleanly: ``torch.save``'s zip writer turns
    a ``KeyboardInterrupt`` into an error of its own while it unwinds. The block should be
    short (one file written). Outside the main thread (where no signal arrives) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: pending.append(signum)) for sig in watched}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)  # Python's own SIGINT handler raises KeyboardInterrupt here
            elif handler == signal.SIG_DFL:
                signal.raise_signal(pending[0])


def write_bytes_atomic(path: PathLike, data: bytes, *, replace: bool = True) -> Path:
    """Atomically replace ``path`` with ``data``. Returns the path."""
    return atomic_write(path, lambda f: f.write(data), replace=replace)


def write_text_atomic(path: PathLike, text: str, encoding: str = "utf-8", *, replace: bool = True) -> Path:
    """Atomically replace ``path`` with ``text``. Returns the path."""
    return write_bytes_atomic(path, text.encode(encoding), replace=replace)


def _as_pil(obj: Image.Image | torch.Tensor | np.ndarray) -> Image.Image:
    if isinstance(obj, torch.Tensor):
        return tensor_to_pil(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8:
            raise ValueError(f"expected a uint8 array, got {obj.dtype}")
        return Image.fromarray(obj)
    if isinstance(obj, Image.Image):
        return obj
    raise TypeError(f"expected a PIL image, tensor or uint8 array, got {type(obj).__name__}")


def png_bytes(img: Image.Image, compress_level: int = 6) -> bytes:
    """``img`` encoded as PNG in memory (``compress_level=1`` for pictures shown once and dropped)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def save_png_atomic(img_or_tensor: Image.Image | torch.Tensor | np.ndarray, path: PathLike, *, replace: bool = True) -> Path:
    """Save a PIL image, an image tensor in [-1, 1] or a uint8 array as PNG, atomically.

    A crash or an error mid-write never leaves a half-written ``path`` behind. Keep masks
    are not images: save them with ``save_png_atomic(mask_to_pil(keep), path)``.
    """
    img = _as_pil(img_or_tensor)
    return atomic_write(path, lambda f: img.save(f, format="PNG"), replace=replace)


# --------------------------------------------------------------------------- leftovers and claims


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill would terminate it there; fall back to the age rule
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _writer_gone(host: str | None, pid: str | int | None) -> bool:
    """True when the (host, pid) that wrote a file is known to have ended (same host only)."""
    return host == _HOST and pid is not None and not _pid_alive(int(pid))


def remove_stale_temps(folder: PathLike, max_age_s: float = 600.0) -> int:
    """Remove this module's leftover temp files (and claims) in ``folder``; return how many.

    A temp file ``.<name>.<host>-<pid>-<random>.tmp`` goes when its writer process has ended
    (same machine) or when it has not changed for ``max_age_s`` seconds (a writer on another
    machine, a reused pid, or the older ``.<name>.<random>.tmp`` form). A claim
    ``.<name>.claim`` goes when its process has ended. Nothing else is touched.
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        temp = _TEMP.match(entry.name)
        if temp is not None:
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > max_age_s
            except FileNotFoundError:
                continue
            stale = old or _writer_gone(temp["host"], temp["pid"])
        elif _CLAIM.match(entry.name):
            stale = _claim_is_stale(Path(entry.path))
        else:
            continue
        if stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
    return removed


def _claim_path(path: Path) -> Path:
    return path.parent / _hidden_name(path.name, ".claim")


def _read_claim(claim: Path) -> dict | None:
    try:
        data = json.loads(claim.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _claim_is_stale(claim: Path, grace_s: float = 10.0) -> bool:
    data = _read_claim(claim)
    if data is None:
        # Empty: its writer died between creating and filling it, unless that is happening
        # right now. Anything else unreadable is not ours to judge, and stays.
        try:
            info = claim.stat()
        except FileNotFoundError:
            return False
        return info.st_size == 0 and time.time() - info.st_mtime > grace_s
    return "token" in data and _claimant_gone(data)


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), where the system says (Linux); else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rpartition(")")[2].split()[19])  # field 22: start time in clock ticks after boot
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _claimant_gone(data: dict) -> bool:
    """Whether the process that wrote a claim has ended: its pid is free, or (a reused pid) the
    process now holding that pid started after the claim was written."""
    if _writer_gone(data.get("host"), data.get("pid")):
        return True
    written = data.get("time")
    if data.get("host") != _HOST or not isinstance(data.get("pid"), int) or not isinstance(written, (int, float)):
        return False
    started = _process_start(data["pid"])
    return started is not None and started > written + 2.0  # the boot time is whole seconds


class OutputClaim:
    """The right to write one output file, held through a hidden ``.<name>.claim`` file.

    Made by ``claim_output``. Write the output with ``save_png``/``write`` (atomic, never
    replacing a file that appeared meanwhile) or any atomic writer, then ``release()``; used
    as a context manager the claim is released on exit whatever happens.
    """

    def __init__(self, path: Path, claim: Path, token: str) -> None:
        self.path, self.claim_path, self.token = path, claim, token
        self.released = False

    def write(self, write: Callable[[BinaryIO], None]) -> Path:
        """Write the output atomically (never over an existing file) and release the claim."""
        try:
            return atomic_write(self.path, write, replace=False)
        finally:
            self.release()

    def save_png(self, img: Image.Image | torch.Tensor | np.ndarray) -> Path:
        """Save a picture as the output (see ``save_png_atomic``) and release the claim."""
        pil = _as_pil(img)
        return self.write(lambda f: pil.save(f, format="PNG"))

    def release(self) -> None:
        """Drop the claim (only if it is still this one's). Safe to call twice."""
        if self.released:
            return
        self.released = True
        data = _read_claim(self.claim_path)
        if data is not None and data.get("token") == self.token:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.claim_path)

    def __enter__(self) -> OutputClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"OutputClaim({str(self.path)!r}{', released' if self.released else ''})"


def _take_over(claim: Path) -> bool:
    """Remove a stale claim so that it can be created again; False if a live one was there.

    The claim is first renamed to a unique name (only one taker succeeds), then checked
    again: if a live process had claimed it in between, it is put back.
    """
    before = _read_claim(claim)
    aside = claim.with_name(f"{claim.name}.{os.getpid()}-{secrets.token_hex(4)}.stale")
    try:
        os.rename(claim, aside)
    except FileNotFoundError:
        return True  # already gone: try to create it
    moved = _read_claim(aside)
    if moved != before or (moved is not None and not _claimant_gone(moved)):
        with contextlib.suppress(OSError):
            os.link(aside, claim)  # put a live claim back, unless someone claimed it meanwhile
        os.unlink(aside)
        return False
    os.unlink(aside)
    return True


def claim_output(path: PathLike) -> OutputClaim | None:
    """Claim ``path`` for writing, so that two processes never paint the same output.

    Returns None when ``path`` exists or a live process holds the claim; a claim left by a
    process that has ended (on this machine) is taken over. A claim held by a process on
    another machine (a shared folder) is honoured until it is released or removed by hand.
    """
    path = Path(path)
    claim = _claim_path(path)
    token = secrets.token_hex(8)
    body = json.dumps({"pid": os.getpid(), "host": _HOST, "token": token, "time": time.time()}).encode()
    for _ in range(3):
        if path.exists():
            return None
        try:
            fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if _claim_is_stale(claim) and _take_over(claim):
                continue
            return None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
        except BaseException:  # a full disk: an empty claim would block the output for a while
            with contextlib.suppress(OSError):
                os.unlink(claim)
            raise
        if path.exists():  # finished by another process between the check and the claim
            OutputClaim(path, claim, token).release()
            return None
        return OutputClaim(path, claim, token)
    return None

