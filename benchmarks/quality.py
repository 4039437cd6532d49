"""The Intelligent Painter's claims in miniature, on the demo model.

    python benchmarks/quality.py                                  # shipped demo weights, 48 compositions
    python benchmarks/quality.py --device cuda --n 64             # on a GPU (compositions painted in batches)
    python benchmarks/quality.py --model runs/demo/last.pt --preset demo   # a training checkpoint (EMA)
    python benchmarks/quality.py --quick                          # tiny random model, seconds

Compositions: seeded random placements of 2-4 cutouts of the shipped pack on the model's
canvas (64² for the demo model), ``erode=1``; every variant paints the same compositions
with the same seeds. Variants, all from the model's default schedule settings
(t_T, jump_length j, jump_n_sample r, stop_resampling_at s):

* no resampling: ``plain(t_T)``;
* RePaint: ``repaint(t_T, j, r)`` (no stop);
* truncated: ``repaint(t_T, j, r, s)`` (the model's default);
* cheaper: ``repaint(t_T // 2, j, r, s // 2)`` (half the respaced steps, truncated);
* frequency rule: ``schedule_rule.frequency_schedule(model, keep, max_nfe=<truncated's>)``
  per composition (its window follows the mask; the data spectrum is the demo scenes'
  fit), same t_T, j, r, never more model calls than truncated.
* when the model's default is a resampling window (the demo model's): that default, and
  candidates at <= ``CHEAPER_SHARE`` (0.6) of its calls (fewer levels; a strided walk with a
  lower window; a strided walk with fewer repeats; ``plan_schedule`` with that budget, per
  mask), with a check of which reach RePaint's seam (their 95% interval overlaps RePaint's).

Every variant paints composition i with seed i (paired seeds), so differences between two
variants are measured picture by picture; the paired differences get 95% bootstrap
confidence intervals (2000 resamples of the compositions).

Measures, each also computed for real procedural scenes (``make_scenes``) under the same
masks, as the reference a perfect painter would reach:

* sharpness: ``frequency.sharpness(x, mask=1-keep)`` (energy above 0.25 cycles/pixel in the
  generated region), averaged, divided by the real scenes' value: < 1 is blurrier than real;
* seam: mean squared colour difference of neighbouring pixel pairs straddling the mask
  boundary, divided by the same for pairs inside the generated region (1 ≈ no visible seam);
* KID ×1000: unbiased MMD² with the cubic polynomial kernel ``(x·y/d + 1)³`` between the
  results and ``--n-real`` real scenes, on download-free features (see the table header).
  "real scenes" row: held-out real scenes, i.e. the KID a perfect model would get at this
  sample size (the estimator's noise floor).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, base_parser, environment, log, markdown_table, num_threads, threads_for, write_result  # noqa: E402

from ipainter_nb.core import frequency  # noqa: E402
from ipainter_nb.core.checkpoints import save_model  # noqa: E402
from ipainter_nb.core.composition import Composition, Layer  # noqa: E402
from ipainter_nb.core.exact import demo_image_model  # noqa: E402
from ipainter_nb.core.models import DiffusionModel, load_model  # noqa: E402
from ipainter_nb.core.presets import DEMO_WEIGHTS  # noqa: E402
from ipainter_nb.core.sampler import paint_steps, seeded_noise  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig, count_nfe, plain, repaint  # noqa: E402
from ipainter_nb.core.schedules.plan import plan_schedule  # noqa: E402
from ipainter_nb.core.schedules.rule import frequency_schedule  # noqa: E402
from ipainter_nb.core.unet import build_unet  # noqa: E402
from ipainter_nb.demo import list_cutouts, make_scenes  # noqa: E402
from ipainter_nb.images import make_grid, save_png_atomic  # noqa: E402

NAME = "quality"
TINY = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2],
            attention_resolutions=[16], num_heads=1, num_head_channels=32, learn_sigma=False)
FEATURES = ("pixels 16×16 avg-pooled, random projection to 64 dims + 3×8-bin colour histograms, "
            "standardised on the real set")
HEADERS = ["variant", "schedule", "NFE", "s / picture", "sharpness / real", "gradient energy / real",
           "seam ratio", "KID×1000"]


@dataclass
class Variant:
    name: str
    times: list[int] | None  # one schedule for every composition, or None: ``times_for`` decides per mask
    schedule: str
    times_for: Callable[[torch.Tensor], list[int]] | None = None
    samples: list[torch.Tensor] = field(default_factory=list)
    nfes: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def schedule_of(self, keep: torch.Tensor) -> list[int]:
        return self.times if self.times is not None else self.times_for(keep)

    @property
    def nfe(self) -> float:
        return float(np.mean(self.nfes)) if self.nfes else float(count_nfe(self.times or [0, -1]))


def rule_for(model: DiffusionModel, cfg: ScheduleConfig, max_nfe: int | None = None) -> Callable[[torch.Tensor], list[int]]:
    """The frequency-chosen window for a mask, with the demo scenes' spectrum (the demo model's data),
    within ``max_nfe`` model calls."""
    data = demo_image_model()
    var = float(np.trace(np.asarray(data.channel_cov)) / 3)

    def times(keep: torch.Tensor) -> list[int]:
        return frequency_schedule(model, keep, t_T=cfg.t_T, spectrum_beta=data.beta, f0=data.f0, pixel_var=var,
                                  jump_length=cfg.jump_length, jump_n_sample=cfg.jump_n_sample, max_nfe=max_nfe).times()

    return times


def variants_for(cfg: ScheduleConfig, model: DiffusionModel | None = None) -> list[Variant]:
    # the paper's truncation in proportion (stop at 100 of 250), whatever the model's default is
    t, j, r = cfg.t_T, cfg.jump_length, cfg.jump_n_sample
    s = cfg.stop_resampling_at if cfg.kind == "truncated" else round(t * 100 / 250)
    half = max(t // 2, j + 1)
    out = [
        Variant("no resampling", plain(t), f"plain t_T={t}"),
        Variant("RePaint", repaint(t, j, r), f"t_T={t} j={j} r={r}"),
        Variant("truncated (paper)", repaint(t, j, r, s), f"t_T={t} j={j} r={r} stop={s}"),
        Variant("cheaper (half steps, truncated)", repaint(half, j, r, s // 2), f"t_T={half} j={j} r={r} stop={s // 2}"),
    ]
    if model is not None:
        budget = count_nfe(out[2].times)  # no more model calls than truncated
        out.append(Variant("frequency rule", None, f"t_T={t} j={j} r={r}, window per mask, ≤ {budget} NFE",
                           times_for=rule_for(model, cfg, budget)))
    if cfg.kind == "window":  # a window default: measure it, and plans at <= 0.6x its calls
        out.append(Variant("model default", cfg.times(), cfg.describe()))
        out += cheaper_than_default(cfg, model)
    return out


#: The share of the default's model calls the cheaper candidates may spend (issue 16's ``make demo`` target).
CHEAPER_SHARE = 0.6


def cheaper_than_default(cfg: ScheduleConfig, model: DiffusionModel | None) -> list[Variant]:
    """Candidates at <= ``CHEAPER_SHARE`` of a window default's calls: fewer levels, a strided walk with a
    lower window, fewer repeats, and ``plan_schedule`` with that budget per mask."""
    t, j, r, start = cfg.t_T, cfg.jump_length, cfg.jump_n_sample, cfg.start_resampling_at
    budget = int(CHEAPER_SHARE * cfg.nfe)
    fixed = {
        "half levels": ScheduleConfig(max(t // 2, 3), jump_length=max(1, round(j * 3 / 5)), jump_n_sample=r,
                                      stop_resampling_at=0, start_resampling_at=max(1, start // 2)),
        "strided walk, lower window": ScheduleConfig(t, jump_length=j, jump_n_sample=r, stop_resampling_at=0,
                                                     start_resampling_at=max(1, round(start * 0.55)), stride=2),
        "strided walk, fewer repeats": ScheduleConfig(t, jump_length=j, jump_n_sample=max(2, r * 3 // 5), stop_resampling_at=0,
                                                      start_resampling_at=start, stride=2),
    }
    out = [Variant(name, c.times(), c.describe().split(";")[0].split(": ", 1)[-1]) for name, c in fixed.items()
           if c.nfe <= budget]
    if model is not None:
        out.append(Variant(f"plan_schedule (budget {budget})", None, f"per mask, ≤ {budget} NFE",
                           times_for=lambda keep: plan_schedule(model, keep, budget=budget).times()))
    return out


def make_compositions(n: int, size: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` seeded random compositions of 2-4 cutouts; (image, keep) pairs."""
    cutouts = list_cutouts()
    names = sorted(cutouts)
    out = []
    for i in range(n):
        rng = np.random.default_rng(seed * 1000 + i)
        comp = Composition(size=size, erode=1)
        for name in rng.choice(names, size=int(rng.integers(2, 5)), replace=False):
            layer = Layer.from_file(cutouts[str(name)])
            layer.scale = float(rng.uniform(0.5, 0.9)) * size / 64  # the pack is drawn for a 64² canvas
            sw, sh = layer.size
            layer.x = int(rng.integers(0, max(size - sw, 0) + 1))
            layer.y = int(rng.integers(0, max(size - sh, 0) + 1))
            comp.add(layer)
        image, keep = comp.render()
        out.append((image, keep))
    return out


