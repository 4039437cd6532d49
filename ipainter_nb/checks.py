"""Checks of command-line values, shared by every command: integer flags and paths.

Each check refuses a value with one ``UserInputError`` naming the flag, the value and the
fix, and none of them writes anything: a command checks all its arguments first and only
then creates its folders (``make_folder``), so a refused run leaves the file system as it
found it.

Every path form reaches the same checks: ``~`` is expanded (a shell leaves ``--dest=~/out``
as typed), a relative path is taken from the current folder, a symbolic link to a folder is
that folder, and a symbolic link that leads nowhere (its target missing, or a loop), as the
path or as a folder on the way to it, is refused by name rather than written through.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from .errors import UserInputError
from .file_kinds import FileKind
from .public import public_names

__all__ = ["PROG", "EXIT_USAGE", "EXIT_FAILED", "EXIT_INTERRUPTED", "shown", "printable", "one_line", "as_float", "CommandParser",
           "OS_HINTS", "whole_number", "real_number", "number_flag", "int_at_least", "int_in", "seed_flag", "checking", "path_text",
           "check_path", "broken_link", "user_path", "apart_from", "readable_folder", "refuse_non_folder", "check_folder",
           "make_folder", "writable_folder", "writable_file", "undone_on_failure"]

#: The command's name, starting each of its error, warning and hint lines.
PROG = "ipainter"
#: The exit codes: a refused command line, a run in which something failed, a Ctrl-C.
EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def as_float(value: Any) -> float:
    """A number (Python's or numpy's) as a float; an int too large for one (``10**400``) is ±inf,
    which every range check refuses as not finite, instead of an ``OverflowError``.

    Args:
        value: an int or float.
    """
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def shown(value: object) -> str:
    """``value`` as a message shows it: its ``repr``, cut to 60 characters.

    Args:
        value: any value.
    """
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def printable(text: str) -> str:
    """``text`` with its control characters (a newline in a file name) written as escapes, so that it
    stays on the line that names it; other characters, accents included, unchanged.

    Args:
        text: a name.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def one_line(message: object) -> str:
    """A message of several lines (a list of places searched, of mismatched tensors) as one line for a log.

    Args:
        message: the message (any object; its ``str``).

    Returns:
        The lines joined, each continuing the sentence of the one before.
    """
    parts = [part.strip() for part in str(message).splitlines() if part.strip()]
    text = parts[0] if parts else ""
    for part in parts[1:]:
        text += (" " if text.endswith((":", ".")) else ". " if part[0].isupper() else "; ") + part
    return text


