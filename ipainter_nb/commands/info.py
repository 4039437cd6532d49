"""``ipainter schedule`` (a schedule's model calls, and its plot) and ``ipainter models``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..checks import apart_from, writable_file
from ..core.checkpoints import read_checkpoint_info
from ..core.models import check_t_T, load_model
from ..core.presets import PRESETS, WeightsNotFoundError, find_weights, search_dirs
from ..core.schedules import ScheduleConfig, count_nfe, repaint, resampling_window
from ..errors import UserInputError
from ..file_kinds import PNG_FILE
from ..public import public_names
from ..viz import save_figure, schedule_figure
from .common import remove_leftovers
from .schedule_args import auto_schedule, flags_of, schedule_from_args

__all__ = ["check_schedule", "cmd_schedule", "cmd_models"]


def check_schedule(args: argparse.Namespace) -> ScheduleConfig:
    """Check every argument of ``schedule`` (``--plot``, the model, the flags); nothing is written.

    Args:
        args: the parsed flags.

    Returns:
        The schedule the flags ask for.
    """
    if args.plot:
        args.plot = writable_file(Path(args.plot), "--plot")  # ~ expanded
        apart_from(args.plot, "--plot", {"--model": args.model, "--config": args.config})
        writable_file(args.plot, "--plot", PNG_FILE)  # after the input files, which say more
    if args.config is not None and args.model is None:
        raise UserInputError("--config describes the network of a --model file: give --model FILE too (or drop --config)")
    auto = getattr(args, "schedule", None) == "auto"
    if args.model is None and args.preset is None:
        if auto:
            raise UserInputError("--schedule auto plans for a model's noise schedule: give --model (e.g. --model demo)")
        return schedule_from_args(args, ScheduleConfig(), "the paper (250 steps, jumps 10 x 10, stop at 100)")
    info = read_checkpoint_info(args.model or args.preset, preset=args.preset if args.model else None, config=args.config)
    if auto:  # the planner reads the model's noise schedule: load it on the CPU (no picture is painted)
        planner = load_model(args.model or args.preset, device="cpu", preset=args.preset if args.model else None,
                             config=args.config)
        cfg = auto_schedule(args, planner, None)
    else:
        cfg = schedule_from_args(args, info["default_schedule"], info["origin"])
    check_t_T(cfg.t_T, info["num_train_steps"], info["name"])
    return cfg


def cmd_schedule(args: argparse.Namespace) -> int:
    """``ipainter schedule``: print a schedule's NFE against full RePaint; ``--plot`` saves its figure.

    Args:
        args: the parsed flags.

    Returns:
        0 (errors raise).
    """
    cfg = check_schedule(args)
    times = cfg.times()
    nfe = count_nfe(times)
    print(f"schedule: {cfg.describe()}")
    print(f"flags: {flags_of(cfg)}")
    print(f"model calls (NFE): {nfe}   steps: {len(times) - 1}")
    if cfg.kind != "plain":
        # a grid window's jumps count grid levels: compare with the paper's RePaint at this t_T instead
        ref = cfg if cfg.window_levels is None else ScheduleConfig.for_t_T(cfg.t_T, ScheduleConfig(stop_resampling_at=None))
        full = count_nfe(repaint(cfg.t_T, ref.jump_length, ref.jump_n_sample))
        print(f"full RePaint (t_T={cfg.t_T}, jumps {ref.jump_length} x {ref.jump_n_sample}): {full} NFE; "
              f"this schedule needs {100 * nfe / full:.0f}% of it")
    print(f"no resampling (t_T={cfg.t_T}): {cfg.t_T} NFE")
    window = resampling_window(times)
    if window is not None:
        print(f"resampling between t={window[0]} and t={window[1]}")
    if args.plot:
        remove_leftovers(Path(args.plot).absolute().parent)  # a killed earlier --plot's temp file
        save_figure(schedule_figure(cfg), Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """``ipainter models``: the presets, whether their weights are found, and where they are looked for.

    Args:
        args: the parsed flags (none).

    Returns:
        0.
    """
    print("weights are looked for in: " + ", ".join(str(d) for d in search_dirs()) + " (set IPAINTER_WEIGHTS to add folders)")
    for name in sorted(PRESETS):
        preset = PRESETS[name]
        size = preset.unet_config["image_size"]
        try:
            path = find_weights(preset)
            status = f"found {path} ({path.stat().st_size / 2**20:.1f} MiB)"
        except WeightsNotFoundError:
            status = f"not found: {preset.how_to_get()}"
        print(f"{name:<20} {f'{size}x{size}':<8} {preset.default_schedule.nfe:>5} NFE by default  {status}")
        print(f"{'':<20} {preset.description}")
    return 0


public_names(globals())  # after every public definition