# --------------------------------------------------------------------------- measures


def seam_ratio(images: torch.Tensor, keeps: torch.Tensor) -> float:
    """Mean squared colour step across the mask boundary over the same inside the generated region."""
    x = images.double()
    k = keeps.double() > 0.5
    across, inside = [], []
    for dim in (-1, -2):
        d = (x.diff(dim=dim) ** 2).sum(dim=1, keepdim=True)  # squared colour difference per pair
        a = k.narrow(dim, 0, k.shape[dim] - 1)
        b = k.narrow(dim, 1, k.shape[dim] - 1)
        across.append(d[a != b])
        inside.append(d[~a & ~b])
    inner = torch.cat(inside).mean()
    return float(torch.cat(across).mean() / inner) if inner > 1e-9 else float("inf")  # flat region: no reference


def seam_each(images: torch.Tensor, keeps: torch.Tensor) -> np.ndarray:
    """Seam ratio of each picture (inf where its generated region is flat)."""
    return np.array([seam_ratio(img[None], keep[None]) for img, keep in zip(images, keeps)])


def bootstrap_ratio(a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float, int]:
    """Geometric mean of a/b over paired pictures with a 95% bootstrap interval; pairs with inf/0 are left out."""
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    d = np.log(a[ok]) - np.log(b[ok])
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(np.exp(d.mean())), float(np.exp(lo)), float(np.exp(hi)), int(ok.sum())


