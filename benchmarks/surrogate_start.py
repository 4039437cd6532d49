"""A start from the surrogate's conditional picture, on the demo network (an experiment, not in the product).

    python benchmarks/surrogate_start.py                  # sets 0 and 1, 32 compositions each (about 25 min on 2 cores)
    python benchmarks/surrogate_start.py --quick          # two compositions, short schedules (a smoke run)
    python benchmarks/surrogate_start.py --figure         # the picture: kept cutouts, the default's, the start at t0=100

Instead of pure noise at the top level, the walk starts at level ``t0`` of the 250-level schedule
from a draw of the **demo scenes' Gaussian surrogate** (``exact.demo_image_model()``, the picture
model ``plan_schedule`` calibrates the demo network to) conditioned on the composition's kept
pixels, noised to ``t0``; then a plain DDPM walk with RePaint's paste of the noised known pixels
down to the picture: ``t0 + 1`` model calls, no resampling. The surrogate carries the coarse
agreement with the kept pixels (its conditional is exact for it); the network redraws everything
finer than what survives the noise at ``t0``.

Measured as ``planner_demo.py`` measures (``quality.py``'s seam, sharpness over real scenes' and
KID against 512 real scenes), against RePaint 100/5/5 and the demo model's default, on set 0 (the
tuning set of the demo's schedules) and set 1 (held-out). The values of ``t0`` were chosen before
either set was painted (a spread over the default's calls); nothing here was tuned on set 1.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, base_parser, environment, log, markdown_table, num_threads, threads_for, write_result  # noqa: E402
from quality import (  # noqa: E402
    Features,
    bootstrap_ratio,
    kid,
    make_compositions,
    paint_grouped,
    real_scenes,
    region_measures,
    seam_each,
)

from ipainter_nb.core.exact import demo_image_model  # noqa: E402
from ipainter_nb.core.models import DiffusionModel, load_model  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig  # noqa: E402
from ipainter_nb.images import make_grid, save_png_atomic, upscale_nearest  # noqa: E402

NAME = "surrogate_start"
LEVELS = 250
REPAINT = ScheduleConfig(100, jump_length=5, jump_n_sample=5, stop_resampling_at=None, start_resampling_at=None)
QUICK_REFERENCE = ScheduleConfig(10, jump_length=2, jump_n_sample=2, stop_resampling_at=None, start_resampling_at=None)
HEADERS = ["variant", "model calls", "seam (geo. mean [95%])", "seam / reference (paired [95%])", "sharpness / real", "KID×1000"]


def surrogate_start(model: DiffusionModel, images: torch.Tensor, keeps: torch.Tensor, x0: torch.Tensor, t0: int,
                    seed: int) -> torch.Tensor:
    """The pictures of a walk from level ``t0`` (of ``LEVELS``) started at ``x0`` noised: DDPM steps, known pixels pasted."""
    schedule = model.schedule(LEVELS)
    g = torch.Generator().manual_seed(seed)
    a = float(schedule.alphas_cumprod[t0])
    x = math.sqrt(a) * x0 + math.sqrt(1 - a) * torch.randn(x0.shape, generator=g)
    with torch.no_grad():
        for t in range(t0, -1, -1):
            level = torch.full((images.shape[0],), t, dtype=torch.long)
            x = keeps * schedule.q_sample(images, level, torch.randn(images.shape, generator=g)) + (1 - keeps) * x
            mean, log_var, _ = schedule.p_mean_variance(model(x, level, schedule), x, level, clip_x0=True, eta=1.0, to=t - 1)
            x = mean + torch.exp(0.5 * log_var) * torch.randn(x.shape, generator=g) if t > 0 else mean
    return (keeps * images + (1 - keeps) * x).clamp(-1, 1)


def composition_set(model: DiffusionModel, set_seed: int, n: int) -> tuple[list, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Set ``set_seed``'s first ``n`` compositions, their pictures and masks stacked, and a surrogate picture for each."""
    comps = make_compositions(n, model.image_size, seed=set_seed)
    images, keeps = torch.stack([c[0] for c in comps]), torch.stack([c[1] for c in comps])
    surrogate = demo_image_model()
    x0 = torch.cat([surrogate.conditional(img, keep).sample(1, torch.Generator().manual_seed(500000 + 1000 * set_seed + i))
                    for i, (img, keep) in enumerate(comps)]).float()
    return comps, images, keeps, x0


