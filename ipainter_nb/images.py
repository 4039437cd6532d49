"""Conversions at the edges: PIL / numpy / files <-> the core's tensors.

The core works on float tensors in [-1, 1] (images) and {0, 1} (keep masks, 1 = keep the
known pixel, 0 = generate, as RePaint's ``gt_keep_mask``). Everything that touches PIL,
uint8 arrays or the file system goes through this module so the conventions live in one
place:

- ``pil_to_tensor`` / ``tensor_to_pil`` / ``tensor_to_uint8``: images.
- ``mask_to_pil`` / ``load_mask``: keep masks; on disk white = keep.
- ``load_rgba``: loading a landmark cutout robustly, with clear errors and warnings.
- ``save_png_atomic`` / ``write_bytes_atomic`` / ``write_text_atomic``: crash-safe writes.
- ``make_grid``: several samples side by side.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageLoadError",
    "ImageLoadWarning",
    "MIN_CUTOUT_SIZE",
    "pil_to_tensor",
    "tensor_to_pil",
    "tensor_to_uint8",
    "mask_to_pil",
    "load_mask",
    "load_rgba",
    "save_png_atomic",
    "atomic_write",
    "write_bytes_atomic",
    "write_text_atomic",
    "make_grid",
]

PathLike = Union[str, os.PathLike]

#: A cutout smaller than this on either side is rejected: it would vanish on the canvas
#: and cannot be picked with the mouse.
MIN_CUTOUT_SIZE = 4


class ImageLoadError(ValueError):
    """A cutout could not be used; the message names the file and the reason."""


class ImageLoadWarning(UserWarning):
    """A cutout was usable only after a conversion (no alpha, 16-bit, downscaled...)."""


# --------------------------------------------------------------------------- tensors


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """A PIL image as a (3, H, W) float32 tensor in [-1, 1].

    Alpha is dropped (not composited): callers that care about transparency composite
    first, as ``Composition.render`` does.
    """
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr / 127.5 - 1.0).permute(2, 0, 1).contiguous()


def tensor_to_uint8(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) -> (H, W, 3) or (N, 3, H, W) -> (N, H, W, 3) uint8, clamping to [-1, 1]."""
    if t.dim() not in (3, 4) or t.shape[-3] != 3:
        raise ValueError(f"expected a (3,H,W) or (N,3,H,W) tensor, got shape {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float32).clamp(-1.0, 1.0)
    # round() rather than truncation so that pil_to_tensor -> tensor_to_uint8 is exact.
    u8 = ((t + 1.0) * 127.5).round().to(torch.uint8)
    return u8.movedim(-3, -1).contiguous().numpy()


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """A (3, H, W) or (1, 3, H, W) tensor in [-1, 1] as an RGB PIL image (values clamped)."""
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(
                f"tensor_to_pil takes one image, got a batch of {t.shape[0]}; use make_grid"
            )
        t = t[0]
    return Image.fromarray(tensor_to_uint8(t))


def _mask_array(keep: torch.Tensor | np.ndarray) -> np.ndarray:
    """Any (H,W), (1,H,W) or (1,1,H,W) keep mask as a bool (H, W) array."""
    arr = keep.detach().cpu().numpy() if isinstance(keep, torch.Tensor) else np.asarray(keep)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"expected a (H,W), (1,H,W) or (1,1,H,W) mask, got shape {keep.shape}")
    return arr > 0.5


def mask_to_pil(keep: torch.Tensor | np.ndarray) -> Image.Image:
    """A keep mask as a mode "L" image: white (255) = keep, black (0) = generate."""
    return Image.fromarray(_mask_array(keep).astype(np.uint8) * 255)