def paired_interval(a: Variant, b: Variant, keeps: torch.Tensor) -> str:
    """Seam and sharpness of ``a`` over ``b``, paired by composition and seed, with 95% bootstrap intervals."""
    xa, xb = torch.stack(a.samples), torch.stack(b.samples)
    seam = bootstrap_ratio(seam_each(xa, keeps), seam_each(xb, keeps))
    sharp = bootstrap_ratio(sharpness_each(xa, keeps), sharpness_each(xb, keeps))
    return (f"{a.name} / {b.name} ({a.nfe:.0f} vs {b.nfe:.0f} model calls): seam ratio ×{seam[0]:.3f} "
            f"[{seam[1]:.3f}, {seam[2]:.3f}] over {seam[3]} pairs; sharpness ×{sharp[0]:.3f} [{sharp[1]:.3f}, {sharp[2]:.3f}]")


def seam_interval(v: Variant, keeps: torch.Tensor) -> tuple[float, float, float]:
    """Geometric mean of a variant's per-picture seam ratios with a 95% bootstrap interval over compositions."""
    seams = seam_each(torch.stack(v.samples), keeps)
    return bootstrap_ratio(seams, np.ones_like(seams))[:3]  # a ratio to 1: the bootstrap of the log-mean itself


def rule_check(rule: Variant, trunc: Variant, keeps: torch.Tensor) -> str:
    """The frequency rule against the paper's truncation: a seam at or below it, at no more model calls."""
    seam = bootstrap_ratio(seam_each(torch.stack(rule.samples), keeps), seam_each(torch.stack(trunc.samples), keeps))
    return (f"Check (frequency rule against truncated: seam at or below, at no more model calls): seam ×{seam[0]:.3f} "
            f"[{seam[1]:.3f}, {seam[2]:.3f}], {rule.nfe:.0f} vs {trunc.nfe:.0f} model calls: "
            + ("holds" if seam[2] <= 1 and rule.nfe <= trunc.nfe else
               "not shown (the interval reaches above 1)" if seam[0] <= 1 and rule.nfe <= trunc.nfe else "does NOT hold"))