class CommandParser(argparse.ArgumentParser):
    """The parser of ``ipainter`` and its commands: a flag it refuses is its usage, then one
    ``ipainter: error:`` line (exit 2), like every other refusal of the command.

    Flags are taken whole only: argparse would read ``--sched`` as ``--schedule-steps`` (and a
    flag one command lacks as another that starts the same), then blame the wrong flag. A failed
    write of the help or the version is raised, not dropped.

    Args:
        args: ``argparse.ArgumentParser``'s positional arguments.
        kwargs: its keyword arguments (``allow_abbrev`` defaults to False here).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _print_message(self, message: str, file: Any = None) -> None:
        # argparse drops every OSError of its output: on stdout (--help, --version into ``| head -1``)
        # it must end the command as any other output's does; a stderr that cannot be written
        # leaves nobody to tell, and the exit code says it
        file = file or sys.stderr
        if not message or file is None:  # None: the stream was closed when Python started (2>&-)
            return
        try:
            file.write(message)
        except OSError:
            if file is sys.stdout:
                raise

    def error(self, message: str) -> NoReturn:
        """Print the usage and the one error line, and exit with 2.

        Args:
            message: argparse's reason.
        """
        if sys.stderr is not None:  # closed (2>&-): argparse would print the usage to stdout instead
            self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}\n")


#: OS errors a user causes (a full disk, a read-only folder, a path that went away), with the fix.
OS_HINTS = {
    errno.ENOSPC: "free some space or write to another disk",
    errno.EDQUOT: "free some space or write to another disk",
    errno.EACCES: "check the permissions, or choose a folder you can write to",
    errno.EPERM: "check the permissions, or choose a folder you can write to",
    errno.EROFS: "the disk is read-only: write to another folder",
    errno.ENOENT: "check the path",
    errno.EISDIR: "name a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EFBIG: "the file is larger than this disk or a limit (ulimit -f) allows: write to another disk or raise the limit",
    errno.ENAMETOOLONG: "use a shorter file or folder name",
    errno.ELOOP: "a symbolic link in the path points at itself (a loop): fix or remove it",
    errno.EIO: "the disk reported an input/output error: check the disk, or write to another one",
}


# --------------------------------------------------------------------------- numbers written as text

# ASCII digits only: Python's int() and float() also read "1_000", full-width and Arabic-Indic
# digits, which a flag, a spec or an environment variable meant as a number never holds on purpose
_WHOLE = re.compile(r"[+-]?[0-9]+")
_REAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def whole_number(text: str) -> int:
    """A whole number written in ASCII digits (an optional sign, surrounding blanks allowed).

    Args:
        text: the text (a flag's value, a spec's field, an environment variable).

    Raises:
        UserInputError: (a ``ValueError``) naming the text, for anything else (``1.5``, ``1_000``, ``１``, ``""``).
    """
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise UserInputError(f"expected a whole number in digits 0-9, got {text!r}")
    return int(text)


def real_number(text: str) -> float:
    """A number written as a decimal (``0.5``, ``-2``, ``1e-4``, ``inf``, ``nan``) in ASCII: the ranges
    that follow refuse what is not finite.

    Args:
        text: the text.

    Raises:
        UserInputError: (a ``ValueError``) naming the text, for anything else (``1_0``, ``０.5``, ``0x10``, ``""``).
    """
    if not isinstance(text, str) or not _REAL.fullmatch(text.strip()):
        raise UserInputError(f"expected a number written in digits 0-9 (e.g. 0.5 or 1e-4), got {text!r}")
    return float(text)


def number_flag(text: str) -> float:
    """An argparse type: :func:`real_number`, refused as argparse refuses a flag (exit 2).

    Args:
        text: the flag's value.
    """
    try:
        return real_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --------------------------------------------------------------------------- integer flags


def int_at_least(lowest: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``lowest`` (argparse reports a refusal, exit 2).

    Args:
        lowest: the smallest value accepted.

    Returns:
        The parsing function for ``add_argument(type=...)``.
    """
    def parse(text: str) -> int:
        try:
            value = whole_number(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return parse


def int_in(lowest: int, highest: int, why: str = "") -> Callable[[str], int]:
    """An argparse type: an integer in ``lowest..highest``.

    Args:
        lowest: the smallest value accepted.
        highest: the largest value accepted.
        why: said after the upper limit when a value exceeds it (e.g. `` (the demo keeps them all)``).

    Returns:
        The parsing function for ``add_argument(type=...)``.
    """
    def parse(text: str) -> int:
        value = int_at_least(lowest)(text)
        if value > highest:
            raise argparse.ArgumentTypeError(f"must be at most {highest}{why}, got {value}")
        return value

    return parse


#: A seed flag: a whole number that fits torch's 64-bit seeds.
seed_flag = int_in(0, 2**63 - 1)


# --------------------------------------------------------------------------- paths (nothing written)


@contextlib.contextmanager
def checking(what: str) -> Iterator[None]:
    """An OS error while a path is checked (a name too long, a link loop) is the user's path: one line, exit 2.

    Args:
        what: the flag and value checked, e.g. ``--dest out``, starting the message.
    """
    try:
        yield
    except OSError as exc:
        hint = OS_HINTS.get(exc.errno, "choose another path")
        raise UserInputError(f"{what}: {exc.strerror or exc}; {hint}") from None


def path_text(text: str) -> str:
    """A path flag's text (argparse ``type=``), refused when empty: ``--out "$DIR"`` with ``DIR`` unset
    would otherwise mean the current folder.

    Args:
        text: the flag's value.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: name a file or folder (. for the current folder)")
    return text


def check_path(name: str, value: Any, kind: str = "file", error: type[UserInputError] = UserInputError) -> Path:
    """``value`` as a path, or a ``UserInputError`` when it is not a non-empty str or path-like object.

    An int is refused, not taken as a file descriptor: ``open(1)`` would read (and close) the
    process's own stdout, and ``True`` is the int 1.

    Args:
        name: the argument's name in messages.
        value: the argument.
        kind: what the path names (``file`` or ``folder``), for the message.
        error: the exception class raised (a ``UserInputError``).
    """
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise error(f"{name} must be a {kind} path (str or pathlib.Path), got {type(value).__name__} {value!r}")
    if "\0" in str(value):  # no file system takes one; os calls would raise a bare ValueError
        raise error(f"{name}={str(value)!r} holds a NUL character, which no {kind} name can: remove it")
    return Path(value)


def user_path(path: str | os.PathLike[str]) -> Path:
    """A path as a user typed it: ``~`` and ``~user`` expanded, nothing else changed.

    Args:
        path: the path from the command line (or a caller).

    Returns:
        The path, relative paths left relative (to the current folder).
    """
    return Path(path).expanduser()


def broken_link(path: Path) -> str | None:
    """What is wrong with ``path`` if it is a symbolic link that leads nowhere (a missing target or a
    loop), else None: ``exists()`` is False for it, yet nothing can be created at its name.

    Args:
        path: any path.
    """
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        target = os.readlink(path)
        if exc.errno == errno.ELOOP:
            return f"{path} is a symbolic link that leads back to itself (a loop, via {target}): remove it, or pass another path"
        return f"{path} is a symbolic link to {target}, which does not exist: create it first, or pass another path"
    return None


def special_file(path: Path) -> str | None:
    """What is wrong with writing a file at ``path`` when a folder, a device, a named pipe or a socket
    is there (or a link leads to one), else None. An output is written beside its name and moved into
    place, which replaces whatever is there: ``/dev/null``, ``/dev/stdout`` or a pipe another program
    reads would be lost, and a folder (``""`` is the current one) cannot be replaced by a file at all.

    Args:
        path: where a file is to be written.
    """
    try:
        mode = os.stat(path).st_mode  # through links: a link to a device stands for the device
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return f"{path} is a folder: name a file in it, e.g. {path / 'out.png'}"
    kind = ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return (f"{path} is {kind}, not a file: an output is written beside it and moved into its place, which would "
            "replace it; name a regular file")


def _refuse_broken_link(path: Path, what: str) -> None:
    """``path`` is not a symbolic link that leads nowhere (a missing target or a loop)."""
    problem = broken_link(path)
    if problem is not None:
        raise UserInputError(f"{what}: {problem}")


def _nearest_existing(path: Path, what: str) -> Path:
    """The deepest existing folder (or file) on ``path``'s way; a broken link on the way is refused."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        _refuse_broken_link(path, what)
        path = path.parent
    return path


def _probe_writable(folder: Path, what: str) -> None:
    # an unnamed temp file (O_TMPFILE where the system has it): proves a file can be made, leaves no name
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".ipainter-probe-"):
            pass
    except OSError as exc:
        raise UserInputError(f"{what}: cannot write in {folder} ({exc.strerror}); "
                             "choose another folder or fix its permissions") from None


