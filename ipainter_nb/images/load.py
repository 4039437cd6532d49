"""Reading image files: pictures, keep masks and cutouts, every PIL mode by its real range.

Each function names the file and the fix when it refuses one (``ImageLoadError``). A
picture bigger than Pillow's safety limit but still readable is read with one
``ImageLoadWarning`` that names the file (never Pillow's own ``DecompressionBombWarning``).
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ipainter_nb.checks import check_path, printable, shown
from ipainter_nb.errors import UserInputError, warn_caller

from ..public import public_names
from .convert import (
    MASK_THRESHOLD,
    _as_grey_over_black,
    _as_rgb,
    _convert,
    _high_bit_depth_to_l,
    _is_high_bit_depth,
    image_argument,
    pil_to_tensor,
)

__all__ = ["IMAGE_SUFFIXES", "MIN_CUTOUT_SIZE", "MAX_IMAGE_FILE_BYTES", "ImageLoadError", "ImageLoadWarning",
           "ImageSizeError", "MAX_PICTURE_SIDE", "picture_size", "read_bounded", "open_image", "centre_square", "load_picture", "load_mask",
           "load_picture_and_mask", "load_rgba", "check_cutout"]

PathLike = str | os.PathLike
ImageSource = PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image

#: File suffixes read as pictures (lower case). A still GIF is a picture; animated ones are
#: refused when opened.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")

#: A cutout smaller than this on either side is rejected: it would vanish on the canvas
#: and cannot be picked with the mouse.
MIN_CUTOUT_SIZE = 4


class ImageLoadError(UserInputError):
    """An image file could not be used; the message names the file, the reason and the fix."""


class ImageLoadWarning(UserWarning):
    """An image was usable only after a conversion (no alpha, 16-bit, downscaled, very large...)."""


# --------------------------------------------------------------------------- opening files


def _label_of(src: ImageSource, name: str | None) -> str:
    if name is not None and not isinstance(name, str):
        raise UserInputError(f"name must be a str (the image's name in messages) or None, got {type(name).__name__}")
    if name:
        return printable(name)
    if isinstance(src, Image.Image):
        return printable(src.info.get("filename") or "image")
    if isinstance(src, (bytes, bytearray, memoryview)):
        return "uploaded image"
    if hasattr(src, "read"):
        return printable(str(getattr(src, "name", None) or "image"))
    return printable(str(src))  # a newline in a file name would break the message's one line


#: The largest picture file read (a 100-megapixel 16-bit TIFF is about 600 MB).
MAX_IMAGE_FILE_BYTES = 1 << 30


def read_bounded(path: PathLike, max_bytes: int, label: str, error: type[UserInputError] = UserInputError) -> bytes:
    """The bytes of the regular file ``path``, or ``error`` naming ``label`` and the problem.

    A device or pipe (``/dev/zero``, a FIFO) would be read forever, and a file larger than
    ``max_bytes`` (a sparse file of terabytes named like a picture) would fill the memory:
    both are refused before reading.

    Args:
        path: the file.
        max_bytes: the largest size read.
        label: the file's name in messages.
        error: the exception class raised.

    Returns:
        The file's bytes.
    """
    check_path("the file", path, error=error)  # never an int: os.stat(1) and open(1) are the process's stdout
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
    """An image whose size (read from its header, orientation applied) is not the one needed.

    Args:
        label: the image's name in messages.
        size: its (W, H).
        needed: the (W, H) needed.
    """

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


def _open_bounded(data: bytes, label: str) -> Image.Image:
    """``Image.open`` that says Pillow's size warning in the toolkit's words, naming the file.

    Pillow warns (``DecompressionBombWarning``) about a picture of more than
    ``Image.MAX_IMAGE_PIXELS`` pixels and refuses one of more than twice that; the warning
    says neither which file it is nor what to do, and it would print in Python's two-line
    format before the toolkit's own message.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        img = Image.open(io.BytesIO(data))
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            width, height = img.size
            _warn(f"{label}: a very large picture ({width}x{height}, {width * height:,} pixels, over Pillow's safety "
                  f"limit of {Image.MAX_IMAGE_PIXELS:,}): reading it takes much memory and time; downscale it if "
                  "that is not intended")
        else:  # not ours to judge: pass it on as it came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return img


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

    Args:
        src: a path, bytes, a binary file object or a PIL image.
        name: the image's name in messages (default: the file name).
        draft_size: the size it will be reduced to, or None.
        expect_size: the (W, H) it must have, or None.

    Returns:
        The decoded image.
    """
    label = _label_of(src, name)
    if expect_size is not None:
        expect_size = picture_size("expect_size", expect_size)
    if draft_size is not None:
        draft_size = picture_size("draft_size", draft_size, pair=False)[0]
    if isinstance(src, Image.Image):
        img = src
    else:
        data = _read_bytes(src, label)
        try:
            img = _open_bounded(data, label)
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
    if 0 in img.size:
        raise ImageLoadError(f"{label}: an empty image ({img.size[0]}x{img.size[1]} pixels); a picture needs at least one pixel")
    if getattr(img, "n_frames", 1) > 1:
        raise ImageLoadError(
            f"{label}: an animated image ({img.n_frames} frames); save the frame you mean as a PNG"
        )
    # Photos carry their orientation in EXIF; use them the way the user sees them.
    return ImageOps.exif_transpose(img)


#: The largest side a picture or mask is read at or resized to.
MAX_PICTURE_SIDE = 1 << 14


def picture_size(name: str, size: object, pair: bool = True) -> tuple[int, int]:
    """``size`` (a whole number, or with ``pair`` a (width, height) pair of them, each in
    1..:data:`MAX_PICTURE_SIDE`) as ``(W, H)``, else one ``UserInputError`` naming the argument,
    the value and the range.

    Args:
        name: the argument's name in the message.
        size: the size.
        pair: a (width, height) pair is allowed.
    """
    def side(value: object) -> int | None:
        whole = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        return int(value) if whole and 1 <= value <= MAX_PICTURE_SIDE else None  # type: ignore[operator]

    given = (size, size) if not isinstance(size, (tuple, list)) else tuple(size) if pair else ()
    sides = [side(v) for v in given] if len(given) == 2 else [None]
    if None in sides:
        what = "a whole number of pixels or a (width, height) pair of them, each" if pair else "a whole number of pixels"
        raise UserInputError(f"{name}={shown(size)} is invalid: it must be {what} in 1..{MAX_PICTURE_SIDE}")
    return sides[0], sides[1]  # type: ignore[return-value]


def centre_square(img: Image.Image) -> Image.Image:
    """The largest centred square of ``img`` (a crop, no scaling).

    Args:
        img: the image.
    """
    w, h = image_argument("img", img).size
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
    centred square is resized to ``size`` (how training folders are read). A picture that
    is converted from another mode (palette, 16-bit, LA, RGBA, CMYK, ...) or cropped and
    resized gets one ``ImageLoadWarning`` naming it and saying what was done.

    Args:
        src: a path, bytes, a binary file object or a PIL image.
        size: an int or (W, H), or None for the picture's own size.
        fit: ``"exact"`` or ``"crop"``.
        name: the picture's name in messages.
    """
    label = _label_of(src, name)
    if fit not in ("exact", "crop"):
        raise UserInputError(f"fit={shown(fit)} is invalid: it must be 'exact' (the picture has the size already) or "
                             "'crop' (its centred square resized to the size)")
    want = None if size is None else picture_size("size", size)
    img = open_image(src, name=label, expect_size=want if fit == "exact" else None)
    done = [_picture_mode_change(img)]
    if want is not None:
        if fit == "crop":
            done.append(_crop_and_resize(img.size, want))
            img = _as_rgb(centre_square(img)).resize(want, Image.Resampling.BICUBIC, reducing_gap=3.0)
        elif img.size != want:  # fit="exact", a PIL image given directly: no header was read
            raise ImageSizeError(label, img.size, want)
    said = [what for what in done if what]
    if said:  # one line per picture, whatever was done to it
        _warn(f"{label}: {'; '.join(said)}")
    return pil_to_tensor(img)


