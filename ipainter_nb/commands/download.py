"""``ipainter download``: fetch a preset's published weights (opt-in), checked before they are installed."""

from __future__ import annotations

import argparse

from ..checks import check_folder
from ..core.download import check_download, download_weights
from ..public import public_names
from .common import remove_leftovers

__all__ = ["cmd_download"]


def cmd_download(args: argparse.Namespace) -> int:
    """``ipainter download PRESET``: every argument is checked before any folder or file is made.

    A download streams into a hidden ``.part`` file that a stop (any stop signal) removes;
    one left by a run killed outright is removed by the next download into that folder. A
    failed download into a new ``--dest-dir`` leaves no folder behind.

    Args:
        args: the parsed flags (``preset``, ``dest_dir``, ``sha256``, ``url``, ``quiet``).

    Returns:
        0 (errors raise).
    """
    _, folder = check_download(args.preset, args.dest_dir, args.sha256, args.url)
    folder = check_folder(folder, "--dest-dir", parents=True)
    if folder.is_dir():
        remove_leftovers(folder)
    path = download_weights(args.preset, folder, sha256=args.sha256, url=args.url, progress=not args.quiet)
    print(f"installed {path}")
    return 0


public_names(globals())  # after every public definition