def _check_parent(path: Path, what: str) -> None:
    """``path``'s parent folder exists (it is not created: a typo should not make a tree)."""
    parent = path.absolute().parent
    if parent.is_dir():
        return
    existing = _nearest_existing(parent, what)
    if existing.is_dir():
        raise UserInputError(f"{what}: the folder {parent} does not exist; create it first (mkdir -p {parent})")
    raise UserInputError(f"{what}: {existing} is a file, so {path} cannot be created under it; choose another path")


def readable_folder(folder: Path, flag: str, holds: str = "the input files") -> Path:
    """``folder`` exists, is a folder and can be listed.

    Args:
        folder: the folder named on the command line.
        flag: its flag, for the message (``--source``).
        holds: what the folder should hold, for the message.

    Returns:
        ``folder``, ``~`` expanded.

    Raises:
        UserInputError: naming the flag, the folder and the fix.
    """
    folder = user_path(folder)
    with checking(f"{flag} {folder}"):
        _refuse_broken_link(folder, f"{flag} {folder}")
        if not folder.exists():
            raise UserInputError(f"{flag} {folder} does not exist: pass the folder of {holds}")
        if not folder.is_dir():
            raise UserInputError(f"{flag} {folder} is a file, not a folder: pass the folder that holds it")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise UserInputError(f"{flag} {folder} is not readable: check its permissions")
    return folder


def refuse_non_folder(folder: Path, what: str) -> None:
    """Where a folder is wanted, or will be made: a file, or a symbolic link that leads nowhere, is
    refused (writing there would fail only later, or through the link); nothing yet is fine.

    Args:
        folder: the path.
        what: the argument and its value, starting the message (``--dest out``, ``out_dir='out'``).
    """
    _refuse_broken_link(folder, what)
    if folder.exists() and not folder.is_dir():
        raise UserInputError(f"{what} is a file, not a folder: pass a folder (or another name)")


def check_folder(folder: Path, flag: str, parents: bool = False) -> Path:
    """``folder`` is a folder where files can be written, or can be created as one; creates nothing.

    Args:
        folder: the output folder named on the command line.
        flag: its flag, for the message (``--dest``).
        parents: whether missing parent folders may be created too (otherwise the parent must exist).

    Returns:
        ``folder``, ``~`` expanded.

    Raises:
        UserInputError: naming the flag, the folder and the fix.
    """
    folder = user_path(folder)
    what = f"{flag} {folder}"
    with checking(what):
        refuse_non_folder(folder, what)
        if folder.is_dir():
            _probe_writable(folder, what)
            return folder
        existing = _nearest_existing(folder, what)
        if not existing.is_dir():
            raise UserInputError(f"{what}: {existing} is a file, so {folder} cannot be created under it; choose another path")
        if not parents:
            _check_parent(folder, what)
        _probe_writable(existing, what)  # where the first new folder would be made
    return folder


