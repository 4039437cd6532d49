"""Atomic file writes: a hidden temp file beside the target, moved over it in one step.

Temp files are named ``.<name>.<host>-<pid>-<random>.tmp`` (``.part`` for downloads) so
that a later run can tell a leftover of a process that has ended from a write in progress
(``ipainter_nb.images.leftovers``). ``atomic_write`` removes its temp file when the write
raises anything, ``KeyboardInterrupt`` and ``SystemExit`` included; a process killed
outright (SIGKILL, a power cut) leaves it for the next run to remove.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import os
import re
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from ..checks import check_path, special_file
from ..errors import UserInputError
from ..public import public_names
from .convert import image_argument, tensor_to_pil

__all__ = ["atomic_write", "temp_file", "write_bytes_atomic", "write_text_atomic", "png_bytes", "save_png_atomic", "PNG_MODES"]

PathLike = str | os.PathLike

def _current_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import, before any threads.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
# Temp and claim files name their writer (host, pid) so that a later run can tell a
# leftover of a dead process from a write in progress.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
# ``.tmp``: atomic writes; ``.part``: downloads. Only this exact form is ours: the cleaners remove such files, so
# a looser one (an older form had no host and pid) took users' own hidden ``.notes.a1b2c3d4.tmp`` files
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]{8}\.(?:tmp|part)$")
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


def _temp_path(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """Create ``.<name>.<host>-<pid>-<random><suffix>`` beside ``path`` exclusively; (fd, path).

    The temp file is moved over ``path`` in the end, which replaces whatever is there: a folder, a
    device, a named pipe or a socket at ``path`` is refused (``UserInputError``) before anything is created.
    """
    problem = special_file(path)
    if problem is not None:
        raise UserInputError(problem)
    while True:
        tmp = path.parent / _hidden_name(path.name, f".{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600), str(tmp)
        except FileExistsError:
            continue


def temp_file(path: PathLike, suffix: str = ".tmp") -> Path:
    """Create an empty private temp file beside ``path``, named so that a later run can tell
    whether its writer is still alive (``remove_stale_temps``).

    Args:
        path: the file the temp file will become (same folder, so a rename is atomic).
        suffix: ``.tmp`` or ``.part`` (both are recognised as leftovers).

    Returns:
        The temp file's path; the caller removes it (or renames it over ``path``).

    Raises:
        UserInputError: a folder, a device, a named pipe or a socket is at ``path`` (the rename would replace it).
    """
    fd, tmp = _temp_path(check_path("path", path), suffix)
    os.close(fd)
    return Path(tmp)


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
    (``FileExistsError``). A folder, a device, a named pipe or a socket at ``path`` is never replaced
    (``UserInputError``, before anything is written). Returns the path.

    Args:
        path: the file to write.
        write: writes the bytes into the open temp file.
        replace: whether an existing ``path`` may be replaced.
    """
    path = check_path("path", path)
    if not callable(write):
        raise UserInputError(f"write must be a function that writes the bytes into an open file, got {type(write).__name__}")
    if not isinstance(replace, (bool, np.bool_)):
        raise UserInputError(f"replace must be True or False, got {type(replace).__name__} {replace!r}")
    _check_destination(path)
    if not replace and os.path.lexists(path):
        raise FileExistsError(f"{path} exists and replace=False: it was left as it is")
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


def _check_destination(path: Path) -> None:
    """Refuse, before anything is written, a file whose folder is missing or whose name is too long
    (the temp file's name is shortened, so the rename at the end would fail instead)."""
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise UserInputError(f"cannot write {path}: its folder {folder} {what}; create the folder first")
    if len(os.fsencode(path.name)) > _NAME_MAX:
        raise UserInputError(f"cannot write {path}: its name is {len(os.fsencode(path.name))} bytes, longer than the "
                             f"{_NAME_MAX} a file name may have; use a shorter name")