def _size_tuple(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    w, h = size
    return (int(w), int(h))


def load_mask(
    path: PathLike | Image.Image, size: int | tuple[int, int] | None = None
) -> torch.Tensor:
    """Read a keep mask PNG (white = keep) as a (1, H, W) float32 tensor of {0, 1}.

    Accepts modes L, 1, RGB, RGBA (and anything PIL converts to L). Pixels brighter than
    127 are kept. Transparent pixels of an RGBA/LA mask count as black (generate), since a
    mask drawn on a transparent layer means "keep what I painted". ``size`` (an int or
    (W, H)) resizes with nearest neighbour so the mask stays binary.
    """
    img = path if isinstance(path, Image.Image) else Image.open(path)
    try:
        img.load()
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            grey = Image.alpha_composite(black, rgba).convert("L")
        else:
            grey = img.convert("L")
    finally:
        if img is not path:
            img.close()
    if size is not None:
        grey = grey.resize(_size_tuple(size), Image.Resampling.NEAREST)
    arr = np.asarray(grey) > 127
    return torch.from_numpy(arr.astype(np.float32))[None]


# --------------------------------------------------------------------------- cutouts


def _warn(msg: str) -> None:
    # stacklevel=3: point at the caller of load_rgba, not at this helper.
    warnings.warn(msg, ImageLoadWarning, stacklevel=3)


def _scale_high_bit_depth(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer and float greyscale to 8-bit "L", scaling the range."""
    arr = np.asarray(img)
    if img.mode == "F":
        arr = arr.astype(np.float64)
        # Float images are conventionally 0..1; anything larger is taken as 0..255.
        peak = 1.0 if np.nanmax(arr, initial=0.0) <= 1.0 else 255.0
        out = np.nan_to_num(arr) / peak * 255.0
    else:
        # "I;16*" and "I" (how older Pillow opens 16-bit PNGs) hold 0..65535 values.
        out = arr.astype(np.float64) / 257.0
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _to_rgba(img: Image.Image, label: str) -> Image.Image:
    """Convert any mode to RGBA, warning about what was done when it was not RGBA."""
    mode = img.mode
    if mode == "RGBA":
        return img
    has_trns = "transparency" in img.info
    if mode in ("I", "F") or mode.startswith("I;16"):
        trns = img.info.get("transparency")
        l8 = _scale_high_bit_depth(img)
        out = l8.convert("RGBA")
        if isinstance(trns, int):
            # The transparent grey value is given in the original (16-bit) scale.
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
            _warn(f"{label}: {kind} image converted to RGBA; its transparent colour is kept "
                  "transparent")
        else:
            _warn(f"{label}: {kind} image has no alpha channel; treated as fully opaque "
                  "(the whole rectangle will be kept). Use a PNG with transparency to cut "
                  "out a shape")
        return out
    # CMYK, YCbCr, LAB, HSV, ...: through RGB.
    _warn(f"{label}: {mode} image converted to RGB and treated as fully opaque")
    return img.convert("RGB").convert("RGBA")


def load_rgba(
    path_or_bytes: PathLike | bytes | bytearray | BinaryIO | Image.Image,
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
    if isinstance(src, Image.Image):
        label = name or src.info.get("filename") or "image"
        img = src
    else:
        if isinstance(src, (bytes, bytearray, memoryview)):
            label, data = name or "uploaded image", bytes(src)
        elif hasattr(src, "read"):
            label, data = name or getattr(src, "name", None) or "image", src.read()
        else:
            p = Path(src)
            label = name or str(p)
            try:
                data = p.read_bytes()
            except FileNotFoundError:
                raise ImageLoadError(f"{label}: file not found") from None
            except IsADirectoryError:
                raise ImageLoadError(f"{label}: is a folder, not an image file") from None
            except OSError as e:
                raise ImageLoadError(f"{label}: cannot be read ({e.strerror or e})") from None
        try:
            img = Image.open(io.BytesIO(data))
            if max_size is not None and img.format == "JPEG":
                # Let the JPEG decoder skip detail we would throw away when downscaling.
                img.draft("RGB", (max_size, max_size))
            img.load()  # decode now so truncated files fail here, not later
        except Image.DecompressionBombError:
            raise ImageLoadError(
                f"{label}: image is too large to open safely (over "
                f"{Image.MAX_IMAGE_PIXELS * 2} pixels)"
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise ImageLoadError(
                f"{label}: not a readable image (a PNG with an alpha channel is expected)"
                f" [{type(e).__name__}]"
            ) from None

    # Photos carry their orientation in EXIF; show them the way the user sees them.
    img = ImageOps.exif_transpose(img)
    w, h = img.size
    if min(w, h) < MIN_CUTOUT_SIZE:
        raise ImageLoadError(
            f"{label}: image is {w}x{h} px; a cutout must be at least "
            f"{MIN_CUTOUT_SIZE}x{MIN_CUTOUT_SIZE} px"
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
        _warn(f"{label}: image is {w}x{h} px, larger than max_size={max_size}; "
              f"downscaled to {new[0]}x{new[1]} px")

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


def atomic_write(path: PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write via a temp file in the same folder, then ``os.replace`` it over ``path``.

    ``os.replace`` is atomic on one file system, so readers see either the old file or the
    complete new one; if ``write`` raises, the temp file is removed and the old file stays.
    """
    path = Path(path)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes 0600 files; give the result the permissions a plain open() would.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``. Returns the path."""
    return atomic_write(path, lambda f: f.write(data))


def write_text_atomic(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Atomically replace ``path`` with ``text``. Returns the path."""
    return write_bytes_atomic(path, text.encode(encoding))


def save_png_atomic(
    img_or_tensor: Image.Image | torch.Tensor | np.ndarray, path: PathLike
) -> Path:
    """Save a PIL image, an image tensor in [-1, 1] or a uint8 array as PNG, atomically.

    A crash or an error mid-write never leaves a half-written ``path`` behind. Keep masks
    are not images: save them with ``save_png_atomic(mask_to_pil(keep), path)``.
    """
    obj = img_or_tensor
    if isinstance(obj, torch.Tensor):
        img = tensor_to_pil(obj)
    elif isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8:
            raise ValueError(f"expected a uint8 array, got {obj.dtype}")
        img = Image.fromarray(obj)
    elif isinstance(obj, Image.Image):
        img = obj
    else:
        raise TypeError(f"expected a PIL image, tensor or uint8 array, got {type(obj).__name__}")
    return atomic_write(path, lambda f: img.save(f, format="PNG"))


# --------------------------------------------------------------------------- grids


def make_grid(
    images: torch.Tensor | Sequence[torch.Tensor],
    nrow: int = 8,
    gap: int = 2,
    fill: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Tile (N, 3, H, W) images in [-1, 1] into one RGB picture, ``nrow`` per row.

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
