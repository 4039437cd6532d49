"""Conversions between PIL images, numpy arrays and the core's tensors.

Images inside the core are float tensors in [-1, 1] (NCHW); keep masks are {0, 1} (1 = keep
the known pixel, as RePaint's ``gt_keep_mask``). Every PIL mode is read by its real range
(see the package docstring of ``ipainter_nb.images``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ..checks import shown
from ..errors import UserInputError
from ..public import public_names

__all__ = ["MASK_THRESHOLD", "image_argument", "pixels_argument", "pil_to_tensor", "quantize_uint8", "uint8_to_tensor",
           "tensor_to_uint8", "tensor_to_pil", "upscale_nearest", "mask_to_pil", "make_grid", "MAX_UPSCALED_SIDE"]

#: Pixels brighter than this (0..255 scale) in a mask are kept.
MASK_THRESHOLD = 127

# --------------------------------------------------------------------------- the arguments


def image_argument(name: str, value: object) -> Image.Image:
    """``value`` if it is a PIL image, else one ``UserInputError`` naming the argument and what it got.

    Args:
        name: the argument's name in the message.
        value: the argument.
    """
    if not isinstance(value, Image.Image):
        raise UserInputError(f"{name} must be a PIL image (e.g. PIL.Image.open(path)), got {type(value).__name__}")
    return value


def pixels_argument(name: str, value: object) -> torch.Tensor:
    """``value`` (a tensor or a numpy array of real numbers or bools, with its values) as a tensor of its
    own dtype, else one ``UserInputError`` (``core.arguments.as_tensor`` then picks the dtype to compute in).

    Args:
        name: the argument's name in the message.
        value: the argument.
    """
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind not in "biuf":
            raise UserInputError(f"{name} must hold real numbers, got a numpy array of {value.dtype}")
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise UserInputError(f"{name} must be a torch tensor or numpy array, got {type(value).__name__} {shown(value)}")
    if value.is_meta:
        raise UserInputError(f"{name} is a meta tensor (a shape without values): pass a tensor that holds its values")
    if value.is_complex():
        raise UserInputError(f"{name} must hold real numbers, got {value.dtype}")
    return value


# --------------------------------------------------------------------------- tensors


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """A PIL image as a (3, H, W) float32 tensor in [-1, 1], every mode by its real range.

    Alpha is dropped (not composited): callers that care about transparency composite
    first, as ``Composition.render`` does.

    Args:
        img: the image.
    """
    arr = np.asarray(_as_rgb(image_argument("img", img)), dtype=np.float32)
    return torch.from_numpy(arr / 127.5 - 1.0).permute(2, 0, 1).contiguous()


def _check_image_shape(t: torch.Tensor | np.ndarray) -> None:
    if t.ndim not in (3, 4) or t.shape[-3] != 3:
        raise UserInputError(f"expected a (3,H,W) or (N,3,H,W) image tensor, got shape {tuple(t.shape)}")


def quantize_uint8(t: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as a uint8 tensor of the same shape on the CPU (values clamped).

    A uint8 tensor is returned as is (on the CPU). Rounded, not truncated, so that
    ``pil_to_tensor`` -> ``quantize_uint8`` gives the original bytes back. Done in numpy:
    torch spreads even this small op over its thread pool, which costs far more than the
    op itself on a CPU that is busy running the model in another thread.

    Args:
        t: images in [-1, 1] (any shape), or a uint8 tensor.
    """
    a = pixels_argument("t", t).detach().cpu()
    if a.dtype == torch.uint8:
        return a
    f = a.numpy() if a.dtype == torch.float32 else a.float().numpy()
    finite = np.isfinite(f)
    if not finite.all():  # NaN would be cast to an arbitrary byte (black, silently) and inf clipped to white
        raise UserInputError(f"the picture holds {int(f.size - finite.sum())} non-finite values (NaN or inf) of {f.size}: "
                             "a picture's values are numbers in [-1, 1]; find where they were made (a model or an "
                             "operation that overflowed)")
    return torch.from_numpy(np.rint((np.clip(f, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8))


def uint8_to_tensor(u8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The inverse of ``quantize_uint8``: uint8 values as float32 in [-1, 1], same shape.

    Args:
        u8: uint8 values (tensor or array).
    """
    a = pixels_argument("u8", u8)
    if a.dtype != torch.uint8:
        raise UserInputError(f"expected uint8 values, got {a.dtype}")
    return a.float() / 127.5 - 1.0


def tensor_to_uint8(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) -> (H, W, 3) or (N, 3, H, W) -> (N, H, W, 3) uint8 array.

    Takes float images in [-1, 1] (clamped) or uint8 tensors (as ``quantize_uint8`` makes).

    Args:
        t: one image (3, H, W) or a batch (N, 3, H, W).
    """
    t = pixels_argument("t", t)
    _check_image_shape(t)
    return np.ascontiguousarray(np.moveaxis(quantize_uint8(t).numpy(), -3, -1))


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """A (3, H, W) or (1, 3, H, W) tensor in [-1, 1] (or uint8) as an RGB PIL image.

    Args:
        t: the image.
    """
    t = pixels_argument("t", t)
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise UserInputError(f"tensor_to_pil takes one image, got a batch of {t.shape[0]}; use make_grid")
        t = t[0]
    return Image.fromarray(tensor_to_uint8(t))


#: The largest side ``upscale_nearest`` makes (a 256² picture 64 times over).
MAX_UPSCALED_SIDE = 1 << 14


def upscale_nearest(img: Image.Image, factor: int) -> Image.Image:
    """``img`` enlarged ``factor`` times with nearest neighbour: each pixel a crisp square.

    Args:
        img: the image.
        factor: the whole-number enlargement.
    """
    image_argument("img", img)
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)) or not factor >= 1 \
            or not math.isfinite(factor) or int(factor) != factor:
        raise UserInputError(f"factor must be a whole number >= 1, got {factor!r}")
    factor = int(factor)
    if max(img.size) * factor > MAX_UPSCALED_SIDE:
        raise UserInputError(f"factor={factor} would make the {img.width}x{img.height} image {img.width * factor}x"
                             f"{img.height * factor} px, more than {MAX_UPSCALED_SIDE} px a side; use a smaller factor")
    if factor == 1:
        return img
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def _mask_array(keep: torch.Tensor | np.ndarray) -> np.ndarray:
    """Any (H,W), (1,H,W) or (1,1,H,W) keep mask as a bool (H, W) array."""
    # .float(): numpy holds no bfloat16 or float8
    arr = pixels_argument("keep", keep).detach().cpu().float().numpy()
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise UserInputError(f"expected a (H,W), (1,H,W) or (1,1,H,W) mask, got shape {tuple(keep.shape)}")
    return arr > 0.5


def mask_to_pil(keep: torch.Tensor | np.ndarray) -> Image.Image:
    """A keep mask as a mode "L" image: white (255) = keep, black (0) = generate.

    Args:
        keep: one mask (1 = keep), as a tensor or an array.
    """
    return Image.fromarray(_mask_array(keep).astype(np.uint8) * 255)


def make_grid(
    images: torch.Tensor | Sequence[torch.Tensor],
    nrow: int = 8,
    gap: int = 2,
    fill: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Tile (N, 3, H, W) images (in [-1, 1], or uint8) into one RGB picture, ``nrow`` per row.

    Images are separated by a ``gap``-pixel line of ``fill`` (no outer border).

    Args:
        images: the images.
        nrow: images per row.
        gap: pixels between images.
        fill: the gap's colour (RGB).
    """
    if isinstance(images, (torch.Tensor, np.ndarray)):
        batch = pixels_argument("images", images)
    elif isinstance(images, Sequence) and images:
        batch = [pixels_argument(f"images[{i}]", im) for i, im in enumerate(images)]
        if len({tuple(im.shape) for im in batch}) > 1:
            raise UserInputError(f"images must all have one shape to be tiled, got {sorted({tuple(im.shape) for im in batch})}")
        batch = torch.stack(batch)
    else:
        raise UserInputError(f"images must be a tensor (N,3,H,W) or a non-empty list of (3,H,W) images, got {images!r:.60}")
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise UserInputError(f"nrow must be a whole number >= 1, got {nrow!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or not 0 <= gap <= 1000:
        raise UserInputError(f"gap must be a whole number of pixels in 0..1000, got {gap!r}")
    channel = (int, np.integer)
    if not (isinstance(fill, (tuple, list)) and len(fill) == 3
            and all(isinstance(c, channel) and not isinstance(c, bool) and 0 <= c <= 255 for c in fill)):
        raise UserInputError(f"fill must be an (R, G, B) colour of three whole numbers in 0..255, got {fill!r}")
    if batch.dim() == 3:
        batch = batch[None]
    arr = tensor_to_uint8(batch)  # (N, H, W, 3)
    n, h, w, _ = arr.shape
    if n == 0:
        raise UserInputError("make_grid needs at least one image")
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


def _convert(img: Image.Image, mode: str) -> Image.Image:
    """``img.convert(mode)`` without PIL's palette-transparency warning: the conversions of
    this module handle a palette's transparency on purpose, so it asks nothing of a user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Palette images with Transparency", category=UserWarning)
        return img.convert(mode)


def _as_rgb(img: Image.Image) -> Image.Image:
    """Any mode as RGB (alpha dropped), high bit depths by their real range."""
    if img.mode == "RGB":
        return img
    if _is_high_bit_depth(img):
        img = _high_bit_depth_to_l(img)
    return _convert(img, "RGB")


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
        rgba = _convert(img, "RGBA")
        arr = np.asarray(rgba)
        if arr[..., :3].min() == arr[..., :3].max() and arr[..., 3].min() != arr[..., 3].max():
            # one flat colour everywhere: the mask lives in the alpha channel alone (opaque = keep),
            # as masks exported as "alpha only" are; over black, flat black would keep nothing
            return Image.fromarray(np.ascontiguousarray(arr[..., 3]))
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("L")
    return img.convert("L")


public_names(globals())  # after every public definition