def write_bytes_atomic(path: PathLike, data: bytes, *, replace: bool = True) -> Path:
    """Atomically replace ``path`` with ``data``.

    Args:
        path: the file to write.
        data: its new content.
        replace: False never replaces an existing file (``FileExistsError``).

    Returns:
        The path.
    """
    return atomic_write(path, lambda f: f.write(data), replace=replace)


def write_text_atomic(path: PathLike, text: str, encoding: str = "utf-8", *, replace: bool = True) -> Path:
    """Atomically replace ``path`` with ``text``.

    Args:
        path: the file to write.
        text: its new content.
        encoding: how the text is encoded.
        replace: False never replaces an existing file (``FileExistsError``).

    Returns:
        The path.
    """
    if not isinstance(text, str):
        raise UserInputError(f"text must be a str, got {type(text).__name__}")
    try:
        codecs.lookup(encoding)
        data = text.encode(encoding)
    except (LookupError, TypeError):
        raise UserInputError(f"encoding={encoding!r} is not a text encoding Python knows (e.g. 'utf-8')") from None
    except UnicodeEncodeError as exc:
        raise UserInputError(f"the text cannot be written in {encoding}: {exc.reason} at character {exc.start}") from None
    return write_bytes_atomic(path, data, replace=replace)


def _as_pil(obj: Image.Image | torch.Tensor | np.ndarray) -> Image.Image:
    if isinstance(obj, torch.Tensor):
        return tensor_to_pil(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8 or obj.ndim not in (2, 3) or (obj.ndim == 3 and obj.shape[2] not in (3, 4)):
            raise UserInputError(f"a picture array must be uint8 (H, W), (H, W, 3) or (H, W, 4), got {obj.dtype} "
                                 f"{obj.shape}: pass a tensor in [-1, 1], or (x * 255).round().astype('uint8')")
        return Image.fromarray(obj)
    if isinstance(obj, Image.Image):
        return obj
    raise UserInputError(f"img_or_tensor must be a PIL image, an image tensor in [-1, 1] or a uint8 array, got "
                         f"{type(obj).__name__}")


#: The PIL modes a PNG holds.
PNG_MODES = ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA")


def _png_ready(img: Image.Image) -> Image.Image:
    """``img`` if PNG can hold it as it is, else one ``UserInputError`` naming its mode or size."""
    image_argument("img", img)
    if img.mode not in PNG_MODES:
        raise UserInputError(f"a {img.mode} image cannot be saved as PNG: convert it first, e.g. img.convert('RGB')")
    if 0 in img.size:
        raise UserInputError(f"an empty image ({img.size[0]}x{img.size[1]} pixels) cannot be saved")
    return img


def png_bytes(img: Image.Image, compress_level: int = 6) -> bytes:
    """``img`` encoded as PNG in memory (``compress_level=1`` for pictures shown once and dropped).

    Args:
        img: the image (a mode PNG holds: :data:`PNG_MODES`).
        compress_level: zlib level, 0-9.
    """
    if isinstance(compress_level, bool) or not isinstance(compress_level, (int, np.integer)) or not 0 <= compress_level <= 9:
        raise UserInputError(f"compress_level={compress_level!r} is invalid: it must be a whole number in 0..9 (zlib's levels)")
    buf = io.BytesIO()
    _png_ready(img).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def save_png_atomic(img_or_tensor: Image.Image | torch.Tensor | np.ndarray, path: PathLike, *, replace: bool = True) -> Path:
    """Save a PIL image, an image tensor in [-1, 1] or a uint8 array as PNG, atomically.

    A crash or an error mid-write never leaves a half-written ``path`` behind. Keep masks
    are not images: save them with ``save_png_atomic(mask_to_pil(keep), path)``.

    Args:
        img_or_tensor: the picture.
        path: the PNG file.
        replace: whether an existing ``path`` may be replaced (otherwise ``FileExistsError``).

    Returns:
        ``path``.
    """
    img = _png_ready(_as_pil(img_or_tensor))
    return atomic_write(path, lambda f: img.save(f, format="PNG"), replace=replace)


public_names(globals())  # after every public definition
