"""The checks every public function applies to its arguments, each written once.

Each check returns the value in the form the code uses (a float, an int, a float tensor) or
raises one ``UserInputError`` naming the argument, the value, the allowed range and the fix,
so ``paint()``, the schedule builders, the frequency measures and the exact model refuse the
same mistakes with the same words.

It also holds the one definition of a keep mask (:func:`check_keep`, :func:`kept`): a mask
holds only 0 (generate) and 1 (keep), and a pixel is kept where its value is 1. A soft mask is
refused everywhere rather than read by a threshold, which would silently mix known and
generated pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch

from ..checks import as_float, shown
from ..errors import UserInputError
from ..images.convert import pixels_argument
from ..public import public_names
from .composition_checks import MAX_CANVAS_SIDE

__all__ = [
    "MAX_IMAGE_SIDE",
    "as_tensor",
    "check_finite",
    "is_real",
    "check_whole",
    "check_real",
    "check_flag",
    "check_function",
    "check_generator",
    "COMPUTE_DTYPES",
    "check_float_dtype",
    "check_side",
    "MAX_BATCH_VALUES",
    "check_batch",
    "check_keep",
    "kept",
    "check_picture",
]

#: The floating-point dtypes PyTorch computes in. The float8 types are floating point too, but only
#: a storage format: most operations (noise, activations, isfinite) are not implemented for them.
COMPUTE_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

#: Largest picture side a public function accepts (the canvas limit: the published models paint 256).
MAX_IMAGE_SIDE = MAX_CANVAS_SIDE


P = ParamSpec("P")
R = TypeVar("R")


def as_tensor(name: str, value: Any) -> torch.Tensor:
    """``value`` (a tensor or numpy array of real numbers or bools) as a tensor of one of ``COMPUTE_DTYPES``
    (integers, bools and float8 values become float32, which holds each of them exactly).

    Args:
        name: the argument's name in messages.
        value: the argument.
    """
    value = pixels_argument(name, value)
    if value.dtype == torch.bool:
        return value.float()
    return value if value.dtype in COMPUTE_DTYPES else value.float()


def check_finite(name: str, value: torch.Tensor) -> torch.Tensor:
    """``value`` itself, or a ``UserInputError`` counting its NaN and inf values.

    Args:
        name: the argument's name in messages.
        value: a floating-point tensor.
    """
    bad = int((~torch.isfinite(value)).sum())
    if bad:
        nans = int(torch.isnan(value).sum())
        raise UserInputError(f"{name} holds {bad} non-finite values ({nans} NaN, {bad - nans} inf) of {value.numel()}: "
                             f"fix the input (e.g. torch.nan_to_num({name}) or reload it)")
    return value


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number where a number goes: an int or float, Python's or numpy's.

    Not a bool (an int to Python: ``True`` as a number is a mistake), and not a container of one
    number (a 0-d or one-element array or tensor, which ``float()`` would read too) or a ``Decimal``.

    Args:
        value: the argument.
    """
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_whole(name: str, value: Any, lowest: int, below: int | None = None) -> int:
    """``value`` as an int in ``lowest..below-1`` (no upper limit with ``below=None``).

    Args:
        name: the argument's name in messages.
        value: the argument (an int or numpy integer; bools are refused).
        lowest: the smallest value allowed.
        below: one more than the largest value allowed, or None.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserInputError(f"{name} must be a whole number, got {type(value).__name__} {shown(value)}")
    value = int(value)
    if value < lowest or (below is not None and value >= below):
        limit = f"in {lowest}..{below - 1}" if below is not None else f"at least {lowest}"
        raise UserInputError(f"{name}={value} is out of range: it must be {limit}")
    return value


def check_real(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *, low_open: bool = False,
               high_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite float in ``[low, high]`` (an open end with ``low_open``, ``high_open``).

    Args:
        name: the argument's name in messages.
        value: the argument (an int, float or numpy number; bools, NaN and inf are refused).
        low: the smallest value allowed.
        high: the largest value allowed.
        low_open: refuse ``low`` itself.
        high_open: refuse ``high`` itself.
        hint: what the value means, added to the message.
    """
    if not is_real(value):
        raise UserInputError(f"{name} must be a number, got {type(value).__name__} {shown(value)}")
    number = as_float(value)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        ends = ("(" if low_open else "[", ")" if high_open else "]")
        more = f" ({hint})" if hint else ""
        raise UserInputError(f"{name}={value!r} is out of range: it must be a finite number in "
                             f"{ends[0]}{low:g}, {high:g}{ends[1]}{more}")
    return number


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is True or False (numpy bools too), else a ``UserInputError``.

    Args:
        name: the argument's name in messages.
        value: the argument.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise UserInputError(f"{name} must be True or False, got {type(value).__name__} {shown(value)}")
    return bool(value)