def pick(variants: list[Variant], names: str | None) -> list[Variant]:
    """The variants named (comma-separated), in their usual order; all with None."""
    if not names:
        return variants
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {v.name for v in variants})
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; the variants are {[v.name for v in variants]}")
    return [v for v in variants if v.name in wanted]


def cheaper_check(by_name: dict[str, Variant], cheaper: list[str], keeps: torch.Tensor) -> str:
    """The ``make demo`` target: which candidates at <= CHEAPER_SHARE of the default's calls have a seam at
    RePaint's level (their seam interval overlaps RePaint's)."""
    ref, default = seam_interval(by_name["RePaint"], keeps), by_name["model default"]
    lines = [f"Check (cheaper than the default: ≤ {CHEAPER_SHARE:g}× its {default.nfe:.0f} model calls with a seam "
             f"interval overlapping RePaint's; per-picture seam, geometric mean [95% bootstrap]): RePaint "
             f"{ref[0]:.2f} [{ref[1]:.2f}, {ref[2]:.2f}]; model default "
             + "{:.2f} [{:.2f}, {:.2f}]".format(*seam_interval(default, keeps))]
    for name in cheaper:
        v = by_name[name]
        mine = seam_interval(v, keeps)
        ok = mine[1] <= ref[2] and v.nfe <= CHEAPER_SHARE * default.nfe
        lines.append(f"- {name} ({v.nfe:.0f} calls): {mine[0]:.2f} [{mine[1]:.2f}, {mine[2]:.2f}]: "
                     + ("RePaint-level seam" if ok else "seam above RePaint's"))
    return "\n".join(lines)


def sharpness_each(images: torch.Tensor, keeps: torch.Tensor) -> np.ndarray:
    """Sharpness of the generated region of each picture."""
    return np.array([frequency.sharpness(img, mask=1 - keep) for img, keep in zip(images, keeps)])


def region_measures(images: torch.Tensor, keeps: torch.Tensor) -> tuple[float, float]:
    """(mean sharpness, mean gradient energy) of the generated regions."""
    grad = [frequency.gradient_energy(img, mask=1 - keep) for img, keep in zip(images, keeps)]
    return float(sharpness_each(images, keeps).mean()), float(np.mean(grad))


def paired(a: Variant, b: Variant, keeps: torch.Tensor) -> str:
    """Sharpness of ``a`` against ``b`` picture by picture (same composition, same seed)."""
    sa = sharpness_each(torch.stack(a.samples), keeps)
    sb = sharpness_each(torch.stack(b.samples), keeps)
    ratio = sa / np.maximum(sb, 1e-12)
    return (f"{a.name} vs {b.name}: {a.nfe:.0f} vs {b.nfe:.0f} model calls; generated-region "
            f"sharpness ratio {np.exp(np.log(ratio).mean()):.3f} (geometric mean over {len(ratio)} paired pictures), "
            f"sharper in {int((ratio > 1).sum())}/{len(ratio)}")


