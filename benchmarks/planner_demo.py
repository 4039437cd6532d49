"""The planner on the demo network: seam, sharpness and KID against RePaint, tuning and held-out sets.

    python benchmarks/planner_demo.py                                   # sets 0 and 1, 64 compositions each
    python benchmarks/planner_demo.py --sets 0 --n 16 --variants "model default" \\
        --config 'flat ramp={"t_T": 250, "jump_length": 1, ...}'      # a candidate schedule, tuning set only
    python benchmarks/planner_demo.py --cache /tmp/planner_demo         # keep every variant's pictures

Compositions are ``quality.make_compositions`` (2-4 cutouts of the shipped pack, 64²); set
``s`` is ``make_compositions(n, 64, seed=s)`` painted with seeds ``1000 s + i``, exactly as
``quality.py --seed s`` paints them, so set 0 is ``quality.md``'s and set 1
``quality_set1.md``'s. Set 0 is the **tuning** set (schedules were chosen on it), set 1 the
**held-out** set (measured once, nothing chosen on it); the two are reported side by side.

Unlike ``quality.py``, every variant is a ``ScheduleConfig`` and is painted with its own
``eta`` (a plan's DDIM steps stay DDIM steps).

Measures (``quality.py``'s): per-picture seam ratio, geometric mean with a 95% bootstrap
interval over compositions, and paired against RePaint (composition i, seed i); the pooled
seam ratio; generated-region sharpness over real scenes' under the same masks; KID×1000
against 512 real scenes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, environment, log, markdown_table, num_threads, threads_for, write_result  # noqa: E402
from quality import (  # noqa: E402
    Features,
    bootstrap_ratio,
    kid,
    make_compositions,
    paint_grouped,
    real_scenes,
    region_measures,
    seam_each,
    seam_ratio,
    sharpness_each,
    weights_info,
)

from ipainter_nb.core.models import DiffusionModel, load_model  # noqa: E402
from ipainter_nb.core.presets import DEMO_WEIGHTS  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig  # noqa: E402
from ipainter_nb.core.schedules.plan import plan_schedule  # noqa: E402

NAME = "planner_demo"
SET_NAMES = {0: "tuning", 1: "held-out"}
REPAINT = ScheduleConfig(100, jump_length=5, jump_n_sample=5, stop_resampling_at=None, start_resampling_at=None)

Planner = Callable[[torch.Tensor], ScheduleConfig]


def standard_variants(model: DiffusionModel) -> dict[str, Planner]:
    """RePaint (t_T=100 j=5 r=5), the model's default, and plan_schedule's quality plan at its own calls
    and within 0.3x RePaint's and the earlier benchmark's 168 calls."""
    return {
        "RePaint": lambda keep: REPAINT,
        "model default": lambda keep: model.default_schedule,
        "plan_schedule quality": lambda keep: plan_schedule(model, keep),
        "plan_schedule (budget 144)": lambda keep: plan_schedule(model, keep, budget=144),
        "plan_schedule (budget 168)": lambda keep: plan_schedule(model, keep, budget=168),
    }


def paint_set(model: DiffusionModel, comps: list[tuple[torch.Tensor, torch.Tensor]], configs: list[ScheduleConfig],
              first_seed: int, batch: int) -> torch.Tensor:
    """Composition i painted by ``configs[i]`` (with its eta) with seed ``first_seed + i``; batches share a config."""
    return paint_grouped(model, comps, [(tuple(c.times()), c.eta) for c in configs], first_seed, batch)


def cached_paint(cache: Path | None, name: str, configs: list[ScheduleConfig], paint: Callable[[], torch.Tensor],
                 tag: str) -> tuple[torch.Tensor, float | None]:
    """The pictures from ``cache`` when the same configs painted the same set before, else painted (and kept)."""
    digest = hashlib.sha1(json.dumps([c.to_dict() for c in configs] + [tag], sort_keys=True).encode()).hexdigest()[:12]
    path = None if cache is None else cache / f"{tag}_{digest}.pt"
    if path is not None and path.is_file():
        log(f"  {name}: from {path}")
        return torch.load(path), None
    start = time.perf_counter()
    samples = paint()
    seconds = time.perf_counter() - start
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        torch.save(samples, path)
        path.with_suffix(".txt").write_text(f"{name}\n{describe(configs)}\n")
    return samples, seconds


def describe(configs: list[ScheduleConfig]) -> str:
    distinct = sorted({c.describe() for c in configs})
    return distinct[0] if len(distinct) == 1 else f"per mask ({len(distinct)} distinct plans)"


def measure_set(model: DiffusionModel, set_seed: int, n: int, variants: dict[str, Planner], batch: int,
                cache: Path | None, n_real: int = 512) -> tuple[str, dict[str, dict]]:
    """Paint set ``set_seed`` with every variant; its table and the per-variant figures."""
    size = model.image_size
    comps = make_compositions(n, size, seed=set_seed)
    keeps = torch.stack([k for _, k in comps])
    real_ref = real_scenes(n_real, seed=20240601, size=size)
    real_masked = real_scenes(n, seed=777, size=size)
    feats = Features(real_ref)
    ref_feats = feats(real_ref)
    real_sharp, _ = region_measures(real_masked, keeps)
    results: dict[str, dict] = {}
    for name, planner in variants.items():
        start = time.perf_counter()
        configs = [planner(keep) for _, keep in comps]
        plan_s = time.perf_counter() - start
        samples, seconds = cached_paint(cache, name, configs,
                                        lambda: paint_set(model, comps, configs, 1000 * set_seed, batch), f"set{set_seed}_n{n}")
        seams = seam_each(samples, keeps)
        results[name] = dict(
            nfe=float(np.mean([c.nfe for c in configs])), schedule=describe(configs), samples=samples, seams=seams,
            seam=bootstrap_ratio(seams, np.ones_like(seams))[:3], pooled=seam_ratio(samples, keeps),
            sharp=region_measures(samples, keeps)[0] / real_sharp, sharp_each=sharpness_each(samples, keeps),
            kid=1000 * kid(feats(samples), ref_feats), seconds=seconds, plan_s=plan_s)
        log(f"  set {set_seed} {name}: seam {results[name]['seam'][0]:.2f} "
            f"[{results[name]['seam'][1]:.2f}, {results[name]['seam'][2]:.2f}], {results[name]['nfe']:.0f} calls"
            + (f", {seconds:.0f}s" if seconds else ""))
    rows = []
    ref = results.get("RePaint")
    for name, r in results.items():
        vs = "—"
        if ref is not None and name != "RePaint":
            g, lo, hi, _ = bootstrap_ratio(r["seams"], ref["seams"])
            vs = f"×{g:.2f} [{lo:.2f}, {hi:.2f}]"
        calls = f"{r['nfe']:.0f}" + (f" ({r['nfe'] / REPAINT.nfe:.2f}×)" if ref is not None else "")
        rows.append([name, calls, "{:.2f} [{:.2f}, {:.2f}]".format(*r["seam"]), vs, f"{r['pooled']:.2f}",
                     f"{r['sharp']:.3f}", f"{r['kid']:.0f}"])
    real_seams = seam_each(real_masked, keeps)
    real_seam = bootstrap_ratio(real_seams, np.ones_like(real_seams))[:3]
    rows.append(["real scenes (reference)", "—", "{:.2f} [{:.2f}, {:.2f}]".format(*real_seam),
                 "—", f"{seam_ratio(real_masked, keeps):.2f}", "1.000", f"{1000 * kid(feats(real_masked), ref_feats):.0f}"])
    table = markdown_table(["variant", "model calls", "seam (geo. mean [95%])", "seam / RePaint (paired [95%])",
                            "pooled seam", "sharpness / real", "KID×1000"], rows)
    schedules = "\n".join(f"- {name}: {r['schedule']}" for name, r in results.items())
    return f"{table}\n\nSchedules:\n\n{schedules}", results


def parse_configs(items: list[str]) -> dict[str, Planner]:
    out: dict[str, Planner] = {}
    for item in items:
        name, _, spec = item.partition("=")
        config = ScheduleConfig(**json.loads(spec))
        out[name.strip()] = lambda keep, c=config: c
    return out


def main(argv: list[str] | None = None) -> str:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64, help="compositions per set (default 64)")
    p.add_argument("--sets", default="0,1", help="composition sets, comma-separated (default 0,1: tuning, held-out)")
    p.add_argument("--batch", type=int, default=16, help="compositions per model call (default 16)")
    p.add_argument("--variants", default=None, help="comma-separated standard variants (default all)")
    p.add_argument("--config", action="append", default=[],
                   help="NAME=JSON: one more variant, a ScheduleConfig's settings as JSON (repeatable)")
    p.add_argument("--cache", default=None, help="folder keeping each variant's pictures (reused when the same)")
    p.add_argument("--n-real", type=int, default=None, help="real scenes for KID (default 512; 32 with --quick)")
    p.add_argument("--name", default=NAME, help=f"result file name (default {NAME})")
    args = p.parse_args(argv)
    with num_threads(threads_for(args)):
        return _run(args)


def _run(args: argparse.Namespace) -> str:
    if not DEMO_WEIGHTS.is_file():
        raise SystemExit(f"the trained demo weights {DEMO_WEIGHTS} are missing")
    model = load_model("demo")
    variants = standard_variants(model)
    if args.variants is not None:
        wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
        unknown = sorted(set(wanted) - set(variants))
        if unknown:
            raise SystemExit(f"--variants: unknown {unknown}; the variants are {sorted(variants)}")
        variants = {k: v for k, v in variants.items() if k in wanted}
    variants.update(parse_configs(args.config))
    cache = Path(args.cache) if args.cache else None
    sets = [int(s) for s in args.sets.split(",")]
    n_real = args.n_real or (32 if args.quick else 512)
    parts = []
    for s in sets:
        label = SET_NAMES.get(s, "another set")
        table, _ = measure_set(model, s, args.n, variants, args.batch, cache, n_real)
        parts.append(f"### Set {s} ({label}): make_compositions(seed={s}), paint seeds {1000 * s}..{1000 * s + args.n - 1}"
                     f"\n\n{table}")
    text = (f"## The planner on the demo network ({'shipped demo weights: ' + weights_info(DEMO_WEIGHTS)}; "
            f"{args.n} compositions a set at 64², 1 sample each)\n\n"
            "Seam: per-picture ratio of the squared colour step across the mask boundary to the same inside the "
            "generated region (1 ≈ no visible seam; the real scenes' row: the same under the same masks), geometric mean "
            "over the compositions with a "
            "95% bootstrap interval; paired: composition i painted with the same seed by both. Sharpness: generated "
            f"region, over real scenes' under the same masks. KID×1000 against {n_real} real scenes (quality.py's "
            "features). Every schedule is painted with its own eta.\n\n"
            + "\n\n".join(parts) + f"\n\n_{environment()}_\n")
    print(text)
    write_result(args.name, text, args.results_dir, quick=args.quick)
    return text


if __name__ == "__main__":
    main()
