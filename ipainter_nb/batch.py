"""The folder format of ``ipainter paint``: which files pair up, each picture's seed, shards.

SOURCE holds ``<name>.<ext>`` (the composed picture) beside ``<name>_mask.<ext>`` (white =
keep); DEST receives ``<name>_<k>.png`` for sample k. A picture's seed depends only on
``--seed`` and its name, so shards, reruns, micro-batches and machines paint the same pictures.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .checks import broken_link, check_path, whole_number
from .core.arguments import check_whole
from .errors import UserInputError
from .images import IMAGE_SUFFIXES, OutputClaim, claim_output
from .public import public_names
from .signals import signals_deferred

__all__ = ["MASK_TAG", "Entry", "scan_source", "MAX_RUN_SEED", "image_seed", "output_path", "parse_shard", "shard_from_env", "take_shard",
           "claimed_batches"]

MASK_TAG = "_mask"


@dataclass(frozen=True)
class Entry:
    """One name in SOURCE: a picture with its mask, or a file that cannot be painted.

    Args:
        name: the picture's name without its extension.
        picture: the picture file, or None.
        mask: its mask file, or None.
        problem: why it cannot be painted, or None.
    """

    name: str
    picture: Path | None = None
    mask: Path | None = None
    problem: str | None = None  # why it cannot be painted, found from the names alone

    @property
    def label(self) -> str:
        """The name for messages: the picture's file name, or the name."""
        return self.picture.name if self.picture is not None else self.name


