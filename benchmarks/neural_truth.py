"""Schedules judged on a real network whose truth is known: the neural truth models.

    python benchmarks/neural_truth.py                  # both fields, three masks (tens of minutes on 2 cores)
    python benchmarks/neural_truth.py --quick          # one mask, few samples, cheap schedules (a smoke run)
    python benchmarks/neural_truth.py --fields far --masks "centre hole" --samples 64 --repaint 250

The truth models (``tests/fixtures/truth/``, rebuilt by ``benchmarks/truth_models.py``) are
small UNets trained by ``ipainter train --gaussian-field`` on draws of a Gaussian field, so
the exact conditional of every mask is known. For each field, mask and schedule:

1. **Network, Monte Carlo**: ``paint()`` on the network draws M pictures (its defaults:
   x0 clamped to [-1, 1], as the product paints); their KL to the
   exact conditional (Gaussian KL on the ``k`` leading components of the exact conditional
   covariance, as ``ExactConditional.score_samples`` scores) with a 95% interval (a basic
   parametric bootstrap: see :func:`kl_interval`), the bias and the variance ratio.
2. **Exact denoiser, same noise**: ``paint()`` on the field's exact denoiser with the same
   seed draws the same start and step noise, so ``Δ`` (network KL − exact-denoiser KL, the
   pairs bootstrapped together) is what the network's own errors add to this schedule.
3. **Exact law**: the same schedule's noise-free KL on the exact denoiser
   (``exact.schedule_error``), what the planner sees.

A Monte Carlo KL from M pictures is biased upward by about ``k(k+3)/(4M)``; the row
"exact samples" scores M exact conditional draws the same way (the floor).

Before the schedules: the network's denoiser against the exact one on field draws, per
level t, as the excess of its x0 error over the exact (Bayes) error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, log, markdown_table, write_result  # noqa: E402
from exact_schedules import masks  # noqa: E402
from truth_models import FIELDS, truth_path  # noqa: E402

from ipainter_nb.core.exact import ExactDiffusionModel, schedule_error  # noqa: E402
from ipainter_nb.core.models import load_model  # noqa: E402
from ipainter_nb.core.sampler import paint  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig  # noqa: E402
from ipainter_nb.core.schedules.plan import plan_schedule  # noqa: E402
from ipainter_nb.train_fields import denoiser_excess, recorded_field  # noqa: E402

NAME = "neural_truth"
MASKS = ["centre hole", "border", "cutout-shaped hole"]
K = 8  # components of the KL: few, so that M pictures estimate their covariance
LEVELS = (10, 50, 100, 200, 400, 600, 800, 950)
HEADERS = ["field", "mask", "schedule", "calls", "network KL [95%]", "exact denoiser KL (MC)", "Δ network − exact [95%]",
           "exact-law KL", "network bias", "network var", "s"]
DENOISER_HEADERS = ["field"] + [f"t={t}" for t in LEVELS]


@dataclass
class Case:
    name: str
    config: ScheduleConfig


def with_(config: ScheduleConfig, **changes: object) -> ScheduleConfig:
    """``config`` with some knobs changed (through its dict form, so every field is named)."""
    return ScheduleConfig.from_dict({**config.to_dict(), **changes})


def level_by_level(plan: ScheduleConfig) -> ScheduleConfig:
    """The plan's window walked level by level (RePaint's way) at about the plan's calls: the
    same window, jumps of the same span in t, the most repeats that fit."""
    top = plan.start_resampling_at
    jump = max(1, round(plan.jump_length * top / max(plan.window_levels - 1, 1)))
    best = with_(plan, window_levels=None, repeat_ramp=0.0, jump_length=jump, jump_n_sample=2)
    for r in range(3, plan.jump_n_sample + 1):
        candidate = with_(best, jump_n_sample=r)
        if candidate.nfe > plan.nfe:
            break
        best = candidate
    return best


def cases(net, exact: ExactDiffusionModel, keep: torch.Tensor, repaint_t: int, quick: bool) -> list[Case]:
    """RePaint, plain, the paper's truncation, the exact-field plans, the variants that isolate η, stride and
    grid, the plan as the product makes it for this network (which knows no spectrum), and the plan at η 1."""
    if quick:
        return [Case("plain 20", ScheduleConfig(20, jump_length=1, jump_n_sample=1, stop_resampling_at=None)),
                Case("RePaint 20/2/3", ScheduleConfig(20, jump_length=2, jump_n_sample=3, stop_resampling_at=None))]
    jump = 10 if repaint_t == 250 else 5
    quality = plan_schedule(exact, keep, target="quality")
    draft = plan_schedule(exact, keep, target="draft")
    out = [
        Case(f"RePaint {repaint_t}/{jump}/{jump}", ScheduleConfig(repaint_t, jump_length=jump, jump_n_sample=jump,
                                                                 stop_resampling_at=None)),
        Case("plain 100 (no resampling)", ScheduleConfig(100, jump_length=1, jump_n_sample=1, stop_resampling_at=None)),
        Case(f"paper truncation {repaint_t}/{jump}/{jump} stop {round(0.4 * repaint_t)}",
             ScheduleConfig(repaint_t, jump_length=jump, jump_n_sample=jump, stop_resampling_at=round(0.4 * repaint_t))),
        Case("plan quality", quality),
        Case("plan draft", draft),
        Case("plan quality, η 0.5", with_(quality, eta=0.5)),
        Case("plan quality, η 0", with_(quality, eta=0.0)),
        Case("plan quality, stride 1", with_(quality, stride=1)),
        Case("plan quality, window level by level", level_by_level(quality)),
        Case("plan quality planned on the network", plan_schedule(net, keep, target="quality")),
        # last, so that the rows above keep their seeds
        Case("plan quality, η 1", with_(quality, eta=1.0)),
    ]
    return out


def describe(config: ScheduleConfig) -> str:
    grid = f" on {config.window_levels} levels" if config.window_levels else ""
    window = f" t=0..{config.start_resampling_at}{grid}" if config.start_resampling_at is not None else ""
    return f"t_T={config.t_T} stride {config.stride}{window} j={config.jump_length} r={config.jump_n_sample} η={config.eta:g}"


def projections(cond, samples: torch.Tensor) -> np.ndarray:
    """(M, K) coordinates of the pictures on the exact conditional's K leading components, in
    units of their exact standard deviation, centred on the exact mean (the truth is N(0, I) there)."""
    z = cond.image_model._to_eigen(samples.detach().cpu()).numpy().reshape(samples.shape[0], 3, -1)[:, :, cond.generated]
    j, vec, comp_var = cond.components(K)
    return np.einsum("gk,nkg->nk", vec, z[:, j, :] - cond.mean_eigen[j][None]) / np.sqrt(comp_var)


def gaussian_kl(z: np.ndarray) -> float:
    """KL(N(sample mean, sample covariance) ‖ N(0, I)) of the rows of ``z`` (what ``score_samples`` reports)."""
    mean, cov = z.mean(axis=0), np.cov(z, rowvar=False, ddof=1)
    sign, logdet = np.linalg.slogdet(cov)
    return 0.5 * (np.trace(cov) + float(mean @ mean) - len(mean) - logdet) if sign > 0 else float("inf")


def kl_interval(zs: list[np.ndarray], resamples: int, seed: int) -> tuple[float, float, float]:
    """The KL of ``zs[0]`` (minus that of ``zs[1]``, paired picture by picture) with a 95% interval.

    A parametric bootstrap: M pictures are redrawn from the Gaussian fitted to the (joint)
    projections and scored again; the interval is the basic one (``2·KL − the redraws'
    quantiles``), which takes off the upward bias a KL from M pictures has, so it is an
    interval for the KL of the schedule's law, not of M of its pictures. (Resampling the
    pictures themselves repeats some, which collapses the covariance at this M.)
    """
    joint = np.concatenate(zs, axis=1)
    k = zs[0].shape[1]

    def stat(z: np.ndarray) -> float:
        return gaussian_kl(z[:, :k]) - (gaussian_kl(z[:, k:]) if len(zs) > 1 else 0.0)

    point = stat(joint)
    rng = np.random.default_rng(seed)
    mean, cov = joint.mean(axis=0), np.cov(joint, rowvar=False, ddof=1)
    boots = np.array([stat(rng.multivariate_normal(mean, cov, size=len(joint))) for _ in range(resamples)])
    low, high = np.percentile(boots[np.isfinite(boots)], [2.5, 97.5])
    return point, float(2 * point - high), float(2 * point - low)


def truth_models(field_name: str, weights: Path | None) -> tuple:
    """The network, its field's exact denoiser and the denoiser table's row."""
    path = (weights / truth_path(field_name).name) if weights else truth_path(field_name)
    net = load_model(str(path), device="cpu", dtype=torch.float32, prepack=False)
    field = recorded_field(path)
    exact = ExactDiffusionModel.create(field, net.image_size, variance_type=net.variance_type)
    return net, exact


def judge(field_name: str, net, exact: ExactDiffusionModel, mi: int, mask_name: str, keep: torch.Tensor, which: int,
          m: int, repaint_t: int, quick: bool, resamples: int) -> list[str]:
    """One row: schedule ``which`` of ``cases()`` on one field and mask (-1: the floor, M exact samples)."""
    field, size = exact.image_model, exact.image_size
    image = field.sample(1, size, torch.Generator().manual_seed(100 + mi))[0].clamp(-1, 1)
    cond = field.conditional(image, keep)
    if which < 0:
        floor = cond.sample(m, torch.Generator().manual_seed(99))
        kl, low, high = kl_interval([projections(cond, floor)], resamples, seed=mi)
        return [field_name, mask_name, f"exact samples (floor, M={m})", "—", f"{kl:.3f} [{low:.3f}, {high:.3f}]",
                "—", "—", "0", "—", "—", "—"]
    case = cases(net, exact, keep, repaint_t, quick)[which]
    tick = time.perf_counter()
    # paint()'s defaults (x0 clamped to [-1, 1], as the product paints); the same seed gives both
    # models the same start and step noise
    common = dict(times=case.config, num_samples=m, seed=1000 * mi + which, progress=False, max_frames=0, batch_size=m)
    samples = paint(net, image, keep, **common).samples.cpu()
    exact_samples = paint(exact, image, keep, **common).samples.cpu()
    z, z_exact = projections(cond, samples), projections(cond, exact_samples)
    kl, low, high = kl_interval([z], resamples, seed=mi)
    delta, dlow, dhigh = kl_interval([z, z_exact], resamples, seed=mi)
    law = schedule_error(exact, image, keep, case.config, k=K, conditional=cond)
    score = cond.score_samples(samples, k=K)
    mc_exact = gaussian_kl(z_exact)
    row = [field_name, mask_name, f"{case.name}: {describe(case.config)}", str(case.config.nfe),
           f"{kl:.3f} [{low:.3f}, {high:.3f}]", f"{mc_exact:.3f}", f"{delta:+.3f} [{dlow:+.3f}, {dhigh:+.3f}]",
           f"{law.kl:.3f}", f"{score['bias']:.3f}", f"{score['var_ratio']:.3f}", f"{time.perf_counter() - tick:.0f}"]
    log("  " + " | ".join(row))
    return row


_MODELS: dict[str, tuple] = {}  # per worker process: each field's models, loaded once


def _job(job: tuple) -> list[str]:
    """One row of the sweep, in a worker process."""
    mi, mask_name, name, which, weights, m, repaint_t, quick, resamples = job
    if name not in _MODELS:
        _MODELS[name] = truth_models(name, weights)
    net, exact = _MODELS[name]
    keep = masks(exact.image_size, [mask_name])[mask_name]
    return judge(name, net, exact, mi, mask_name, keep, which, m, repaint_t, quick, resamples)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one mask, 16 pictures, two cheap schedules")
    parser.add_argument("--results-dir", default=None, help="where to write the table (default benchmarks/results)")
    parser.add_argument("--fields", nargs="+", choices=sorted(FIELDS), default=list(FIELDS))
    parser.add_argument("--masks", nargs="+", choices=MASKS, default=None)
    parser.add_argument("--samples", type=int, default=None, help="pictures per schedule (default 32; --quick 16)")
    parser.add_argument("--repaint", type=int, choices=(100, 250), default=100,
                        help="RePaint's t_T: 100 (jumps 5, 5 repeats) or 250 (the paper's 10/10)")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--workers", type=int, default=1, help="processes, one row at a time each, one thread each")
    parser.add_argument("--cases", type=int, nargs="+", default=None,
                        help="only these rows of the schedule list (0-based, in the order of cases()); default all")
    parser.add_argument("--name", default=NAME, help="the results file's name (benchmarks/results/NAME.md)")
    parser.add_argument("--weights", type=Path, default=None, help="folder of truth_*.safetensors (default: the shipped ones)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    m = args.samples or (16 if args.quick else 32)
    mask_names = args.masks or (MASKS[:1] if args.quick else MASKS)
    denoiser = []
    for name in args.fields:
        net, exact = truth_models(name, args.weights)
        denoiser.append([name] + [f"{e:+.3f}" for e in denoiser_excess(net, exact, LEVELS, 32 if args.quick else 128, seed=7)])
        log(" | ".join(denoiser[-1]))
    first = masks(exact.image_size, mask_names[:1])[mask_names[0]]
    count = len(cases(net, exact, first, args.repaint, args.quick))
    # mask by mask, each field, the costliest rows first (RePaint is case 0)
    # a mask's picture and seeds follow its place in MASKS, whichever masks a run picks
    jobs = [(MASKS.index(mask_name), mask_name, name, which, args.weights, m, args.repaint, args.quick, args.resamples)
            for mask_name in mask_names for name in args.fields for which in [-1, *(args.cases or range(count))]]
    rows: list[list[str]] = []

    def write(final: bool) -> str:  # after every row: a run cut short keeps what it measured
        text = "\n\n".join([
            f"# Schedules on the neural truth models (16², M = {m} pictures per schedule, KL on {K} components)",
            environment() + ("" if final else f" (partial: {len(rows)} of {len(jobs)} rows)"),
            "## The networks' denoisers: x0 error over the exact denoiser's, minus 1, per level t",
            markdown_table(DENOISER_HEADERS, denoiser),
            "## Schedules: network Monte Carlo vs exact denoiser (same noise) vs exact law",
            markdown_table(HEADERS, rows),
        ])
        write_result(args.name, text, args.results_dir, quick=args.quick)
        return text

    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(args.workers, mp_context=get_context("fork"),
                                                           initializer=torch.set_num_threads, initargs=(1,)))
            results = pool.map(_job, jobs)
        else:
            results = map(_job, jobs)
        for row in results:
            rows.append(row)
            write(final=False)
    text = write(final=True)
    print(text)
    return text


if __name__ == "__main__":
    main()