def make_folder(folder: Path, flag: str, parents: bool = False) -> Path:
    """Create the output ``folder`` (after ``check_folder`` and every other check passed).

    Args:
        folder: the output folder.
        flag: its flag, for the message.
        parents: whether missing parent folders are created too.

    Returns:
        ``folder``, ``~`` expanded.

    Raises:
        UserInputError: when it cannot be created after all (it changed since it was checked).
    """
    folder = user_path(folder)
    with checking(f"{flag} {folder}"):
        try:
            folder.mkdir(parents=parents, exist_ok=True)
        except FileExistsError:
            raise UserInputError(f"{flag} {folder} is a file, not a folder: pass a folder (or another name)") from None
        except OSError as exc:
            raise UserInputError(f"{flag} {folder}: cannot create it ({exc.strerror}); "
                                 "choose a folder you can write to") from None
    return folder


def writable_folder(folder: Path, flag: str, parents: bool = False) -> Path:
    """``check_folder`` then ``make_folder``: for callers with nothing else to check first.

    Args:
        folder: the output folder.
        flag: its flag, for the message.
        parents: whether missing parent folders may be created too.

    Returns:
        ``folder``, now existing (``~`` expanded).
    """
    return make_folder(check_folder(folder, flag, parents), flag, parents)


def apart_from(output: Path, flag: str, inputs: dict[str, Any]) -> None:
    """Refuse ``output`` when it is the file an input flag names: writing it would replace what the
    command reads (``schedule --plot`` onto the ``--model`` file replaced the weights with a PNG).

    A link at ``output`` is not its target (the link is replaced, the target left as it was); a
    preset name or a file that does not exist is no file there.

    Args:
        output: the output file, checked by ``writable_file``.
        flag: its flag, for the message.
        inputs: each input flag and its value (None, a name or a path).
    """
    try:
        here = os.lstat(output)
    except OSError:
        return
    for name, value in inputs.items():
        try:
            read = os.stat(value) if isinstance(value, (str, os.PathLike)) and str(value) else None
        except OSError:
            continue
        if read is not None and (read.st_dev, read.st_ino) == (here.st_dev, here.st_ino):
            raise UserInputError(f"{flag} {output} is the file {name} reads: writing it would replace it; "
                                 "name another file")


def writable_file(path: Path, flag: str, kind: FileKind | None = None) -> Path:
    """``path`` can be written: not a folder, a device or a pipe, in an existing folder that takes files;
    creates nothing. With ``kind``, its name has one of the kind's suffixes and a file already there is
    of that kind (an earlier output, which is replaced): a user's ``thesis.txt`` is not.

    A symbolic link to a file is replaced by the new file (the file it pointed at stays as it
    was); a link that leads nowhere is refused.

    Args:
        path: the output file named on the command line.
        flag: its flag, for the message (``--plot``).
        kind: what the output is (``file_kinds.PNG_FILE``, ...), or None for any file.

    Returns:
        ``path``, ``~`` expanded.

    Raises:
        UserInputError: naming the flag, the file and the fix.
    """
    path = user_path(path)
    what = f"{flag} {path}"
    with checking(what):
        _refuse_broken_link(path, what)
        if path.is_dir():
            raise UserInputError(f"{what} is a folder: name a file in it, e.g. {path / 'out.png'}")
        problem = special_file(path)
        if problem is not None:
            raise UserInputError(f"{what}: {problem}")
        if kind is not None:
            if kind.suffixes and path.suffix.lower() not in kind.suffixes:
                raise UserInputError(f"{what}: {flag} writes {kind.what}; name a {' or '.join(kind.suffixes)} file")
            if path.is_file() and not path.is_symlink() and not kind.holds(path):
                raise UserInputError(f"{what} exists and is not {kind.what}, so it is not an earlier output: it would be "
                                     "replaced; name another file (or remove it first)")
        _check_parent(path, what)
        _probe_writable(path.absolute().parent, what)
    return path


@contextlib.contextmanager
def undone_on_failure(folder: Path) -> Iterator[None]:
    """The folders on ``folder``'s way that the block creates are removed again if it raises.

    For a command that creates its output folder and then fails before writing into it (a
    download that never arrives): "nothing was written" stays true. Only folders that were
    missing when the block began and are empty at its end are removed.

    Args:
        folder: the folder the block creates (with its missing parents).
    """
    missing = []
    path = user_path(folder).absolute()
    while not path.exists() and not path.is_symlink() and path != path.parent:
        missing.append(path)  # deepest first
        path = path.parent
    try:
        yield
    except BaseException:
        for path in missing:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                path.rmdir()
        raise


public_names(globals())  # after every public definition
