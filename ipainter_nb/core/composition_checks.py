"""The rules a composition's values obey: limits, field checks and their error messages.

Every check raises ``CompositionError`` with the field's name, what was expected and the
value found, so the widget, the CLI and a JSON loader show the same words.

Limits (checked before anything large is allocated): a canvas side is at most
``MAX_CANVAS_SIDE``; a layer as drawn is at most ``MAX_LAYER_CANVAS_RATIO`` canvas sides on a
side (and ``MAX_LAYER_SIDE`` pixels for a layer on its own); a composition JSON is at most
``MAX_JSON_BYTES`` long and ``MAX_JSON_DEPTH`` levels deep.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from ipainter_nb.checks import as_float
from ipainter_nb.errors import UserInputError

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
    "invalid",
    "is_number",
    "as_int",
    "MAX_POSITION",
    "as_position",
    "as_scale",
    "as_bool",
    "as_threshold",
    "as_pixels",
    "as_size",
    "json_depth_exceeds",
    "nested_deeper_than",
]

#: The ``format`` value of a composition JSON.
FORMAT = "ipainter-nb/composition"
#: The newest composition JSON version this package writes and reads.
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
#: The farthest a layer's corner (or its stacking order) may be from 0: far beyond any canvas and layer,
#: and small enough to be written as text (an int of 5000 digits is not) and drawn.
MAX_POSITION = 1_000_000


class CompositionError(UserInputError):
    """A composition (or its JSON) is invalid; the message names the field and what was expected."""


def _show(value: Any) -> str:
    """A value as it appears in JSON, shortened, for error messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        try:
            text = repr(value)
        except ValueError:  # an int of more digits than Python turns into text
            text = f"an int of {len(format(value, 'x')) * 1.204:.0f} digits"
    return text if len(text) <= 60 else text[:57] + "..."


def invalid(field_name: str, expected: str, value: Any) -> CompositionError:
    """The error for a field that does not hold what it should.

    Args:
        field_name: The field as the user knows it (``"layers[2].scale"``).
        expected: What the field should hold (``"a positive number"``).
        value: The value found; shown as JSON, shortened.

    Returns:
        The ``CompositionError`` to raise.
    """
    return CompositionError(f"{field_name}: expected {expected}, got {_show(value)}")


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (a bool is not a number here).

    Args:
        value: Anything.

    Returns:
        True for finite ints and floats (Python's or numpy's).
    """
    # numpy numbers too (a position from np.argmax is an np.int64); never a bool, which is an int in Python
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(as_float(value)))


def as_int(value: Any, field_name: str, strict: bool = False) -> int:
    """An integer field.

    Args:
        value: The value to check.
        field_name: The field's name for the error message.
        strict: JSON rules: accept integral floats like 3.0 only. Otherwise any float is
            rounded (mouse positions arrive as floats).

    Returns:
        The integer.

    Raises:
        CompositionError: ``value`` is not an integer (or, loosely, a finite number).
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if is_number(value) and (not strict or float(value).is_integer()):
        return int(round(value))
    raise invalid(field_name, "an integer", value)


def as_position(value: Any, field_name: str, strict: bool = False) -> int:
    """A layer's position or stacking order: ``as_int``, within ±``MAX_POSITION``.

    Args:
        value: The value to check.
        field_name: The field's name for the error message.
        strict: JSON rules (see ``as_int``).

    Returns:
        The integer.

    Raises:
        CompositionError: not an integer, or farther than ``MAX_POSITION``.
    """
    number = as_int(value, field_name, strict)
    if abs(number) > MAX_POSITION:
        raise invalid(field_name, f"a whole number within ±{MAX_POSITION:,} (farther is off any canvas)", value)
    return number


def as_scale(value: Any, field_name: str) -> float:
    """A positive scale factor.

    Args:
        value: The value to check.
        field_name: The field's name for the error message.

    Returns:
        The scale as a float.

    Raises:
        CompositionError: ``value`` is not a positive finite number.
    """
    if not is_number(value) or value <= 0:
        raise invalid(field_name, "a positive number", value)
    return float(value)