def weights_info(path: Path) -> str:
    """How far the weights were trained, when the file says so."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                info = json.loads((f.metadata() or {}).get("ipainter_nb", "{}"))
            steps = info.get("trained_steps")
        else:
            steps = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("step")
    except Exception:  # a description only: never fail the benchmark for it
        steps = None
    return f"{path.name}, {steps} training steps" if steps is not None else path.name


class Features:
    """Download-free image features for KID, standardised on a real reference set."""

    def __init__(self, real: torch.Tensor, dims: int = 64, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.proj = torch.randn(3 * 16 * 16, dims, generator=g, dtype=torch.float64) / (3 * 16 * 16) ** 0.5
        raw = self._raw(real)
        self.mean, self.std = raw.mean(0), raw.std(0).clamp_min(1e-6)

    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        pooled = F.adaptive_avg_pool2d(x, 16).flatten(1) @ self.proj
        u = ((x.clamp(-1, 1) + 1) / 2 * 7.999).long()  # 8 bins per channel
        hist = torch.stack([F.one_hot(u[:, c].flatten(1), 8).double().mean(1) for c in range(3)], 1).flatten(1)
        return torch.cat([pooled, hist], 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (self._raw(x) - self.mean) / self.std


def kid(a: torch.Tensor, b: torch.Tensor) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)³ (KID's estimator)."""
    d = a.shape[1]
    def k(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x @ y.T / d + 1) ** 3
    m, n = a.shape[0], b.shape[0]
    if m < 2 or n < 2:
        return float("nan")  # the unbiased estimator needs two samples a side
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    return float((kaa.sum() - kaa.diagonal().sum()) / (m * (m - 1))
                 + (kbb.sum() - kbb.diagonal().sum()) / (n * (n - 1)) - 2 * kab.mean())


def real_scenes(n: int, seed: int, size: int) -> torch.Tensor:
    arr = make_scenes(n, seed=seed, size=size)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


# --------------------------------------------------------------------------- running


def get_model(args, tmp: Path) -> tuple[DiffusionModel, str]:
    if args.model:
        return load_model(args.model, device=args.device, preset=args.preset), weights_info(Path(args.model))
    if args.quick:
        torch.manual_seed(0)
        path = tmp / "tiny.safetensors"
        save_model(build_unet(TINY), path, name="tiny", unet_config=TINY, variance_type="fixed_small",
                   default_schedule=ScheduleConfig(t_T=10, jump_length=2, jump_n_sample=3, stop_resampling_at=0,
                                                   start_resampling_at=5), dtype=torch.float32)
        return load_model(path, device=args.device), "tiny random model (--quick)"
    if not DEMO_WEIGHTS.is_file():
        raise SystemExit(f"the trained demo weights {DEMO_WEIGHTS} are missing: pass --model <checkpoint> "
                         "(e.g. --model runs/demo/last.pt --preset demo), or --quick")
    return load_model("demo", device=args.device), "shipped demo weights: " + weights_info(DEMO_WEIGHTS)


def paint_grouped(model: DiffusionModel, comps: list[tuple[torch.Tensor, torch.Tensor]],
                  schedules: list[tuple[tuple[int, ...], float]], first_seed: int, batch: int) -> torch.Tensor:
    """Composition i painted along ``schedules[i]`` (its times and eta) with seed ``first_seed + i`` (what
    ``paint(..., seed=...)`` draws), in batches of compositions that share a schedule; the pictures in order."""
    groups: dict[tuple[tuple[int, ...], float], list[int]] = {}
    for i, schedule in enumerate(schedules):
        groups.setdefault(schedule, []).append(i)
    done: dict[int, torch.Tensor] = {}
    for (times, eta), members in groups.items():
        for k in range(0, len(members), batch):
            idx = members[k:k + batch]
            image = torch.stack([comps[i][0] for i in idx]).to(model.device)
            keep = torch.stack([comps[i][1] for i in idx]).to(model.device)
            noise = seeded_noise([first_seed + i for i in idx], image.shape[1:], model.device, image.dtype)
            last = None
            for last in paint_steps(model, image, keep, list(times), noise=noise, eta=eta):
                pass
            for i, picture in zip(idx, last.x_t.clamp(-1, 1).cpu()):
                done[i] = picture
    return torch.stack([done[i] for i in range(len(comps))])


