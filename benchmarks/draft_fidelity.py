"""Does the Painter's draft predict the picture Paint makes? (demo model, CPU)

For each of ``--n`` compositions (2 to 5 demo cutouts placed at random on the 64x64 canvas,
as a user does with the palette) and the Painter's seed ``s``:

* the **quick draft** (``DraftPanel.config``: ``draft_schedule`` within ``--quick-calls`` model
  calls, what the 0.6 s budget holds on a small CPU) and the **last draft**
  (``DraftPanel.refined_config``, what a pause of the edits ends on) are painted as
  ``DraftPanel.run_stages`` paints them: seed ``s``, carrying Paint's noise
  (``paint(noise_like=Paint's schedule)``);
* the same two schedules with their **own draws** (``noise_like=None``, the drafts before
  issue 29) are the baseline;
* **Paint** runs the model's default schedule with seed ``s``: its picture 0 is the one the
  Painter shows for seed ``s``, its picture 1 another seed's picture (``derive_seed(s, 1)``).

Runs that walk the same schedule are painted as one batch through ``paint_steps`` with
``paint()``'s own noise sources (each picture as ``paint()`` paints it alone), so that the
twenty compositions fit in minutes on a shared CPU.

Distances are root-mean-square differences over the generated region (keep = 0), in the
pictures' [-1, 1] units: ``pixel`` on the pictures, ``coarse`` on their 8x8-pixel block
means over that region (the layout and colours a draft should show). A draft *predicts* its
picture when it is closer to it than the other seed's picture is; target: in >= 90% of the
compositions, for the last draft.

    .venv/bin/python benchmarks/draft_fidelity.py            # writes benchmarks/results/draft_fidelity.md
    .venv/bin/python benchmarks/draft_fidelity.py --quick    # 2 compositions: a smoke run

``painter_browser.py`` prints this table too (it reads the results file).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from _common import base_parser, environment, fmt, log, markdown_table, num_threads, write_result

import ipainter_nb as ip
from ipainter_nb.core.noise import carried_noise
from ipainter_nb.core.sampler import derive_seed, paint_steps, seeded_noise
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.demo.cutouts import list_cutouts
from ipainter_nb.widgets.draft import DraftPanel, draft_schedule

NAME = "draft_fidelity"
TARGET_SHARE = 0.9
BLOCK = 8


def random_composition(index: int, size: int = 64) -> ip.Composition:
    """Composition ``index``: 2 to 5 demo cutouts at random places and scales (reproducible)."""
    rng = np.random.default_rng(1000 + index)
    cutouts = list_cutouts()
    names = rng.choice(sorted(cutouts), size=int(rng.integers(2, 6)), replace=False)
    comp = ip.Composition(size)
    for name in names:
        scale = float(rng.uniform(0.35, 0.75))
        layer = comp.add(ip.Layer.from_file(cutouts[str(name)], scale=scale))
        w, h = layer.size
        comp.move_to(layer, int(rng.integers(0, max(1, size - w))), int(rng.integers(0, max(1, size - h))))
    return comp


def region_rms(a: torch.Tensor, b: torch.Tensor, generated: torch.Tensor, block: int = 1) -> float:
    """RMS of ``a - b`` over the generated pixels; with ``block > 1``, of their block means there."""
    diff = (a - b) * generated
    if block > 1:
        pool = torch.nn.functional.avg_pool2d
        weight = pool(generated[None], block)[0]
        means = pool(diff[None], block)[0] / weight.clamp_min(1e-8)
        used = (weight > 0.25).expand_as(means)  # blocks mostly generated
        return float(means[used].pow(2).mean().sqrt())
    return float(diff.pow(2).sum().div(generated.expand_as(diff).sum()).sqrt())


#: the runs compared with Paint's picture: (name, what it is)
RUNS = {
    "last": "last draft (Paint's walk, fewer repeats), Paint's noise carried",
    "quick": "quick draft, Paint's noise carried",
    "plan carried": "draft plan, Paint's noise carried",
    "plan own": "draft plan, its own draws (the last draft before)",
    "quick own": "quick draft, its own draws (before)",
}


@dataclass
class Row:
    index: int
    layers: int
    calls: dict[str, int]  # run -> model calls
    distance: dict[str, tuple[float, float]]  # run -> (pixel, coarse) distance to its picture
    other_seed: tuple[float, float]


def paint_batch(model: ip.DiffusionModel, config: ScheduleConfig, images: torch.Tensor, keeps: torch.Tensor,
                sources: list) -> torch.Tensor:
    """Pictures of one schedule, picture i painted with ``sources[i]`` (one picture's noise source)."""
    times = config.times()

    def noise() -> torch.Tensor:
        return torch.cat([source() for source in sources])

    with torch.inference_mode():
        *_, last = paint_steps(model, images, keeps, times, noise=noise, eta=config.eta)
    return last.x_t.clamp(-1, 1)


def measure(model: ip.DiffusionModel, indices: list[int], seed: int, quick_calls: int) -> list[Row]:
    """Rows of compositions ``indices``: every run of one schedule painted as one batch."""
    comps = [random_composition(i, model.image_size) for i in indices]
    rendered = [c.render() for c in comps]
    paint_config = model.default_schedule
    panel = DraftPanel()
    shape = rendered[0][0].shape

    def own(s: int) -> object:
        return seeded_noise([s], shape, "cpu", torch.float32)

    def carried(s: int, config: ScheduleConfig) -> object:
        times, like = config.times(), paint_config.times()
        return carried_noise([s], shape, times, model.schedule(times[0] + 1), like, model.schedule(like[0] + 1), "cpu",
                             torch.float32)

    # (composition, run, noise source) for every picture, grouped by schedule into batches
    jobs: dict[ScheduleConfig, list] = defaultdict(list)
    for j, (_, keep) in enumerate(rendered):
        jobs[paint_config] += [(j, "paint", own(seed)), (j, "other", own(derive_seed(seed, 1)))]
        quick, plan = draft_schedule(model, quick_calls, keep), draft_schedule(model, None, keep)
        last = panel.refined_config(model, keep)
        jobs[last].append((j, "last", carried(seed, last)))
        jobs[quick] += [(j, "quick", carried(seed, quick)), (j, "quick own", own(seed))]
        jobs[plan] += [(j, "plan carried", carried(seed, plan)), (j, "plan own", own(seed))]
    pictures: dict[tuple[int, str], torch.Tensor] = {}
    calls: dict[tuple[int, str], int] = {}
    for config, items in jobs.items():
        images = torch.stack([rendered[j][0] for j, _, _ in items])
        keeps = torch.stack([rendered[j][1] for j, _, _ in items])
        out = paint_batch(model, config, images, keeps, [source for _, _, source in items])
        for (j, run, _), picture in zip(items, out):
            pictures[(j, run)] = picture
            calls[(j, run)] = config.nfe
    rows = []
    for j, (index, comp) in enumerate(zip(indices, comps)):
        generated = 1.0 - rendered[j][1]
        target = pictures[(j, "paint")]

        def both(x: torch.Tensor) -> tuple[float, float]:
            return region_rms(x, target, generated), region_rms(x, target, generated, BLOCK)

        rows.append(Row(index, len(comp), {r: calls[(j, r)] for r in RUNS},
                        {r: both(pictures[(j, r)]) for r in RUNS}, both(pictures[(j, "other")])))
    return rows


def closer(a: tuple[float, float], b: tuple[float, float]) -> str:
    return f"{'yes' if a[0] < b[0] else 'no'}, {'yes' if a[1] < b[1] else 'no'}"


def table(rows: list[Row]) -> str:
    def pair(d: tuple[float, float]) -> str:
        return f"{fmt(d[0])} / {fmt(d[1])}"

    headers = ["composition", "layers", "calls: last / quick / plan", "last: pixel / coarse", "quick: pixel / coarse",
               "other seed: pixel / coarse", "last closer (pixel, coarse)", "plan, carried", "plan, own draws (before)"]
    body = [[r.index, r.layers, f"{r.calls['last']} / {r.calls['quick']} / {r.calls['plan own']}",
             pair(r.distance["last"]), pair(r.distance["quick"]), pair(r.other_seed),
             closer(r.distance["last"], r.other_seed), pair(r.distance["plan carried"]), pair(r.distance["plan own"])]
            for r in rows]
    return markdown_table(headers, body)


def summary(rows: list[Row]) -> str:
    n = len(rows)
    lines = []
    for run, what in RUNS.items():
        pixel = sum(r.distance[run][0] < r.other_seed[0] for r in rows)
        coarse = sum(r.distance[run][1] < r.other_seed[1] for r in rows)
        mean = sum(r.distance[run][0] for r in rows) / n
        lines.append(f"- {what}: closer to its picture than another seed's picture in pixel {pixel}/{n}, "
                     f"coarse {coarse}/{n} (mean pixel distance {fmt(mean)})")
    mean_other = sum(r.other_seed[0] for r in rows) / n
    lines.append(f"- another seed's picture: mean pixel distance {fmt(mean_other)}; target: the last draft closer "
                 f"in >= {TARGET_SHARE:.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="compositions (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="the Painter's seed")
    parser.add_argument("--quick-calls", type=int, default=12, help="model calls of the quick draft (default 12)")
    parser.add_argument("--chunk", type=int, default=2, help="compositions painted together (default 2)")
    args = parser.parse_args(argv)
    n = 2 if args.quick else args.n
    model = ip.load_model("demo", device="cpu")
    rows: list[Row] = []
    started = time.perf_counter()
    with num_threads(args.threads):
        for first in range(0, n, args.chunk):
            rows += measure(model, list(range(first, min(n, first + args.chunk))), args.seed, args.quick_calls)
            log(f"compositions 0-{len(rows) - 1} done ({time.perf_counter() - started:.0f} s)")
            # written after each chunk: a run cut short still leaves what it measured
            text = "\n\n".join([
                f"# Draft against the painted picture ({len(rows)} of {n} compositions, demo model, seed {args.seed})",
                environment(), table(rows), summary(rows),
                f"Paint: the demo model's default schedule ({model.default_schedule.nfe} calls). Drafts as the "
                f"Painter paints them (carrying Paint's noise): the quick draft within {args.quick_calls} calls, the "
                f"last draft (`DraftPanel.refined_config`: Paint's walk with the most repeats within the draft "
                f"plan's calls); the planner's draft plan carrying Paint's noise, and with its own draws (the last "
                f"draft before). Distances: RMS over the generated region in [-1, 1] units; coarse: over "
                f"{BLOCK}x{BLOCK} block means."])
            write_result(NAME, text, args.results_dir, quick=args.quick)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