def check_function(name: str, value: Any) -> Callable[..., Any] | None:
    """``value`` if it is callable or None, else a ``UserInputError``.

    Args:
        name: the argument's name in messages.
        value: the argument.
    """
    if value is not None and not callable(value):
        raise UserInputError(f"{name} must be a function (or None), got {type(value).__name__} {shown(value)}")
    return value


def check_generator(value: Any, name: str = "generator") -> torch.Generator | None:
    """``value`` if it is a ``torch.Generator`` or None, else a ``UserInputError``.

    Args:
        value: the argument.
        name: the argument's name in messages.
    """
    if value is not None and not isinstance(value, torch.Generator):
        raise UserInputError(f"{name} must be a torch.Generator (or None), got {type(value).__name__} {shown(value)}")
    return value


def check_float_dtype(value: Any, name: str = "dtype") -> torch.dtype:
    """``value`` if it is one of ``COMPUTE_DTYPES``, else a ``UserInputError``.

    Args:
        value: the argument.
        name: the argument's name in messages.
    """
    if isinstance(value, torch.dtype) and value in COMPUTE_DTYPES:
        return value
    what = ("a storage format PyTorch cannot compute in" if isinstance(value, torch.dtype) and value.is_floating_point
            else "not a floating-point torch dtype")
    raise UserInputError(f"{name}={value!r} is {what}: use torch.float32 (or float16/bfloat16 on a GPU, "
                         "float64 for exact work)")


def check_side(value: Any, name: str = "image_size") -> int:
    """A picture side in pixels, 1..``MAX_IMAGE_SIDE`` (a larger one would allocate absurd memory).

    Args:
        value: the argument.
        name: the argument's name in messages.
    """
    return check_whole(name, value, 1, MAX_IMAGE_SIDE + 1)


#: Most values a batch of pictures asked for at once may hold (float64: 2 GiB).
MAX_BATCH_VALUES = 2**28


