"""``ipainter demo``: compose the built-in scene, paint it, and write pictures, a GIF and plots."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ..checks import check_folder, make_folder
from ..core.sampler import paint
from ..core.schedules import ScheduleConfig
from ..demo.composition import demo_composition
from ..errors import UserInputError
from ..images import make_grid, mask_to_pil, save_png_atomic
from ..public import public_names
from ..viz import frequency_figure, save_figure, timesteps_gif
from .common import describe_model, load, remove_leftovers, say_unless

__all__ = ["MAX_DEMO_SAMPLES", "demo_files", "cmd_demo"]

MAX_DEMO_SAMPLES = 64


def demo_files(num_samples: int) -> dict[str, str]:
    """What ``demo`` writes, in order, with what each file holds.

    Args:
        num_samples: how many samples are painted (one file each).
    """
    return {
        "composition.png": "the composed picture, generated region grey",
        "mask.png": "keep mask, white = keep",
        "composition.json": "the scene, reloadable with Composition.from_json",
        **{f"sample_{k}.png": f"sample {k}" for k in range(num_samples)},
        "samples_grid.png": "all samples side by side",
        "timesteps.gif": "predicted x0 step by step",
        "frequency.png": "band SNR and x0 spectra",
    }


def cmd_demo(args: argparse.Namespace) -> int:
    """``ipainter demo``: every argument is checked and the model loaded before ``--out`` is created.

    Args:
        args: the parsed flags.

    Returns:
        0 (errors raise).
    """
    out = check_folder(Path(args.out), "--out")
    files = demo_files(args.num_samples)
    existing = [name for name in files if os.path.lexists(out / name)]  # a link that leads nowhere is a file the user made
    if existing and not args.overwrite:
        shown = ", ".join(existing[:4]) + (f" and {len(existing) - 4} more" if len(existing) > 4 else "")
        raise UserInputError(f"--out {out} already holds {shown}: pass --overwrite to replace them, or another --out")
    model = load(args)
    cfg = model.default_schedule
    if args.schedule_steps is not None:
        cfg = ScheduleConfig.for_t_T(args.schedule_steps, like=cfg)
    model.check_t_T(cfg.t_T)
    # every argument passed: from here on the command writes
    make_folder(out, "--out")
    remove_leftovers(out)
    comp = demo_composition(model.image_size)
    image, keep = comp.render()
    say = say_unless(args.quiet)
    say(f"model {describe_model(model)}; schedule {cfg.describe()}")

    result = paint(model, image, keep, times=cfg, num_samples=args.num_samples, seed=args.seed,
                   progress=not args.quiet, max_frames=args.frames)
    tick = time.perf_counter()
    save_png_atomic(comp.render_preview(), out / "composition.png")
    save_png_atomic(mask_to_pil(keep), out / "mask.png")
    settings = {"model": model.name, "schedule": cfg.to_dict(), "num_samples": args.num_samples}
    comp.to_json(out / "composition.json", settings=settings, seed=args.seed)
    for k in range(args.num_samples):
        save_png_atomic(result.samples[k], out / f"sample_{k}.png")
    save_png_atomic(make_grid(result.samples, nrow=4), out / "samples_grid.png")
    timesteps_gif(result, out / "timesteps.gif", known=(image, keep), final=result.samples, nrow=4, captions=True)
    save_figure(frequency_figure(model, cfg, image, result), out / "frequency.png")
    write_s = time.perf_counter() - tick

    print(f"painted {args.num_samples} sample(s) in {result.elapsed_s:.1f} s ({result.nfe} NFE, "
          f"{1000 * result.seconds_per_nfe:.1f} ms/NFE); files written in {write_s:.1f} s")
    print(f"wrote {len(files)} files to {out}/:")
    for name, what in files.items():
        print(f"  {name:<18} {what}")
    return 0


public_names(globals())  # after every public definition
