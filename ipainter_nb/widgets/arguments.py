"""The widgets' constructor arguments, checked before anything is built.

A mistyped argument gets one ``UserInputError`` that names it and what is allowed, instead of
a traceback from deep inside ipywidgets, or nothing at all: traitlets drops an unknown keyword
with a deprecation warning, so ``Painter(edit_pause=1)`` would quietly keep the default.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..checks import check_path, checking, refuse_non_folder, user_path, writable_folder
from ..core.arguments import check_flag, check_real
from ..core.composition import Composition
from ..core.devices import as_device
from ..core.paintable import check_model
from ..errors import UserInputError

#: The longest pause after the edits before a draft: an hour (a longer one is a slip; a huge one overflowed the timer).
MAX_EDIT_PAUSE_S = 3600.0
#: The most screen pixels per canvas pixel (a 256² canvas is then 8192 px across).
MAX_DISPLAY_SCALE = 32.0

__all__ = ["check_painter_arguments", "check_composer_arguments", "check_widget_kwargs", "check_model_choice",
           "check_composition", "check_cutout_source", "check_out_dir", "save_folder", "save_file", "check_path", "check_positive",
           "MAX_EDIT_PAUSE_S", "MAX_DISPLAY_SCALE"]


def check_painter_arguments(widget: type, kwargs: Mapping[str, Any], model: Any, composition: Any, cutouts: Any,
                            device: Any, out_dir: Any, drafts: Any, edit_pause_s: Any) -> tuple[Composition | None, Path, bool, float]:
    """Check every argument of the Painter (see ``Painter``), before anything is built.

    Args:
        widget: the Painter class.
        kwargs: the keywords left over for its box.
        model: a preset name, a checkpoint path, a loaded model or None.
        composition: a ``Composition`` or None.
        cutouts: the palette's cutout source.
        device: a device or None.
        out_dir: the Save buttons' folder.
        drafts: whether drafts follow the edits.
        edit_pause_s: the pause (seconds, at least 0) after which a draft follows the edits.

    Returns:
        ``(composition, out_dir, drafts, edit_pause_s)``, normalised.
    """
    check_widget_kwargs(widget, kwargs)
    check_model_choice(model)
    check_cutout_source(cutouts)
    if device is not None:
        as_device(device)
    return (check_composition(composition), check_out_dir(out_dir), check_flag("drafts", drafts),
            check_real("edit_pause_s", edit_pause_s, 0.0, MAX_EDIT_PAUSE_S, hint="seconds; 0: no pause"))


def check_out_dir(out_dir: Any, name: str = "out_dir") -> Path:
    """The Save buttons' folder: a path that is a folder, or nothing yet (made at the first save).

    A file, or a link that leads nowhere, at that name would fail only at the first save, after the
    painting: it is refused here. Whether the folder can be written is left to the save, so that a
    Painter in a read-only folder still paints.

    Args:
        out_dir: the Painter's ``out_dir`` argument.
        name: the argument's name in messages.
    """
    folder = user_path(check_path(name, out_dir, "folder"))
    what = f"{name}={str(out_dir)!r}"
    with checking(what):
        refuse_non_folder(folder, what)
    return folder


def save_folder(folder: Any, name: str = "folder") -> Path:
    """The folder a save writes into, made (with its parents) if missing, as an absolute path.

    ``check_out_dir``'s rules, then the command line's (``checks.writable_folder``): a file or a link
    that leads nowhere on the way is named, never written through, and a folder that cannot be
    written is said before the picture is made.

    Args:
        folder: the folder (a str or path; ``~`` is expanded).
        name: the argument's name in messages.
    """
    return writable_folder(check_out_dir(folder, name), name, parents=True).resolve()


def save_file(path: Any, name: str = "path") -> Path:
    """A file a save writes, as an absolute path, its folder made (``save_folder``) if missing.

    A link at ``path`` is the name written (the writer replaces it, as the command line's do), not
    the file it leads to: that file, perhaps a cutout of the composition, stays as it was.

    Args:
        path: the file (a str or path; ``~`` is expanded).
        name: the argument's name in messages.
    """
    out = user_path(check_path(name, path)).absolute()
    save_folder(out.parent, f"{name}'s folder")
    return out


def check_composer_arguments(widget: type, kwargs: Mapping[str, Any], composition: Any, cutouts: Any,
                             display_scale: Any, max_fps: Any) -> tuple[Composition | None, float | None, float]:
    """Check every argument of the Composer (see ``Composer``; ``size`` is checked by ``Composition``).

    Args:
        widget: the Composer class.
        kwargs: the keywords left over for its box.
        composition: a ``Composition`` or None.
        cutouts: the palette's cutout source.
        display_scale: screen pixels per canvas pixel (> 0) or None.
        max_fps: the most frames drawn per second (> 0).

    Returns:
        ``(composition, display_scale, max_fps)``, normalised.
    """
    check_widget_kwargs(widget, kwargs)
    check_cutout_source(cutouts)
    scale = None if display_scale is None else check_positive("display_scale", display_scale, MAX_DISPLAY_SCALE)
    return check_composition(composition), scale, check_positive("max_fps", max_fps)


def check_widget_kwargs(widget: type, kwargs: Mapping[str, Any]) -> None:
    """Refuse keywords that are neither the widget's own arguments nor traits of its box (``layout``...).

    Args:
        widget: the widget class being built.
        kwargs: the keywords left over for the box.
    """
    traits = set(widget.class_trait_names())  # type: ignore[attr-defined]
    unknown = sorted(set(kwargs) - traits)
    if unknown:
        own = [p for p in inspect.signature(widget.__init__).parameters if p not in ("self", "kwargs")]
        raise UserInputError(f"{widget.__name__}() got unknown argument(s) {', '.join(map(repr, unknown))}: its arguments "
                             f"are {', '.join(own)}, and the box's traits such as layout")


def check_model_choice(model: Any, name: str = "model", none: bool = True) -> None:
    """Refuse a ``model`` that is neither a preset name, a checkpoint path, a paintable model nor (with
    ``none``) None.

    Args:
        model: the Painter's ``model`` argument (or ``load_model``'s).
        name: the argument's name in messages.
        none: None is allowed (no model yet).
    """
    if (model is None and none) or isinstance(model, (str, os.PathLike)):
        return
    if not callable(model):
        raise UserInputError(f"{name} must be a preset name (e.g. 'demo'), a checkpoint path or a loaded model "
                             f"(ip.load_model(...)){' or None' if none else ''}, got {type(model).__name__}")
    check_model(model, name)


def check_composition(composition: Any) -> Composition | None:
    """``composition`` if it is a ``Composition`` or None, else a ``UserInputError``.

    Args:
        composition: the widget's ``composition`` argument.
    """
    if composition is not None and not isinstance(composition, Composition):
        raise UserInputError(f"composition must be an ip.Composition (e.g. ip.Composition(64), or Composition.from_json "
                             f"of a saved one) or None, got {type(composition).__name__}")
    return composition


def check_cutout_source(cutouts: Any) -> None:
    """Refuse a cutout source that is none of "demo", a folder, a mapping of names to pictures, or None.

    Args:
        cutouts: the widget's ``cutouts`` argument.
    """
    if cutouts is None or (isinstance(cutouts, str) and cutouts == "demo"):
        return
    if isinstance(cutouts, (str, os.PathLike)):
        folder = check_path("cutouts", cutouts, "folder")  # "" would be the current folder, read whole
        if not folder.is_dir():
            raise UserInputError(f"cutouts={str(cutouts)!r} is not a folder: pass 'demo', a folder of PNG cutouts, "
                                 "a dict of name -> file or PIL image, or None")
        return
    if not isinstance(cutouts, Mapping) or not all(isinstance(name, str) for name in cutouts):
        raise UserInputError(f"cutouts must be 'demo', a folder of PNG cutouts, a dict of name -> file or PIL image, or "
                             f"None, got {type(cutouts).__name__}")


def check_positive(name: str, value: Any, high: float = math.inf) -> float:
    """``value`` as a finite number above zero (and at most ``high``), or a ``UserInputError``.

    Args:
        name: the argument's name in messages.
        value: the argument.
        high: the largest value allowed.
    """
    return check_real(name, value, 0.0, high, low_open=True)