def check_batch(n: Any, size: int, name: str = "n") -> int:
    """How many pictures of ``size``² to make at once: 1.. as many as fit ``MAX_BATCH_VALUES``.

    Args:
        n: the count asked for.
        size: the (checked) picture side.
        name: the argument's name in messages.
    """
    most = max(1, MAX_BATCH_VALUES // (3 * size * size))
    return check_whole(name, n, 1, most + 1)


def _describe_values(values: torch.Tensor, counts: torch.Tensor, shown: int = 5) -> str:
    order = counts.argsort(descending=True)[:shown]
    parts = [f"{values[i].item():g} ({int(counts[i])} pixels)" for i in order]
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(parts) + more


def check_keep(keep: Any, size: int | tuple[int, int] | None = None, name: str = "keep", *,
               batched: bool = False) -> torch.Tensor:
    """A keep mask as a (1, H, W) float tensor of 0 (generate) and 1 (keep), or a ``UserInputError``.

    Accepts a tensor or numpy array shaped (H, W), (1, H, W) or (1, 1, H, W), of bools or numbers
    (with ``batched``: (n, 1, H, W), returned as such). Soft masks (values other than 0 and 1)
    are refused: they would mix known and generated pixels silently.

    Args:
        keep: the mask.
        size: the side (or (height, width)) it must have, or None for any size up to ``MAX_IMAGE_SIDE``.
        name: the argument's name in messages.
        batched: accept and return a batch of masks, (n, 1, H, W).
    """
    mask = as_tensor(name, keep)
    given = tuple(mask.shape)  # the messages name the shape passed, not the one it was widened to
    if mask.dim() == 2:
        mask = mask[None]
    if mask.dim() == 3:
        mask = mask[None]
    h, w = (size, size) if isinstance(size, int) else (size or (None, None))
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.numel() == 0 or (not batched and mask.shape[0] != 1):
        want = "(n, 1, H, W)" if batched else "(1, H, W) or (H, W)"
        want = want.replace("H", str(h)).replace("W", str(w)) if size is not None else want
        raise UserInputError(f"{name} mask must be {want} with 1 = keep, 0 = generate; got shape {given}")
    if size is not None and tuple(mask.shape[2:]) != (h, w):
        raise UserInputError(f"{name} is {mask.shape[3]}x{mask.shape[2]} but the picture is {w}x{h}: "
                             "a mask must have its picture's size")
    if max(mask.shape[2:]) > MAX_IMAGE_SIDE:
        raise UserInputError(f"{name} is {mask.shape[3]}x{mask.shape[2]}, larger than the limit of {MAX_IMAGE_SIDE} px a side")
    check_finite(name, mask)
    off = mask[(mask != 0) & (mask != 1)]
    if off.numel():
        values, counts = off.unique(return_counts=True)
        raise UserInputError(
            f"{name} mask must hold only 0 (generate) and 1 (keep); found {off.numel()} pixels with other values: "
            f"{_describe_values(values, counts)}. Binarise it, e.g. {name} = ({name} > 0.5).float()"
        )
    return mask if batched else mask[0]


def kept(keep: torch.Tensor) -> torch.Tensor:
    """Where a checked mask (:func:`check_keep`) keeps its pixel: a bool tensor of its shape.

    Args:
        keep: a mask of 0 and 1.
    """
    return keep == 1


def check_picture(image: Any, size: int, name: str = "image", model_name: str | None = None, *,
                  batched: bool = False, bounded: bool = True) -> torch.Tensor:
    """A picture as a (3, size, size) float tensor in [-1, 1], or a ``UserInputError``.

    Accepts a tensor or numpy array shaped (3, H, W) or (1, 3, H, W) (with ``batched``:
    (n, 3, H, W), returned as such).

    Args:
        image: the picture.
        size: the side it must have.
        name: the argument's name in messages.
        model_name: the model that sets ``size``, named in the message.
        batched: accept and return a batch of pictures, (n, 3, H, W).
        bounded: refuse values outside [-1, 1] (False for the exact Gaussian model's pictures).
    """
    picture = as_tensor(name, image)
    given = tuple(picture.shape)
    if picture.dim() == 3:
        picture = picture[None]
    if picture.dim() != 4 or picture.shape[1] != 3 or picture.shape[0] == 0 or (not batched and picture.shape[0] != 1):
        want = f"(n, 3, {size}, {size})" if batched else f"(3, {size}, {size})"
        raise UserInputError(f"{name} must be {want} in [-1, 1], got shape {given} "
                             "(ipainter_nb.images.pil_to_tensor converts a PIL picture)")
    if tuple(picture.shape[2:]) != (size, size):
        who = f"model {model_name!r} paints" if model_name is not None else "it must be"
        raise UserInputError(f"{name} is {picture.shape[3]}x{picture.shape[2]} but {who} {size}x{size}: "
                             f"compose at Composition(size={size}) or resize the picture")
    check_finite(name, picture)
    if bounded and (picture.min() < -1.001 or picture.max() > 1.001):
        raise UserInputError(f"{name} values must lie in [-1, 1], found {picture.min().item():g}..{picture.max().item():g} "
                             "(use ipainter_nb.images.pil_to_tensor, or x / 127.5 - 1 for 0..255 values)")
    return picture if batched else picture[0]


public_names(globals())  # after every public definition