def measure_set(model: DiffusionModel, set_seed: int, n: int, starts: list[int], reference: ScheduleConfig,
                with_default: bool, n_real: int) -> str:
    """Set ``set_seed`` painted by the reference, the default and each surrogate start; its table."""
    comps, images, keeps, x0 = composition_set(model, set_seed, n)
    real_ref, real_masked = real_scenes(n_real, seed=20240601, size=model.image_size), real_scenes(n, 777, model.image_size)
    feats = Features(real_ref)
    ref_feats = feats(real_ref)
    real_sharp, _ = region_measures(real_masked, keeps)
    pictures: dict[str, tuple[torch.Tensor, int]] = {}
    for name, cfg in [("reference", reference)] + ([("the model's default", model.default_schedule)] if with_default else []):
        start = time.perf_counter()
        pictures[name] = paint_grouped(model, comps, [(tuple(cfg.times()), cfg.eta)] * n, 1000 * set_seed, 16), cfg.nfe
        log(f"  set {set_seed} {name}: {time.perf_counter() - start:.0f}s")
    for t0 in starts:
        pictures[f"surrogate start at t0={t0}"] = surrogate_start(model, images, keeps, x0, t0, 1000 * set_seed), t0 + 1
    pictures["the surrogate's picture alone"] = (keeps * images + (1 - keeps) * x0).clamp(-1, 1), 0
    ref_seams = seam_each(pictures["reference"][0], keeps)
    rows = []
    for name, (pics, calls) in pictures.items():
        seams = seam_each(pics, keeps)
        alone, paired = bootstrap_ratio(seams, np.ones_like(seams)), bootstrap_ratio(seams, ref_seams)
        rows.append([name, str(calls), "{:.2f} [{:.2f}, {:.2f}]".format(*alone[:3]), "×{:.2f} [{:.2f}, {:.2f}]".format(*paired[:3]),
                     f"{region_measures(pics, keeps)[0] / real_sharp:.3f}", f"{1000 * kid(feats(pics), ref_feats):.0f}"])
    real_seams = seam_each(real_masked, keeps)
    rows.append(["real scenes", "—", "{:.2f} [{:.2f}, {:.2f}]".format(*bootstrap_ratio(real_seams, np.ones_like(real_seams))[:3]),
                 "—", "1.000", f"{1000 * kid(feats(real_masked), ref_feats):.0f}"])
    return markdown_table(HEADERS, rows)


def figure(model: DiffusionModel, n: int, results_dir: str | Path | None, quick: bool) -> Path:
    """The first ``n`` compositions of set 1 (held-out): kept cutouts, the default's pictures, the start at t0=100
    (with ``quick``: the short reference, t0=3)."""
    comps, images, keeps, x0 = composition_set(model, 1, n)
    cfg = QUICK_REFERENCE if quick else model.default_schedule
    default = paint_grouped(model, comps, [(tuple(cfg.times()), cfg.eta)] * n, 1000, 16)
    started = surrogate_start(model, images, keeps, x0, 3 if quick else 100, 1000)
    grid = upscale_nearest(make_grid(torch.cat([images * keeps, default, started]), nrow=n), 3)
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    return save_png_atomic(grid, folder / f"{NAME}{'.quick' if quick else ''}.png")


def main(argv: list[str] | None = None) -> str:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="compositions per set (default 32; 2 with --quick)")
    p.add_argument("--sets", default="0,1", help="composition sets, comma-separated (default 0,1: tuning, held-out)")
    p.add_argument("--t0", default=None, help="start levels of 250, comma-separated (default 70,100,145; 3 with --quick)")
    p.add_argument("--figure", action="store_true", help="only the picture: kept cutouts, the default's, the start at t0=100")
    args = p.parse_args(argv)
    with num_threads(threads_for(args)):
        return _run(args)


def _run(args: argparse.Namespace) -> str:
    model = load_model("demo")
    if args.figure:
        return str(figure(model, args.n or (2 if args.quick else 6), args.results_dir, args.quick))
    n = args.n or (2 if args.quick else 32)
    starts = [int(v) for v in (args.t0 or ("3" if args.quick else "70,100,145")).split(",")]
    reference = QUICK_REFERENCE if args.quick else REPAINT
    parts = []
    for s in (int(v) for v in args.sets.split(",")):
        table = measure_set(model, s, n, starts, reference, not args.quick, 32 if args.quick else 512)
        parts.append(f"### Set {s} ({'tuning' if s == 0 else 'held-out' if s == 1 else 'another set'}), {n} compositions\n\n{table}")
    text = (f"## A start from the surrogate's conditional picture on the demo network\n\n"
            f"The reference is {reference.describe()}. Seam: 1 = no visible seam (real scenes "
            "about 0.9); sharpness of the generated region over real scenes' under the same masks; KID×1000 against "
            "real scenes (lower is closer; with 32 pictures it moves a lot from set to set).\n\n"
            + "\n\n".join(parts) + f"\n\n_{environment()}_\n")
    write_result(NAME, text, args.results_dir, args.quick)
    return text


if __name__ == "__main__":
    print(main())
