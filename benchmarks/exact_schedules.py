"""Resampling schedules where the truth is known: the exact Gaussian model.

    python benchmarks/exact_schedules.py --workers 2   # the sweep (exact laws at 16² and 32², Monte Carlo at 32²)
    python benchmarks/exact_schedules.py --quick    # 16², seconds (the test suite runs it)
    python benchmarks/exact_schedules.py --device cuda

The picture model is ``exact.demo_image_model()`` (a Gaussian with the demo scenes' mean,
colour covariance and power spectrum), its contrast scaled to a standard deviation of
0.25 so that ``paint()``'s clamps to [-1, 1] never touch a sample. Its denoiser is exact,
so every difference between a schedule's pictures and the exact conditional law of the
generated pixels is the schedule's own error.

1. **Monte Carlo (32²)**: for each mask (centre hole, border, the Painter's case of kept
   cutouts, a cutout-shaped hole; known pixels from a model sample) and each schedule,
   ``paint()`` draws M pictures; they are scored against the exact conditional: ``bias``
   (RMS of the mean's error in conditional standard deviations), ``var`` (variance over
   the exact variance) and ``KL`` (Gaussian KL on the 16 leading principal components of
   the exact conditional covariance). The floor: M exact samples scored the same way
   (four draws; a schedule at or below the largest is a tie with the truth).
2. **Exact laws (16²)**: every step is affine plus Gaussian noise, so a schedule's output
   law is computed exactly (``exact.schedule_output_law``): the KL against the stop (the
   paper's truncation) and against the start of a low window, beside the t at which each
   frequency band's forward SNR crosses 1 (``frequency.band_snr``/``drowning_times``).
3. **Prior (16², nothing kept)**: the pixel variance each schedule keeps, fixed-small vs
   fixed-large reverse variance.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, base_parser, environment, log, markdown_table, num_threads, threads_for, write_result  # noqa: E402

from ipainter_nb.core import frequency  # noqa: E402
from ipainter_nb.core.composition import Composition, Layer  # noqa: E402
from ipainter_nb.core.exact import (  # noqa: E402
    ExactDiffusionModel,
    GaussianImageModel,
    border_keep,
    centre_hole_keep,
    demo_image_model,
    schedule_error,
    schedule_output_law,
)
from ipainter_nb.core.sampler import paint  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig, count_nfe, plain, repaint, resampling_window  # noqa: E402
from ipainter_nb.core.schedules.plan import plan_schedule  # noqa: E402
from ipainter_nb.core.schedules.rule import frequency_schedule, mask_frequency  # noqa: E402
from ipainter_nb.demo import list_cutouts  # noqa: E402

NAME = "exact_schedules"
CONTRAST = 0.25
HEADERS = ["mask", "schedule", "NFE", "NFE / RePaint", "KL", "KL / RePaint", "bias", "var", "verdict", "s"]
LAW_HEADERS = ["schedule", "resampling where", "NFE", "exact KL", "KL / RePaint"]
PRIOR_HEADERS = ["schedule (nothing kept, 16²)", "NFE", "variance kept, fixed_small", "variance kept, fixed_large"]


@dataclass
class Schedule:
    name: str
    times: list[int] | ScheduleConfig  # a config carries its eta and stride
    family: str  # which RePaint it is measured against ("100" or "250")
    marker: str = ""  # "paper RePaint", "paper truncated", "rule", "paper, t_T=100"


def schedules(quick: bool) -> list[Schedule]:
    """The sweep: plain, RePaint over jump settings, truncated at several stops, a low window."""
    if quick:
        return [Schedule("plain 10", plain(10), "20"), Schedule("plain 20", plain(20), "20"),
                Schedule("RePaint 20 j=2 r=3", repaint(20, 2, 3), "20", "RePaint"),
                Schedule("truncated 20/2/3 stop 8", repaint(20, 2, 3, 8), "20", "truncated")]
    out = [Schedule(f"plain {t}", plain(t), "100" if t <= 100 else "250") for t in (25, 50, 100, 250)]
    out += [
        Schedule("RePaint 25 j=5 r=5", repaint(25, 5, 5), "100"),
        Schedule("RePaint 50 j=5 r=5", repaint(50, 5, 5), "100"),
        Schedule("RePaint 100 j=5 r=3", repaint(100, 5, 3), "100"),
        Schedule("RePaint 100 j=5 r=5", repaint(100, 5, 5), "100", "RePaint"),
        Schedule("RePaint 50 j=5 r=10", repaint(50, 5, 10), "100"),
        Schedule("RePaint 250 j=10 r=10", repaint(250, 10, 10), "250", "paper RePaint"),
    ]
    out += [Schedule(f"truncated 100/5/5 stop {s}", repaint(100, 5, 5, s), "100", "paper, t_T=100" if s == 40 else "")
            for s in (20, 40, 60, 80)]
    out += [Schedule(f"truncated 250/10/10 stop {s}", repaint(250, 10, 10, s), "250", "paper truncated" if s == 100 else "")
            for s in (100, 200)]
    out += [Schedule("low window 100/5/5 t=0..20", repaint(100, 5, 5, 0, 20), "100"),
            Schedule("low window 250/10/10 t=0..50", repaint(250, 10, 10, 0, 50), "250")]
    return out


def masks(size: int, names: list[str]) -> dict[str, torch.Tensor]:
    """Keep masks (1, size, size): 1 = kept."""
    cutouts = list_cutouts()

    def cutouts_kept() -> torch.Tensor:  # the Painter's case: cutouts kept, the rest generated
        comp = Composition(size=size, erode=1)
        for name, scale, x, y in (("house", 0.45, 2, 14), ("tree", 0.4, 18, 10), ("sun", 0.35, 20, 1)):
            layer = Layer.from_file(cutouts[name])
            layer.scale, layer.x, layer.y = scale * size / 32, x * size // 32, y * size // 32
            comp.add(layer)
        return comp.render()[1]

    def cutout_hole() -> torch.Tensor:  # an object's shape to regenerate
        comp = Composition(size=size, erode=0)
        layer = Layer.from_file(cutouts["house"])
        layer.scale, layer.x, layer.y = 0.6 * size / 32, 7 * size // 32, 8 * size // 32
        comp.add(layer)
        return 1 - comp.render()[1]

    makers = {"centre hole": lambda: centre_hole_keep(size, size // 2), "border": lambda: border_keep(size, max(size // 8, 1)),
              "cutouts kept": cutouts_kept, "cutout-shaped hole": cutout_hole}
    return {name: makers[name]() for name in names}


def with_rules(todo: list[Schedule], model: ExactDiffusionModel, keep: torch.Tensor, quick: bool) -> list[Schedule]:
    """The sweep plus the frequency-chosen schedule of each t_T family, for this mask."""
    out = list(todo)
    families = ((("20", ScheduleConfig(20, jump_length=2, jump_n_sample=3)),) if quick else
                (("100", ScheduleConfig(100, jump_length=5, jump_n_sample=5)),
                 ("250", ScheduleConfig(250, jump_length=10, jump_n_sample=10))))
    for family, like in families:
        if any(s.family == family for s in todo):
            rule = frequency_schedule(model, keep, t_T=like.t_T, jump_length=like.jump_length, jump_n_sample=like.jump_n_sample)
            out.append(Schedule(f"frequency rule {family}: t={rule.stop_resampling_at}..{rule.start_resampling_at}",
                                rule.times(), family, "rule"))
    present = [f for f, _ in families if any(s.family == f for s in todo)]
    family = present[-1] if present else None
    for target in ("quality", "draft") if family else ():  # plan_schedule's plans, against the largest t_T family's RePaint
        cfg = plan_schedule(model, keep, target=target, t_T=20 if quick else None)
        grid = f" on {cfg.window_levels} levels" if cfg.window_levels else ""
        out.append(Schedule(f"plan ({target}): t_T={cfg.t_T} stride {cfg.stride}, t=0..{cfg.start_resampling_at}{grid} "
                            f"j={cfg.jump_length} r={cfg.jump_n_sample} eta={cfg.eta:g}", cfg, family, "rule"))
    return out


def _times(s: Schedule) -> list[int]:
    return s.times.times() if isinstance(s.times, ScheduleConfig) else s.times


def _eta(s: Schedule) -> float:
    return s.times.eta if isinstance(s.times, ScheduleConfig) else 1.0


def verdict(kl: float, floor_max: float, repaint_kl: float) -> str:
    if kl <= floor_max:
        return "tie with exact"
    if kl <= 1.1 * repaint_kl:
        return "≤ 1.1× RePaint"
    return ""


def sweep(model: ExactDiffusionModel, mask_names: list[str], todo: list[Schedule], quick: bool, m: int | None
          ) -> tuple[list[list[str]], list[dict], dict[str, list[float]]]:
    """Score every schedule on every mask: by M ``paint()`` pictures (``m``) or by the exact law (``m=None``)."""
    size = model.image_size
    rows, points, floors = [], [], {}
    for mi, (mask_name, keep) in enumerate(masks(size, mask_names).items()):
        image = model.image_model.sample(1, size, torch.Generator().manual_seed(100 + mi))[0].clamp(-1, 1)
        cond = model.image_model.conditional(image, keep)
        floor = [cond.score_samples(cond.sample(m, torch.Generator().manual_seed(s)))["kl"] for s in range(4)] if m else [0.0]
        floors[mask_name] = floor
        plan = with_rules(todo, model, keep, quick)
        scores = {}
        for k, s in enumerate(plan):
            start = time.perf_counter()
            if m:
                result = paint(model, image, keep, times=s.times, num_samples=m, seed=1000 * mi + k, progress=False,
                               max_frames=0, clip_x0=False, batch_size=m)
                score = cond.score_samples(result.samples.cpu())
            else:
                score = cond.score_law(schedule_output_law(model, image, keep, _times(s), eta=_eta(s)))
            scores[s.name] = (score, time.perf_counter() - start)
            log(f"  {mask_name}: {s.name}: KL {score['kl']:.3f} ({scores[s.name][1]:.1f} s)")
        ref = {f: next(x for x in plan if x.family == f and x.marker in ("RePaint", "paper RePaint")) for f in {x.family for x in plan}}
        for s in plan:
            sc, sec = scores[s.name]
            base, base_nfe = scores[ref[s.family].name][0]["kl"], count_nfe(_times(ref[s.family]))
            nfe = count_nfe(_times(s))
            rows.append([mask_name, s.name + (f" ({s.marker})" if s.marker and s.marker != "rule" else ""), str(nfe),
                         f"{nfe / base_nfe:.2f}", f"{sc['kl']:.3f}", f"{sc['kl'] / base:.2f}", f"{sc['bias']:.3f}",
                         f"{sc['var_ratio']:.3f}", verdict(sc["kl"], max(floor), base) if m else
                         ("≤ 1.1× RePaint" if sc["kl"] <= 1.1 * base else ""), f"{sec:.1f}"])
            points.append(dict(mask=mask_name, name=s.name, family=s.family, marker=s.marker, nfe=nfe, kl=sc["kl"],
                               ratio=sc["kl"] / base, nfe_ratio=nfe / base_nfe))
        if m:
            exact = cond.score_samples(cond.sample(m, torch.Generator().manual_seed(99)))
            rows.append([mask_name, f"exact samples (floor: KL {min(floor):.2f}..{max(floor):.2f} over 4 draws)", "—", "—",
                         f"{exact['kl']:.3f}", "—", f"{exact['bias']:.3f}", f"{exact['var_ratio']:.3f}", "floor", "—"])
    return rows, points, floors


# --------------------------------------------------------------------------- 1b. the plans' front


FRONT_HEADERS = ["size", "mask", "scale", "schedule", "NFE", "NFE / RePaint", "KL / RePaint", "targets"]


def scaled_masks(size: int, quick: bool) -> list[tuple[str, str, torch.Tensor]]:
    """Three mask kinds at three hole scales (two of each with --quick)."""
    house = list_cutouts()["house"]

    def cutout_hole(scale: float) -> torch.Tensor:
        comp = Composition(size=size, erode=0)
        layer = Layer.from_file(house)
        layer.scale = scale * size / 32
        layer.x, layer.y = int(size * (1 - scale) / 2), int(size * (1 - scale) / 2)
        comp.add(layer)
        return 1 - comp.render()[1]

    fractions = (0.25, 0.75) if quick else (0.25, 0.5, 0.75)
    out = [("centre hole", f"{round(size * f)}²", centre_hole_keep(size, round(size * f))) for f in fractions]
    out += [("border", f"{max(1, round(size * f / 4))} px", border_keep(size, max(1, round(size * f / 4)))) for f in fractions]
    out += [("cutout-shaped hole", f"house ×{0.4 + 0.8 * f:.1f}", cutout_hole(0.4 + 0.8 * f)) for f in fractions]
    return out


def front(model: ExactDiffusionModel, quick: bool, workers: int = 1, deadline: float | None = None
          ) -> tuple[list[list[str]], list[dict], list[str]]:
    """Plain, RePaint, the paper's truncation, the frequency rule and the plans on every scaled mask (exact laws).

    ``workers`` > 1 spreads the masks over that many processes of one torch thread each (the exact laws at 32²
    take minutes per mask). The masks go smallest scale first, kind by kind, so that a ``deadline``
    (``time.time()``) that stops the masks not yet started leaves every kind measured; returns the rows, the
    points and the masks left out."""
    masks_ = scaled_masks(model.image_size, quick)
    per_kind = len(masks_) // 3
    order = sorted(range(len(masks_)), key=lambda i: (i % per_kind, i // per_kind))
    cases = [(model, quick, i, *masks_[i], deadline) for i in order]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=torch.set_num_threads,
                                 initargs=(1,)) as pool:
            done = dict(zip(order, pool.map(_front_case, cases)))
    else:
        done = dict(zip(order, map(_front_case, cases)))
    done = [done[i] for i in range(len(masks_))]  # back in table order
    skipped = [f"{model.image_size}² {kind} {scale}" for (kind, scale, _), d in zip(masks_, done) if d is None]
    kept = [d for d in done if d is not None]
    return [row for rows, _ in kept for row in rows], [p for _, pts in kept for p in pts], skipped


def _front_case(case: tuple) -> tuple[list[list[str]], list[dict]] | None:
    """One mask of the front: every schedule's exact KL against RePaint's (None: the deadline had passed)."""
    model, quick, mi, kind, scale, keep, deadline = case
    if deadline is not None and time.time() > deadline:
        return None
    size, image_model = model.image_size, model.image_model
    t_T, j, r, stop = (20, 2, 3, 8) if quick else (250, 10, 10, 100)
    rows, points = [], []
    start = time.perf_counter()
    image = image_model.sample(1, size, torch.Generator().manual_seed(200 + mi))[0].clamp(-1, 1)
    cond = image_model.conditional(image, keep)
    todo = [("plain", ScheduleConfig(t_T, jump_length=j, jump_n_sample=1, stop_resampling_at=None)),
            ("RePaint (paper)", ScheduleConfig(t_T, jump_length=j, jump_n_sample=r, stop_resampling_at=None)),
            ("truncated (paper)", ScheduleConfig(t_T, jump_length=j, jump_n_sample=r, stop_resampling_at=stop)),
            ("frequency rule", frequency_schedule(model, keep, t_T=t_T, jump_length=j, jump_n_sample=r)),
            ("plan (quality)", plan_schedule(model, keep, t_T=t_T if quick else None)),
            ("plan (draft)", plan_schedule(model, keep, target="draft", t_T=t_T if quick else None))]
    kls = {name: schedule_error(model, image, keep, cfg, conditional=cond).kl for name, cfg in todo}
    ref_kl, ref_nfe = kls["RePaint (paper)"], todo[1][1].nfe
    for name, cfg in todo:
        ratio, nfe_ratio = kls[name] / ref_kl, cfg.nfe / ref_nfe
        met = [label for label, k, n in (("≤1.1× at ≤0.15×", 1.1, 0.15), ("≤1.25× at ≤0.05×", 1.25, 0.05))
               if ratio <= k and nfe_ratio <= n]
        rows.append([f"{size}²", kind, scale, f"{name}: {cfg.describe().split(';')[0].split(': ', 1)[-1]}", str(cfg.nfe),
                     f"{nfe_ratio:.3f}", f"{ratio:.2f}", ", ".join(met) or "—"])
        points.append(dict(size=size, mask=f"{size}² {kind} {scale}", name=name, nfe=cfg.nfe, ratio=ratio, nfe_ratio=nfe_ratio))
    log(f"  front {size}² {kind} {scale} ({time.perf_counter() - start:.0f} s): "
        + ", ".join(f"{n} {kls[n] / ref_kl:.2f}" for n, _ in todo))
    return rows, points


def front_summary(points: list[dict]) -> list[str]:
    """Per picture size and schedule: the worst KL / RePaint over the cases, the most calls, and where a plan loses."""
    lines = []
    for size in dict.fromkeys(p["size"] for p in points):
        here = [p for p in points if p["size"] == size]
        rule = {p["mask"]: p["ratio"] for p in here if p["name"] == "frequency rule"}
        for name in dict.fromkeys(p["name"] for p in here):
            mine = [p for p in here if p["name"] == name]
            worst, most = max(p["ratio"] for p in mine), max(p["nfe_ratio"] for p in mine)
            losses = [p["mask"] for p in mine if name.startswith("plan") and p["ratio"] > rule[p["mask"]]]
            lines.append(f"- {size}², {name}: KL ≤ {worst:.2f}× RePaint's at ≤ {most:.3f}× its calls on all {len(mine)} "
                         "cases" + (f"; a higher KL than the frequency rule's on {', '.join(losses)}" if losses else ""))
    return lines


# --------------------------------------------------------------------------- 2. exact laws on the time axis


def time_axis(image_model: GaussianImageModel, quick: bool) -> tuple[list[list[str]], dict]:
    size, t_T, j, r = (8, 20, 2, 3) if quick else (16, 100, 5, 5)
    model = ExactDiffusionModel.create(image_model, size, dtype=torch.float64)
    keep = centre_hole_keep(size, size // 2)
    image = image_model.sample(1, size, torch.Generator().manual_seed(7))[0].clamp(-1, 1)
    cond = image_model.conditional(image, keep)

    def kl(times: list[int]) -> float:
        return schedule_error(model, image, keep, times, conditional=cond).kl

    full, none = kl(repaint(t_T, j, r)), kl(plain(t_T))
    grid = list(range(0, t_T + 1, j))
    by_stop = [kl(repaint(t_T, j, r, s)) for s in grid]  # resample t >= s (the paper's truncation)
    by_start = [kl(repaint(t_T, j, r, 0, s)) for s in grid]  # resample t <= s only
    rule = frequency_schedule(model, keep, t_T=t_T, jump_length=j, jump_n_sample=r)
    rows = [["no resampling", "—", str(t_T), f"{none:.3f}", f"{none / full:.2f}"],
            ["RePaint", f"t=0..{t_T - 1}", str(count_nfe(repaint(t_T, j, r))), f"{full:.3f}", "1.00"]]
    for s in grid[1:-1:max(1, len(grid) // 5)]:
        rows.append([f"truncated, stop {s}", f"t ≥ {s}", str(count_nfe(repaint(t_T, j, r, s))),
                     f"{by_stop[grid.index(s)]:.3f}", f"{by_stop[grid.index(s)] / full:.2f}"])
        rows.append([f"low window, start {s}", f"t ≤ {s}", str(count_nfe(repaint(t_T, j, r, 0, s))),
                     f"{by_start[grid.index(s)]:.3f}", f"{by_start[grid.index(s)] / full:.2f}"])
    rk = kl(rule.times())
    rows.append([f"frequency rule (stop {rule.stop_resampling_at}, start {rule.start_resampling_at})",
                 f"t={rule.stop_resampling_at}..{rule.start_resampling_at}", str(rule.nfe), f"{rk:.3f}", f"{rk / full:.2f}"])
    # each band's SNR crossing: the same spectrum drawn as a picture-sized sample of the model
    sched = model.schedule(t_T)
    n_bands = 4 if size >= 16 else 3
    snr = frequency.band_snr(image_model.sample(64, size, torch.Generator().manual_seed(3)), sched.alphas_cumprod, n_bands=n_bands)
    crossings = frequency.drowning_times(snr)
    info = dict(j=j, r=r, grid=grid, by_stop=by_stop, by_start=by_start, full=full, none=none, crossings=crossings.tolist(),
                edges=frequency.band_edges(size, n_bands).tolist(), t_T=t_T, size=size,
                rule=(rule.stop_resampling_at, rule.start_resampling_at),
                hole_f=mask_frequency(keep, size))
    return rows, info


# --------------------------------------------------------------------------- 3. the prior alone


def prior_variance(image_model: GaussianImageModel, quick: bool) -> list[list[str]]:
    size = 8 if quick else 16
    model = ExactDiffusionModel.create(image_model, size, dtype=torch.float64)
    nothing = torch.zeros(1, size, size)
    zero = torch.zeros(3, size, size)
    prior = float(np.trace(np.asarray(image_model.channel_cov)) / 3)
    todo = [("plain 25", plain(25)), ("plain 100", plain(100))] if quick else [
        ("plain 25", plain(25)), ("plain 50", plain(50)), ("plain 100", plain(100)), ("plain 250", plain(250)),
        ("plain 1000", plain(1000)), ("RePaint 100 j=5 r=5", repaint(100, 5, 5)), ("truncated 100/5/5 stop 40", repaint(100, 5, 5, 40)),
        ("RePaint 250 j=10 r=10", repaint(250, 10, 10))]
    rows = []
    for name, times in todo:
        kept = [float(schedule_output_law(model, zero, nothing, times, variance=v).pixel_variance().mean()) / prior
                for v in ("fixed_small", "fixed_large")]
        rows.append([name, str(count_nfe(times)), f"{kept[0]:.3f}", f"{kept[1]:.3f}"])
    return rows


# --------------------------------------------------------------------------- the places256 setting


def places256_proposals() -> list[str]:
    """What the rule proposes at 256², linear betas, 250 steps, for natural-picture statistics."""
    from ipainter_nb.core.diffusion import DiffusionSchedule

    alphas = DiffusionSchedule.create("linear", 1000, "250", "fixed_small").alphas_cumprod
    paper = ScheduleConfig(250, jump_length=10, jump_n_sample=10, stop_resampling_at=100)
    full = ScheduleConfig(250, jump_length=10, jump_n_sample=10, stop_resampling_at=None)
    p_lo, p_hi = resampling_window(paper.times())
    lines = []
    for hole in (32, 64, 128):
        keep = centre_hole_keep(256, hole)
        cfg = frequency_schedule(alphas, keep, image_size=256)
        lo, hi = resampling_window(cfg.times())
        lines.append(f"- {hole}² hole in a 256² picture (natural-picture spectrum β = 2.6, pixel variance 0.25): jumps start "
                     f"at t = {cfg.stop_resampling_at}..{cfg.start_resampling_at} of 250 (resampling window {lo}..{hi}), "
                     f"{cfg.nfe} model calls (paper: window {p_lo}..{p_hi}, {paper.nfe} calls; RePaint {full.nfe})")
    return lines


# --------------------------------------------------------------------------- figure


def figure(points: list[dict], mc_points: list[dict], floors: dict[str, list[float]], info: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4.2))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    styles = {"paper RePaint": "s", "paper truncated": "D", "rule": "*", "RePaint": "s", "paper, t_T=100": "D"}
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(p["mask"] for p in points))}
    for p in points:
        style = styles.get(p["marker"], "o")
        ax1.scatter(p["nfe"], p["ratio"], color=colours[p["mask"]], marker=style, s=110 if style == "*" else 30,
                    edgecolor="k" if p["marker"] else "none", zorder=3)
    for mask, c in colours.items():
        ax1.plot([], [], color=c, label=f"{mask} (exact law)")
    for p in mc_points:
        ax1.scatter(p["nfe"], p["ratio"], color="none", edgecolor="gray", marker=styles.get(p["marker"], "o"), s=40, zorder=2)
    ax1.scatter([], [], color="none", edgecolor="gray", label="Monte Carlo (paint(), larger picture)")
    for label, marker in (("RePaint (paper: t_T=250)", "s"), ("truncated at the paper's stop", "D"), ("frequency rule", "*")):
        ax1.scatter([], [], marker=marker, color="w", edgecolor="k", label=label)
    ax1.axhline(1.1, color="k", lw=0.8, ls=":")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("model calls (NFE)")
    ax1.set_ylabel("KL / KL of RePaint (same t_T)")
    ax1.set_title("cost/quality front (dotted: 1.1× RePaint)")
    ax1.legend(fontsize="x-small")
    grid = info["grid"]
    ax2.plot(grid, info["by_stop"], "o-", label="truncated: resample t ≥ stop (x = stop)")
    ax2.plot(grid, info["by_start"], "s-", label="low window: resample t ≤ start (x = start)")
    ax2.axhline(info["full"], color="k", ls="--", lw=1, label="RePaint")
    ax2.axhline(info["none"], color="gray", ls=":", lw=1, label="no resampling")
    lo, hi = info["rule"]
    ax2.axvspan(lo, hi, color="C3", alpha=0.12, label=f"frequency rule t={lo}..{hi}")
    edges = info["edges"]
    for b, t in enumerate(info["crossings"]):
        ax2.axvline(t, color=matplotlib.colormaps["coolwarm"](b / max(len(edges) - 2, 1)), lw=1.2)
        height = info["none"] - (b / max(len(edges) - 1, 1)) * 0.45 * (info["none"] - info["full"])  # staggered labels
        ax2.text(t, height, f" {edges[b]:.2f}-{edges[b + 1]:.2f}", rotation=90, va="top", fontsize=7)
    ax2.set_xscale("symlog", linthresh=10)  # the low t, where the bands cross, get room
    ax2.set_xlim(0, info["t_T"])
    ax2.set_xlabel(f"t (of {info['t_T']}; linear below 10, log above); vertical lines: band SNR = 1 (cycles/pixel)")
    ax2.set_ylabel("exact KL (noise-free law)")
    ax2.set_title(f"where the error is made ({info['size']}², centre hole, hole band {info['hole_f']:.3f} c/px)")
    ax2.legend(fontsize="x-small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> str:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=None, help="pictures per schedule (default 256; 64 with --quick)")
    p.add_argument("--device", default="cpu", help="where paint() runs (cpu, cuda)")
    p.add_argument("--workers", type=int, default=1, help="processes for the front's exact laws (one torch thread each)")
    p.add_argument("--front-sizes", type=int, nargs="+", default=None, help="picture sides of the front (default 16 32)")
    p.add_argument("--front-budget-s", type=float, default=None,
                   help="start no front mask after this many seconds (the table names the masks left out)")
    p.add_argument("--png", default=None, help=f"figure (default {RESULTS_DIR}/exact_schedules.png)")
    args = p.parse_args(argv)
    with num_threads(threads_for(args)):
        return _run(args)


MC_SCHEDULES = ("plain 100", "RePaint 100 j=5 r=5", "truncated 100/5/5 stop 40", "low window 100/5/5 t=0..20")


def _run(args: argparse.Namespace) -> str:
    start = time.perf_counter()
    m = args.samples or (64 if args.quick else 256)
    mc_size, law_size = (16, 8) if args.quick else (32, 16)
    image_model = demo_image_model().scaled(std=CONTRAST)
    todo = schedules(args.quick)
    law_masks = ["centre hole", "border"] if args.quick else ["centre hole", "border", "cutout-shaped hole"]
    law_model = ExactDiffusionModel.create(image_model, law_size, dtype=torch.float64)
    law_rows, points, _ = sweep(law_model, law_masks, todo, args.quick, None)
    front_sizes = args.front_sizes or ((8, 12) if args.quick else (16, 32))  # 32² takes most of the run
    front_rows, front_points, skipped = [], [], []
    deadline = time.time() + args.front_budget_s if args.front_budget_s else None
    for size in front_sizes:
        rows, pts, left = front(ExactDiffusionModel.create(image_model, size, dtype=torch.float64), args.quick,
                                args.workers, deadline)
        front_rows, front_points, skipped = front_rows + rows, front_points + pts, skipped + left
    law_s = time.perf_counter() - start
    mc_model = ExactDiffusionModel.create(image_model, mc_size, device=args.device)
    mc_todo = todo if args.quick else [s for s in todo if s.name in MC_SCHEDULES]
    mc_rows, mc_points, floors = sweep(mc_model, ["centre hole"] if args.quick else ["centre hole", "cutouts kept"], mc_todo,
                                       args.quick, m)
    mc_s = time.perf_counter() - start - law_s
    axis_rows, info = time_axis(image_model, args.quick)
    prior_rows = prior_variance(image_model, args.quick)
    total_s = time.perf_counter() - start
    png = Path(args.png) if args.png else (Path(args.results_dir) if args.results_dir else RESULTS_DIR) / (
        f"{NAME}.quick.png" if args.quick else f"{NAME}.png")
    figure(points, mc_points, floors, info, png)
    im = image_model
    text = (f"## Resampling schedules against the exact answer\n\n"
            f"Picture model: Gaussian fitted to the demo scenes (β = {im.beta:.2f}, f0 = {im.f0:.3f} cycles/pixel, "
            f"colour covariance and mean of the scenes), contrast scaled to std {CONTRAST} (so paint()'s clamps never act); "
            "exact Wiener denoiser; fixed_small variance; linear betas. KL: Gaussian KL(result ‖ exact conditional) on "
            "the 16 leading principal components of the exact conditional covariance; bias: RMS error of the mean in "
            "conditional standard deviations; var: variance / exact variance. KL / RePaint and NFE / RePaint: against "
            "RePaint of the same t_T family (100: j=5 r=5; 250: the paper's j=10 r=10). Known pixels: a sample of the model.\n\n"
            f"### The sweep by exact laws ({law_size}², no Monte Carlo: {len(todo) + 2} schedules × {len(law_masks)} masks, "
            f"{law_s:.0f} s)\n\n{markdown_table(HEADERS, law_rows)}\n\n"
            "### The front: plans against RePaint, the paper's truncation and the frequency rule (exact laws, "
            f"{' and '.join(f'{n}²' for n in front_sizes)}, three mask kinds × three hole scales)\n\n"
            + "\n".join(front_summary(front_points)) + "\n\n"
            + (f"Not computed (the run's --front-budget-s ran out before they started): {', '.join(skipped)}.\n\n"
               if skipped else "")
            + f"{markdown_table(FRONT_HEADERS, front_rows)}\n\n"
            "### Goal: ≤ 1.1× RePaint's KL at ≤ 0.5× its NFE (exact laws)\n\n" + "\n".join(_goal_lines(points)) + "\n\n"
            f"### Monte Carlo: paint() on the exact model ({mc_size}², {m} pictures per schedule, {mc_s:.0f} s)\n\n"
            f"{markdown_table(HEADERS, mc_rows)}\n\n"
            f"### Where the error is made (exact laws; {info['size']}², centre hole {info['size'] // 2}², "
            f"t_T={info['t_T']}, j={info['j']}, r={info['r']})\n\n{markdown_table(LAW_HEADERS, axis_rows)}\n\n"
            f"Band SNR = 1 crossings (t of {info['t_T']}), bands low to high ({_bands(info['edges'])} "
            f"cycles/pixel): {info['crossings']}; the hole's band: {info['hole_f']:.3f} cycles/pixel.\n\n"
            f"### The prior alone: pixel variance kept (1 = the model's)\n\n{markdown_table(PRIOR_HEADERS, prior_rows)}\n\n"
            "### What the rule proposes for places256 (256², linear betas, 250 steps)\n\n" + "\n".join(places256_proposals())
            + f"\n\nFigure: `{png.name}`. Whole run {total_s:.0f} s on {args.device}.\n\n"
            f"_{environment()}_\n")
    print(text)
    write_result(NAME, text, args.results_dir, quick=args.quick)
    return text


def _bands(edges: list[float]) -> str:
    return ", ".join(f"{a:.3f}-{b:.3f}" for a, b in zip(edges, edges[1:]))


def _goal_lines(points: list[dict]) -> list[str]:
    lines = []
    for p in (q for q in points if q["marker"] in ("rule", "paper truncated", "paper, t_T=100", "truncated")):
        met = p["ratio"] <= 1.1 and p["nfe_ratio"] <= 0.5
        lines.append(f"- {p['mask']}, {p['name']}: KL {p['ratio']:.2f}× RePaint's at {p['nfe_ratio']:.2f}× its NFE: "
                     + ("goal met" if met else "goal NOT met"))
    return lines


if __name__ == "__main__":
    main()