def run(model: DiffusionModel, comps: list[tuple[torch.Tensor, torch.Tensor]], variants: list[Variant],
        log: Callable[[str], None], batch: int = 8, first_seed: int = 0) -> None:
    """Composition i is painted with seed ``first_seed + i`` by every variant (what ``paint(..., seed=...)``
    draws), in batches of compositions that share a schedule."""
    for v in variants:
        start = time.perf_counter()
        plans = [v.schedule_of(keep) for _, keep in comps]
        v.nfes = [count_nfe(times) for times in plans]
        v.samples = list(paint_grouped(model, comps, [(tuple(times), 1.0) for times in plans], first_seed, batch))
        v.seconds = time.perf_counter() - start
        log(f"  {v.name}: {len(comps)} pictures, {v.seconds:.1f}s")


def main(argv: list[str] | None = None) -> str:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="checkpoint path (default: the shipped demo weights)")
    p.add_argument("--preset", default=None, help="preset giving the network of --model (e.g. demo for runs/demo/last.pt)")
    p.add_argument("--n", type=int, default=None, help="number of compositions (default 48; 2 with --quick)")
    p.add_argument("--device", default="cpu", help="where to paint (cpu, cuda)")
    p.add_argument("--batch", type=int, default=None, help="compositions per model call (default 8 on CPU, 64 on CUDA)")
    p.add_argument("--n-real", type=int, default=None, help="real scenes for KID (default 512)")
    p.add_argument("--seed", type=int, default=0,
                   help="a fresh set of compositions and paint seeds (default 0; a confirming run uses another)")
    p.add_argument("--variants", default=None,
                   help="comma-separated variant names to run (default all), e.g. 'RePaint,model default,half levels'")
    p.add_argument("--png", default=None, help=f"side-by-side picture (default {RESULTS_DIR}/quality_variants.png)")
    args = p.parse_args(argv)
    with num_threads(threads_for(args)):
        return _run(args)


