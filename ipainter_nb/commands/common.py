"""What every command shares: its messages, the model flags, and the notice about leftovers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..checks import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, PROG, one_line, path_text, whole_number
from ..core.checkpoints import read_checkpoint_info
from ..core.devices import as_device
from ..core.models import DiffusionModel, load_model
from ..core.presets import PRESETS, find_weights
from ..errors import UserInputError
from ..images import clean_leftovers
from ..public import public_names

__all__ = ["PROG", "EXIT_USAGE", "EXIT_FAILED", "EXIT_INTERRUPTED", "one_line", "say_unless", "add_model_flags",
           "resolve_device", "model_info", "load", "describe_model", "remove_leftovers"]


def say_unless(quiet: bool) -> Callable[..., None]:
    """``print``, or a function that prints nothing when ``quiet``.

    Args:
        quiet: whether the command was asked to be quiet.
    """
    return (lambda *a, **k: None) if quiet else print


def add_model_flags(parser: argparse.ArgumentParser, default: str | None, loads_weights: bool = True) -> None:
    """``--model``, ``--preset``, ``--config`` and, when the command loads weights, ``--device`` and ``--dtype``.

    Args:
        parser: the command's parser.
        default: the default ``--model`` (None: no model unless given).
        loads_weights: whether the command loads the weights (then it takes a device and dtype).
    """
    parser.add_argument("--model", default=default, type=path_text, metavar="NAME_OR_PATH",
                        help=f"a preset ({', '.join(sorted(PRESETS))}) or a .pt/.safetensors checkpoint"
                        + (f" (default: {default})" if default else ""))
    parser.add_argument("--preset", default=None, metavar="NAME", choices=sorted(PRESETS),
                        help="the network and defaults of this preset, for a checkpoint file under another name")
    parser.add_argument("--config", default=None, type=path_text, metavar="FILE.json",
                        help="the network of a checkpoint that records none: a JSON object of guided-diffusion config keys")
    if loads_weights:
        parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
        parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                            help="precision of the network's weights (default: float32)")


def resolve_device(requested: str | None) -> str | None:
    """``--device``; under torchrun each process takes the GPU of its LOCAL_RANK.

    Args:
        requested: the ``--device`` value, or None.

    Returns:
        The device to load on, or None for load_model's choice (CUDA when available).
    """
    if requested is None:
        local_rank = _local_rank() if torch.cuda.is_available() else None
        return None if local_rank is None else f"cuda:{local_rank}"
    device = as_device(requested, "--device")
    local_rank = _local_rank() if device.type == "cuda" and device.index is None else None
    return str(device) if local_rank is None else f"cuda:{local_rank}"


def _local_rank() -> int | None:
    """torchrun's LOCAL_RANK (None outside torchrun): a variable inherited from elsewhere is named, not a traceback."""
    text = os.environ.get("LOCAL_RANK")
    if text is None:
        return None
    try:
        rank = whole_number(text)
    except UserInputError:
        rank = None
    if rank is None or rank < 0:
        raise UserInputError(f"LOCAL_RANK={text!r} is not a GPU index (torchrun sets it to 0, 1, ...): unset it or fix it")
    return rank


def model_info(args: argparse.Namespace) -> dict[str, Any]:
    """What the model flags name, checked without loading the weights (nothing is written).

    A preset's weights file must be found; ``--device`` must name a device this machine has.

    Args:
        args: the parsed flags (``model``, ``preset``, ``config`` and maybe ``device``).

    Returns:
        ``read_checkpoint_info``'s dict.
    """
    info = read_checkpoint_info(args.model, preset=args.preset, config=args.config)
    if str(args.model) in PRESETS:
        find_weights(info["preset"])  # a missing shipped file says how to get it back
    if getattr(args, "device", None) is not None:
        resolve_device(args.device)
    return info


def load(args: argparse.Namespace) -> DiffusionModel:
    """The model the flags name, loaded.

    Args:
        args: the parsed flags (``model``, ``preset``, ``config``, ``device``, ``dtype``).
    """
    return load_model(args.model, device=resolve_device(args.device), dtype=args.dtype, preset=args.preset,
                      config=args.config)


def describe_model(model: DiffusionModel) -> str:
    """``name (HxW, device, dtype)`` for a log line.

    Args:
        model: the loaded model.
    """
    size, dtype = model.image_size, str(model.dtype).removeprefix("torch.")
    return f"{model.name} ({size}x{size}, {model.device}, {dtype})"


def remove_leftovers(folder: Path) -> int:
    """Remove what an earlier run killed outright left in ``folder``, with one line saying what.

    The line is printed even by a quiet run: the folder changed, and the user should know why.

    Args:
        folder: the output folder (it exists).

    Returns:
        How many files were removed.
    """
    found = clean_leftovers(folder)
    if len(found):
        print(f"{PROG}: {found.notice()}")
        sys.stdout.flush()
    return len(found)


public_names(globals())  # after every public definition
