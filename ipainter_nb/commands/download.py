"""``ipainter download``: fetch a preset's published weights (opt-in), checked before they are installed."""

from __future__ import annotations

import argparse

from ..core.download import check_download, download_weights
from .common import remove_leftovers

__all__ = ["cmd_download"]


def cmd_download(args: argparse.Namespace) -> int:
    """``ipainter download PRESET``: every argument is checked before any folder or file is made.

    A download streams into a hidden ``.part`` file that a stop (any stop signal) removes;
    one left by a run killed outright is removed by the next download into that folder.

    Args:
        args: the parsed flags (``preset``, ``dest_dir``, ``sha256``, ``url``, ``quiet``).

    Returns:
        0 (errors raise).
    """
    _, folder = check_download(args.preset, args.dest_dir, args.sha256, args.url)
    if folder.is_dir():
        remove_leftovers(folder)
    path = download_weights(args.preset, args.dest_dir, sha256=args.sha256, url=args.url, progress=not args.quiet)
    print(f"installed {path}")
    return 0