def _run(args: argparse.Namespace) -> str:

    n = args.n or (2 if args.quick else 48)
    n_real = args.n_real or (32 if args.quick else 512)
    with tempfile.TemporaryDirectory(prefix="quality_") as tmp:
        model, source = get_model(args, Path(tmp))
        size = model.image_size
        comps = make_compositions(n, size, seed=args.seed)
        variants = pick(variants_for(model.default_schedule, model), args.variants)
        # minutes per variant: never run paused; NFE is the cost measure
        run(model, comps, variants, log, batch=args.batch or (64 if str(args.device).startswith("cuda") else 8),
            first_seed=1000 * args.seed)
        env = environment()

    keeps = torch.stack([k for _, k in comps])
    # real scenes under the same masks: the reference for every measure
    real_ref = real_scenes(n_real, seed=20240601, size=size)  # the KID reference set
    real_masked = real_scenes(n, seed=777, size=size)  # held-out, one per composition
    feats = Features(real_ref)
    ref_feats = feats(real_ref)
    real_sharp, real_grad = region_measures(real_masked, keeps)
    rows = []
    for v in variants:
        x = torch.stack(v.samples)
        sharp, grad = region_measures(x, keeps)
        rows.append([v.name, v.schedule, f"{v.nfe:.0f}", f"{v.seconds / n:.2f}", f"{sharp / real_sharp:.3f}",
                     f"{grad / real_grad:.3f}", _fmt(seam_ratio(x, keeps)), f"{1000 * kid(feats(x), ref_feats):.1f}"])
    rows.append(["real scenes (reference)", "—", "—", "—", "1.000", "1.000", _fmt(seam_ratio(real_masked, keeps)),
                 f"{1000 * kid(feats(real_masked), ref_feats):.1f}"])
    images = torch.stack([img for img, _ in comps])
    unfilled = keeps * images  # the composition with the generated region left mid-grey
    rows.append(["composition, unfilled (grey)", "—", "0", "—", "—", "—", _fmt(seam_ratio(unfilled, keeps)),
                 f"{1000 * kid(feats(unfilled), ref_feats):.1f}"])

    suffix = f"_set{args.seed}" if args.seed else ""  # set 0 keeps the plain names
    png = Path(args.png) if args.png else (Path(args.results_dir) if args.results_dir else RESULTS_DIR) / (
        "quality_variants" + suffix + (".quick.png" if args.quick else ".png"))
    write_side_by_side(png, unfilled, variants, rows=min(n, 6))
    table = markdown_table(HEADERS, rows)
    by_name = {v.name: v for v in variants}
    pairs = (("truncated (paper)", "RePaint"), ("truncated (paper)", "no resampling"),
             ("cheaper (half steps, truncated)", "truncated (paper)"), ("frequency rule", "truncated (paper)"),
             ("frequency rule", "RePaint"))
    if "model default" in by_name:  # the default and the cheaper candidates against RePaint and the default
        cheaper = [v.name for v in variants[variants.index(by_name["model default"]) + 1:]]
        pairs += (("model default", "RePaint"),) + tuple((c, "RePaint") for c in cheaper) + tuple(
            (c, "model default") for c in cheaper)
    pairs = tuple((a, b) for a, b in pairs if a in by_name and b in by_name)  # --variants may leave some out
    claims = "\n".join("- " + paired(by_name[a], by_name[b], keeps) for a, b in pairs)
    intervals = "\n".join("- " + paired_interval(by_name[a], by_name[b], keeps) for a, b in pairs)
    checks = []
    if "frequency rule" in by_name and "truncated (paper)" in by_name:
        checks.append(rule_check(by_name["frequency rule"], by_name["truncated (paper)"], keeps))
    if "model default" in by_name and "RePaint" in by_name:
        checks.append(cheaper_check(by_name, cheaper, keeps))
    check = "\n\n".join(checks)
    first = 1000 * args.seed
    text = (f"## Quality of the schedules ({source}; {n} compositions at {size}² (composition set {args.seed}), "
            f"1 sample each, seeds {first}..{first + n - 1})\n\n"
            f"KID features: {FEATURES}; {n_real} real scenes as the KID reference. "
            "Sharpness and gradient energy are of the generated region (mask = 1 − keep), divided by the "
            "same measure on held-out real scenes under the same masks. Seam ratio: squared colour step "
            "across the mask boundary / inside the generated region.\n\n"
            f"{table}\n\nPaired comparisons:\n\n{claims}\n\n"
            f"Paired ratios with 95% bootstrap intervals (composition i painted with the same seed by every variant):\n\n{intervals}\n\n"
            f"{check}\n\nSide by side: `{png.name}` (composition | {' | '.join(v.name for v in variants)}).\n\n"
            f"_{env}_\n")
    print(text)
    write_result(NAME + suffix, text, args.results_dir, quick=args.quick)
    return text


def _fmt(v: float) -> str:
    return "∞ (flat inside)" if v == float("inf") else f"{v:.2f}"


def write_side_by_side(path: Path, compositions: torch.Tensor, variants: list[Variant], rows: int, zoom: int = 3) -> None:
    tiles = []
    for i in range(rows):
        tiles.append(compositions[i])
        tiles.extend(v.samples[i] for v in variants)
    grid = make_grid(torch.stack(tiles).clamp(-1, 1), nrow=1 + len(variants), gap=2)
    grid = grid.resize((grid.width * zoom, grid.height * zoom), resample=0)  # nearest: keep the pixels visible
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png_atomic(grid, path)


if __name__ == "__main__":
    main()