def _picture_mode_change(img: Image.Image) -> str:
    """What reading ``img`` as an RGB picture does to it, in words ("" when nothing a user would miss)."""
    mode = img.mode
    if mode in ("RGB", "L", "1"):
        return ""  # the same pixels (greyscale and 1-bit copied into three channels)
    if _is_high_bit_depth(img):
        depth = "16-bit" if mode.startswith("I;16") else "32-bit"
        return f"{mode} ({depth}) greyscale picture scaled to 8 bits and converted to RGB"
    if mode in ("P", "PA"):
        dropped = " (its transparency is ignored)" if mode == "PA" or "transparency" in img.info else ""
        return f"palette picture converted to RGB{dropped}"
    if mode in ("RGBA", "RGBa") and img.getchannel("A").getextrema()[0] == 255:
        return ""  # an opaque alpha channel: the same pixels
    if mode in ("LA", "La", "RGBA", "RGBa"):
        return f"{mode} picture converted to RGB (its alpha channel is ignored)"
    return f"{mode} picture converted to RGB"


def _crop_and_resize(size: tuple[int, int], want: tuple[int, int]) -> str:
    """What ``fit="crop"`` does to a picture of ``size``, in words ("" when it already is ``want``)."""
    (w, h), side = size, min(size)
    if (w, h) == want:
        return ""
    said = [f"centre-cropped from {w}x{h} to {side}x{side}"] if w != h else []
    if (side, side) != want:
        said.append(f"{'downscaled' if side > min(want) else 'upscaled'} from {side}x{side} to {want[0]}x{want[1]}")
    return " and ".join(said)


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

    Args:
        src: a path, bytes, a binary file object or a PIL image.
        size: an int or (W, H) the mask must have, or None.
        name: the mask's name in messages.
    """
    want = None if size is None else picture_size("size", size)
    grey = _as_grey_over_black(open_image(src, name=name))
    if want is not None:
        grey = grey.resize(want, Image.Resampling.NEAREST)
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

    Args:
        image_path: the picture.
        mask_path: its mask (white = keep).
        size: the size both must have (an int or (W, H)), or None.
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
    warn_caller(msg, ImageLoadWarning)


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
        out = _convert(img, "RGBA")
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

    Args:
        path_or_bytes: the cutout.
        max_size: the largest side kept (larger images are downscaled; None: any size).
        name: the cutout's name in messages.
    """
    src = path_or_bytes
    label = _label_of(src, name)
    if max_size is not None:
        max_size = picture_size("max_size", max_size, pair=False)[0]
    img = open_image(src, name=label, draft_size=max_size)
    w, h = img.size
    rgba = _to_rgba(img, label)
    check_cutout(rgba, label)
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
    return rgba


def check_cutout(img: Image.Image, label: str) -> None:
    """Refuse an RGBA image that cannot be a cutout: smaller than :data:`MIN_CUTOUT_SIZE` on a side,
    or fully transparent (``ImageLoadError`` naming ``label``). What ``load_rgba`` reads and what a
    ``Layer`` holds are the same cutouts, so a composition saved is one that loads.

    Args:
        img: the image (RGBA).
        label: its name in messages.
    """
    w, h = image_argument("img", img).size
    if min(w, h) < MIN_CUTOUT_SIZE:
        raise ImageLoadError(f"{label}: image is {w}x{h} px; a cutout must be at least {MIN_CUTOUT_SIZE}x{MIN_CUTOUT_SIZE} px")
    if img.getchannel("A").getextrema()[1] == 0:
        raise ImageLoadError(f"{label}: image is fully transparent; nothing to place")


public_names(globals())  # after every public definition
