"""Claims on outputs, and the leftovers of runs that ended without cleaning up.

A run claims each output (an exclusive hidden ``.<name>.claim`` file naming its host and
pid) just before painting it, so that several runs can share one folder. A run stopped by a
signal removes its own temp and claim files; one killed outright (SIGKILL) cannot, so the
next run in that folder removes them (``clean_leftovers``): temp files and claims whose
process has ended on this machine, never those of a live run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from ..checks import check_path
from ..public import public_names
from .writes import _CLAIM, _HOST, _TEMP, PathLike, _as_pil, _hidden_name, atomic_write

__all__ = ["Leftovers", "clean_leftovers", "remove_stale_temps", "OutputClaim", "claim_output"]


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


def _writer_gone(host: str | None, pid: str | int | None, written: float | None = None) -> bool:
    """True when the (host, pid) that wrote a file is known to have ended (same host only).

    The pid is free, or it was reused: the process that holds it now started after the file
    was ``written`` (its writer started before writing it). The start time is read where the
    system says it (Linux); elsewhere only a free pid counts.
    """
    if host != _HOST or pid is None:
        return False
    if not _pid_alive(int(pid)):
        return True
    if written is None:
        return False
    started = _process_start(int(pid))
    return started is not None and started > written + 2.0  # the boot time is whole seconds


@dataclass
class Leftovers:
    """What ``clean_leftovers`` removed from one folder.

    Args:
        folder: the folder that was cleaned.
        temps: names of the temp files removed (half-written outputs or downloads).
        claims: names of the claim files removed (claims of processes that have ended).
    """

    folder: Path
    temps: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.temps) + len(self.claims)

    def merge(self, other: Leftovers) -> Leftovers:
        """Add what was removed from a sub-folder of ``folder`` (named by their path below it), for one notice.

        Args:
            other: what ``clean_leftovers`` removed from a folder inside this one.

        Returns:
            This object.
        """
        try:
            under = other.folder.relative_to(self.folder)
        except ValueError:
            under = other.folder
        self.temps += [str(under / name) for name in other.temps]
        self.claims += [str(under / name) for name in other.claims]
        return self

    def notice(self) -> str:
        """One line for a log saying what was removed and why ("" when nothing was)."""
        if not len(self):
            return ""
        parts = []
        if self.temps:
            parts.append(f"{len(self.temps)} half-written temporary file(s)")
        if self.claims:
            parts.append(f"{len(self.claims)} claim file(s) of a run that has ended")
        names = sorted(self.temps + self.claims)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"removed {' and '.join(parts)} that an interrupted run left in {self.folder} ({shown})"


def clean_leftovers(folder: PathLike, max_age_s: float = 600.0) -> Leftovers:
    """Remove the leftover temp and claim files of ended runs in ``folder``.

    A temp file ``.<name>.<host>-<pid>-<random>.tmp`` (or ``.part``; ``host`` and ``random`` 8 hex
    digits each) goes when its writer process has ended on this machine (its pid is free, or reused
    by a process that started after the file last changed) or when it has not changed for
    ``max_age_s`` seconds (a writer on another machine). A claim ``.<name>.claim`` goes when the
    process its content names has ended (the same rule, from the time it records). Nothing else is
    touched, however it is named (a user's own hidden ``.notes.tmp`` or an empty ``.lock.claim``
    stays); a missing folder has no leftovers.

    Args:
        folder: the folder to clean (not its sub-folders).
        max_age_s: seconds without change after which a temp file of an unknown writer is stale.

    Returns:
        What was removed (``Leftovers.notice()`` says it in one line).
    """
    folder = check_path("folder", folder, "folder")
    found = Leftovers(folder)
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        if not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        temp = _TEMP.match(entry.name)
        if temp is not None:
            try:
                changed = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            stale, kind = now - changed > max_age_s or _writer_gone(temp["host"], temp["pid"], changed), found.temps
        elif _CLAIM.match(entry.name):
            stale, kind = _claim_is_stale(Path(entry.path)), found.claims
        else:
            continue
        if stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                kind.append(entry.name)
    return found


def remove_stale_temps(folder: PathLike, max_age_s: float = 600.0) -> int:
    """Remove the leftover temp and claim files of ended runs in ``folder`` (see ``clean_leftovers``).

    Args:
        folder: the folder to clean.
        max_age_s: seconds without change after which a temp file of an unknown writer is stale.

    Returns:
        How many files were removed.
    """
    return len(clean_leftovers(folder, max_age_s))


def _claim_path(path: Path) -> Path:
    return path.parent / _hidden_name(path.name, ".claim")


def _read_claim(claim: Path) -> dict | None:
    try:
        data = json.loads(claim.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _claim_is_stale(claim: Path) -> bool:
    data = _read_claim(claim)  # a claim is created whole (_create_claim): one without our content is not ours
    return data is not None and "token" in data and "pid" in data and _claimant_gone(data)


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
    pid, written = data.get("pid"), data.get("time")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    return _writer_gone(data.get("host"), pid, written if isinstance(written, (int, float)) else None)


class OutputClaim:
    """The right to write one output file, held through a hidden ``.<name>.claim`` file.

    Made by ``claim_output``. Write the output with ``save_png``/``write`` (atomic, never
    replacing a file that appeared meanwhile) or any atomic writer, then ``release()``; used
    as a context manager the claim is released on exit whatever happens.

    Args:
        path: the output file.
        claim: its claim file.
        token: what this claim wrote into the claim file (to release only its own).
    """

    def __init__(self, path: Path, claim: Path, token: str) -> None:
        self.path, self.claim_path, self.token = path, claim, token
        self.released = False

    def write(self, write: Callable[[BinaryIO], None]) -> Path:
        """Write the output atomically (never over an existing file) and release the claim.

        Args:
            write: writes the bytes into the open file.

        Returns:
            The output's path.
        """
        try:
            return atomic_write(self.path, write, replace=False)
        finally:
            self.release()

    def save_png(self, img: Image.Image | torch.Tensor | np.ndarray) -> Path:
        """Save a picture as the output (see ``save_png_atomic``) and release the claim.

        Args:
            img: the picture.

        Returns:
            The output's path.
        """
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


def _create_claim(claim: Path, body: bytes) -> bool:
    """Create ``claim`` holding ``body`` in one step (``atomic_write`` without replacing: a filled temp file
    linked into place), so that a claim file is never seen empty, which a run killed in between would leave
    and nobody could tell from a user's file; False when one exists."""
    try:
        atomic_write(claim, lambda f: f.write(body), replace=False)
    except FileExistsError:
        return False
    return True


def claim_output(path: PathLike) -> OutputClaim | None:
    """Claim ``path`` for writing, so that two processes never paint the same output.

    Returns None when ``path`` exists or a live process holds the claim; a claim left by a
    process that has ended (on this machine) is taken over. A claim held by a process on
    another machine (a shared folder) is honoured until it is released or removed by hand.

    Args:
        path: the output file.

    Returns:
        The claim, or None.
    """
    path = check_path("path", path)
    claim = _claim_path(path)
    token = secrets.token_hex(8)
    body = json.dumps({"pid": os.getpid(), "host": _HOST, "token": token, "time": time.time()}).encode()
    for _ in range(3):
        if path.exists():
            return None
        if not _create_claim(claim, body):
            if _claim_is_stale(claim) and _take_over(claim):
                continue
            return None
        if path.exists():  # finished by another process between the check and the claim
            OutputClaim(path, claim, token).release()
            return None
        return OutputClaim(path, claim, token)
    return None


public_names(globals())  # after every public definition