def as_bool(value: Any, field_name: str) -> bool:
    """A true/false field (Python or numpy bool; 0 and 1 are refused).

    Args:
        value: The value to check.
        field_name: The field's name for the error message.

    Returns:
        The bool.

    Raises:
        CompositionError: ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise invalid(field_name, "true or false", value)
    return bool(value)


def as_threshold(value: Any, field_name: str = "alpha_threshold", closed: bool = False) -> float:
    """An alpha threshold in [0, 1) (or a share in [0, 1] with ``closed``).

    Args:
        value: The value to check.
        field_name: The field's name for the error message.
        closed: Accept 1 too.

    Returns:
        The threshold as a float.

    Raises:
        CompositionError: ``value`` is not a number in [0, 1).
    """
    if not is_number(value) or not (0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0):
        raise invalid(field_name, "a number in [0, 1]" if closed else "a number in [0, 1)", value)
    return float(value)


def as_point(value: Any, field_name: str) -> float:
    """A canvas coordinate: any finite number (a mouse position arrives as a float).

    Args:
        value: The value to check.
        field_name: The field's name for the error message.

    Returns:
        The coordinate as a float.

    Raises:
        CompositionError: ``value`` is not a finite number.
    """
    if not is_number(value):
        raise invalid(field_name, "a finite number (pixels on the canvas)", value)
    return float(value)


def as_color(value: Any, field_name: str) -> tuple[int, int, int]:
    """An RGB colour: three whole numbers in 0..255.

    Args:
        value: The value to check.
        field_name: The field's name for the error message.

    Returns:
        ``(r, g, b)``.

    Raises:
        CompositionError: not three whole numbers in 0..255.
    """
    if (not isinstance(value, (list, tuple)) or len(value) != 3
            or not all(is_number(v) and float(v).is_integer() and 0 <= v <= 255 for v in value)):
        raise invalid(field_name, "(red, green, blue), three whole numbers in 0..255",
                      list(value) if isinstance(value, tuple) else value)
    return int(value[0]), int(value[1]), int(value[2])


def as_pixels(value: Any, field_name: str) -> int:
    """A whole number of pixels, zero or more (``erode``, ``feather``).

    Args:
        value: The value to check.
        field_name: The field's name for the error message.

    Returns:
        The number of pixels.

    Raises:
        CompositionError: ``value`` is negative or not whole.
    """
    if not is_number(value) or value < 0 or not float(value).is_integer():
        raise invalid(field_name, "a whole number of pixels >= 0", value)
    return int(value)


def as_size(value: Any, field_name: str = "size") -> tuple[int, int]:
    """A canvas size: an int for a square, or (width, height), at most ``MAX_CANVAS_SIDE``.

    Args:
        value: The value to check.
        field_name: The field's name for the error message.

    Returns:
        ``(width, height)``.

    Raises:
        CompositionError: not positive integers, or larger than the limit.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                for v in value)
    )
    if not ok:
        raise invalid(field_name, "a positive integer or [width, height] of positive integers",
                      list(value) if isinstance(value, tuple) else value)
    w, h = int(value[0]), int(value[1])
    if max(w, h) > MAX_CANVAS_SIDE:
        raise CompositionError(
            f"{field_name}: a canvas of {w}x{h} is larger than the limit of {MAX_CANVAS_SIDE} px a side; "
            f"compose at the model's size (64 for the demo model, 256 for the published ones)")
    return w, h


def json_depth_exceeds(text: str, limit: int) -> int | None:
    """The nesting depth of a JSON text if it exceeds ``limit``, else None.

    Checked before ``json.loads``, whose recursion fails on deep input. Strings are blanked
    first (they may hold brackets); the depth is a running sum, vectorised because embedded
    cutouts make these texts megabytes long.

    Args:
        text: The JSON text.
        limit: The deepest nesting allowed.

    Returns:
        The depth found when it is over ``limit``, else None.
    """
    skeleton = _JSON_STRING.sub('""', text).encode("utf-8", "surrogatepass")
    chars = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.isin(chars, _OPENERS).astype(np.int64) - np.isin(chars, _CLOSERS)
    deepest = int(np.cumsum(steps).max(initial=0))
    return deepest if deepest > limit else None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSERS = np.frombuffer(b"]}", dtype=np.uint8)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/dicts in ``value`` nest deeper than ``limit`` (iterative: no recursion).

    Args:
        value: A parsed JSON value (or any nest of dicts, lists and tuples).
        limit: The deepest nesting allowed.

    Returns:
        True when some container lies deeper than ``limit``.
    """
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


public_names(globals())  # after every public definition