def scan_source(folder: Path) -> list[Entry]:
    """Pair ``<name>.<ext>`` with ``<name>_mask.<ext>``; everything else becomes a problem entry.

    Hidden files (temporary files of atomic writes) and sub-folders are ignored; a symbolic link
    to a file is that file, and one that leads nowhere is a problem entry that says so. Sorted
    by name, so every process of a sharded run sees the same order.

    Args:
        folder: SOURCE.

    Returns:
        One entry per name, sorted.
    """
    folder = check_path("folder", folder, "folder")
    try:
        listing = list(folder.iterdir())
    except OSError as exc:
        raise UserInputError(f"cannot read the source folder {folder}: {exc.strerror}; check its permissions") from None
    pictures: dict[str, list[Path]] = {}
    masks: dict[str, Path] = {}
    others: list[Path] = []
    for path in listing:
        if path.name.startswith(".") or path.is_dir():  # a pipe or a device is listed, to be named, not skipped unsaid
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            others.append(path)
        elif path.stem.endswith(MASK_TAG) and len(path.stem) > len(MASK_TAG):
            masks[path.stem[: -len(MASK_TAG)]] = path
        else:
            pictures.setdefault(path.stem, []).append(path)
    entries = []
    for name, paths in pictures.items():
        if len(paths) > 1:
            listed = ", ".join(sorted(p.name for p in paths))
            entries.append(Entry(name, sorted(paths)[0], problem=f"several pictures are named {name!r} ({listed}); keep one"))
        elif name not in masks:
            entries.append(Entry(name, paths[0], problem=f"no mask {name}{MASK_TAG}.png beside it (white = keep)"))
        else:
            entries.append(Entry(name, paths[0], masks[name], problem=_not_a_file(paths[0]) or _not_a_file(masks[name])))
    for name, mask in masks.items():
        if name not in pictures:
            entries.append(Entry(mask.name, mask=mask, problem=f"mask without a picture {name}.png"))
    for path in others:
        entries.append(Entry(path.name, problem=f"not an image (expected <name>.png with <name>{MASK_TAG}.png)"))
    return sorted(entries, key=lambda e: os.fsencode(e.name))


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a picture file (a link to nowhere, a pipe, a device), else None."""
    problem = broken_link(path)
    if problem is not None or path.is_file():
        return problem
    return f"{path} is not a regular file (a named pipe, a device or a socket): it is not read"


#: The largest ``--seed`` of ``ipainter paint``: ``image_seed`` keeps 31 bits of it (a larger or a negative
#: seed would give the pictures of one in 0..MAX_RUN_SEED).
MAX_RUN_SEED = 2**31 - 1


def image_seed(seed: int, name: str) -> int:
    """The seed of one picture: depends only on ``--seed`` and its name (its bytes on disk, so a
    name that is not valid UTF-8 has a seed too).

    Args:
        seed: the run's ``--seed``, in 0..``MAX_RUN_SEED``.
        name: the picture's name.

    Returns:
        A seed in 0..2**63-1.
    """
    seed = check_whole("seed", seed, 0, MAX_RUN_SEED + 1)
    if not isinstance(name, str):
        raise UserInputError(f"name must be a str (the picture's name), got {type(name).__name__}")
    return (seed * 2**32 + zlib.crc32(os.fsencode(name))) % 2**63


def output_path(dest: Path, name: str, k: int) -> Path:
    """Where sample ``k`` of picture ``name`` goes.

    Args:
        dest: the output folder.
        name: the picture's name.
        k: the sample's index.
    """
    dest = check_path("dest", dest, "folder")
    if not isinstance(name, str) or not name or "/" in name or "\0" in name:
        raise UserInputError(f"name must be a picture's name (a non-empty str, no '/'), got {name!r}")
    return dest / f"{name}_{check_whole('k', k, 0)}.png"


#: ``i/n`` in ASCII digits, no signs (blanks around each number allowed)
_SHARD = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


def parse_shard(text: str) -> tuple[int, int] | str:
    """``"i/n"`` (0 <= i < n) or ``"auto"`` (from torchrun's RANK / WORLD_SIZE); a ``UserInputError`` (a ValueError) otherwise.

    Args:
        text: the ``--shard`` value.

    Returns:
        (i, n), or ``"auto"``.
    """
    if text == "auto":
        return "auto"
    match = _SHARD.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise UserInputError(f"expected i/n with 0 <= i < n (e.g. 0/2) or 'auto', got {text!r}")
    i, n = int(match[1]), int(match[2])
    if n < 1 or i >= n:
        raise UserInputError(f"{text!r}: need 0 <= i < n (shards are numbered from 0)")
    return i, n


def shard_from_env() -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` as torchrun sets them (``(0, 1)`` outside torchrun)."""
    rank, world = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
    try:
        i, n = whole_number(rank), whole_number(world)
    except ValueError:
        raise UserInputError(f"--shard auto: RANK={rank!r} / WORLD_SIZE={world!r} are not integers") from None
    if not 0 <= i < n:
        raise UserInputError(f"--shard auto: need 0 <= RANK < WORLD_SIZE, got RANK={i}, WORLD_SIZE={n}")
    return i, n


def take_shard(entries: list[Entry], shard: tuple[int, int]) -> list[Entry]:
    """The entries of shard ``i`` of ``n``: every n-th of the sorted names, from index i.

    Args:
        entries: every entry, sorted.
        shard: (i, n), 0 <= i < n (``parse_shard`` reads it).
    """
    if not (isinstance(shard, tuple) and len(shard) == 2):
        raise UserInputError(f"shard must be (i, n) with 0 <= i < n (parse_shard reads 'i/n'), got {shard!r}")
    n = check_whole("n", shard[1], 1)
    i = check_whole("i", shard[0], 0, n)
    return [e for index, e in enumerate(entries) if index % n == i]


def claimed_batches(outputs: list[Path], batch_size: int, overwrite: bool = False) -> Iterator[list[tuple[int, OutputClaim | None]]]:
    """Runs of consecutive sample indices k whose output this process may write, ``batch_size`` at most.

    Each output is claimed (``images.claim_output``) just before its batch is handed out, so
    two processes painting into one folder share the work instead of replacing each other's
    pictures: an output that exists or that another live run holds is left out. With
    ``overwrite`` an existing output is repainted (its claim is then ``None``: write it with
    ``save_png_atomic``). The caller releases the claims (``OutputClaim`` is a context manager);
    closing the iterator early (``contextlib.closing``) releases those it still holds.

    Args:
        outputs: the output path of each sample index.
        batch_size: the most indices in one batch.
        overwrite: whether existing outputs are painted again.

    Returns:
        An iterator of batches of (k, its claim, or None for an output replaced with ``overwrite``).
    """
    run: list[tuple[int, OutputClaim | None]] = []
    handed: list[tuple[int, OutputClaim | None]] = []
    try:
        for k, path in enumerate(outputs):
            if len(run) == batch_size:  # hand a full run over before claiming more: a claim is held only while it is painted
                handed, run = run, []
                yield handed
            # a stop signal between taking a claim and recording it would leave the claim behind
            with signals_deferred():
                claim = claim_output(path)
                taken = claim is not None or (overwrite and path.exists())
                if taken:
                    run.append((k, claim))
            if not taken and run:  # a gap (done, or another run's): the batch so far goes first
                handed, run = run, []
                yield handed
        if run:
            handed, run = run, []
            yield handed
    finally:  # stopped early (an error, Ctrl-C, SIGTERM): drop the claims not written (a release is idempotent)
        for _, claim in run + handed:
            if claim is not None:
                claim.release()


public_names(globals())  # after every public definition
