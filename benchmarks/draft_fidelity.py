"""Does the Painter's draft predict the picture Paint makes? (demo model, CPU)

For each of ``--n`` compositions (2 to 5 demo cutouts placed at random on the 64x64 canvas,
as a user does with the palette) and the Painter's seed ``s``:

* the **quick draft** and the **draft plan** are painted through the Painter's own draft code
  (``DraftPanel.run_stages``: the quick draft within the time budget, then the planner's
  draft plan), with seed ``s``;
* **Paint** runs the model's default schedule with ``num_samples=2`` and seed ``s``: its
  picture 0 is the one the Painter shows for seed ``s`` (the draft's noise), its picture 1
  is another seed's picture (``derive_seed(s, 1)``).

Distances are root-mean-square differences over the generated region (keep = 0), in the
pictures' [-1, 1] units: ``pixel`` on the pictures, ``coarse`` on their 8x8-pixel block
means over that region (the layout and colours a draft should show). A draft *predicts* its
picture when it is closer to it than the other seed's picture is; target: in >= 90% of the
compositions, for the draft plan (the last draft a pause shows).

    .venv/bin/python benchmarks/draft_fidelity.py            # writes benchmarks/results/draft_fidelity.md
    .venv/bin/python benchmarks/draft_fidelity.py --quick    # 2 compositions: a smoke run

``painter_browser.py`` prints this table too (it reads the results file).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from _common import base_parser, environment, fmt, log, markdown_table, num_threads, write_result

import ipainter_nb as ip
from ipainter_nb.demo.cutouts import list_cutouts
from ipainter_nb.widgets.draft import DraftPanel

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


@dataclass
class Row:
    index: int
    layers: int
    quick_calls: int
    plan_calls: int
    quick: tuple[float, float]
    plan: tuple[float, float]
    other_seed: tuple[float, float]
    seconds: float


def measure(model: ip.DiffusionModel, panel: DraftPanel, index: int, seed: int) -> Row:
    comp = random_composition(index, model.image_size)
    image, keep = comp.render()
    generated = 1.0 - keep
    started = time.perf_counter()
    drafts: list[ip.PaintResult] = []
    panel.run_stages(model, image, keep, seed, ip.CancelToken(), shown=drafts.append)
    paint = ip.paint(model, image, keep, times=model.default_schedule, num_samples=2, seed=seed, progress=False)
    picture, other = paint.samples[0], paint.samples[1]
    quick, plan = drafts[0], drafts[-1]

    def both(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        return region_rms(x, y, generated), region_rms(x, y, generated, BLOCK)

    return Row(index, len(comp), quick.nfe if len(drafts) > 1 else 0, plan.nfe, both(quick.samples[0], picture),
               both(plan.samples[0], picture), both(other, picture), time.perf_counter() - started)


def table(rows: list[Row]) -> str:
    headers = ["composition", "layers", "quick calls", "plan calls", "quick: pixel / coarse",
               "draft plan: pixel / coarse", "other seed: pixel / coarse", "plan closer (pixel, coarse)"]
    body = [[r.index, r.layers, r.quick_calls or "-", r.plan_calls, f"{fmt(r.quick[0])} / {fmt(r.quick[1])}",
             f"{fmt(r.plan[0])} / {fmt(r.plan[1])}", f"{fmt(r.other_seed[0])} / {fmt(r.other_seed[1])}",
             f"{'yes' if r.plan[0] < r.other_seed[0] else 'no'}, {'yes' if r.plan[1] < r.other_seed[1] else 'no'}"]
            for r in rows]
    return markdown_table(headers, body)


def summary(rows: list[Row]) -> str:
    n = len(rows)
    lines = []
    for name, pick in (("draft plan", lambda r: r.plan), ("quick draft", lambda r: r.quick)):
        pixel = sum(pick(r)[0] < r.other_seed[0] for r in rows)
        coarse = sum(pick(r)[1] < r.other_seed[1] for r in rows)
        lines.append(f"- {name} closer to its picture than another seed's picture: pixel {pixel}/{n}, "
                     f"coarse {coarse}/{n} (target: >= {TARGET_SHARE:.0%} for the draft plan)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="compositions (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="the Painter's seed")
    args = parser.parse_args(argv)
    n = 2 if args.quick else args.n
    model = ip.load_model("demo", device="cpu")
    panel = DraftPanel()  # one panel for all, as in the Painter: its timed calls size the quick drafts
    rows: list[Row] = []
    with num_threads(args.threads):
        for i in range(n):
            rows.append(measure(model, panel, i, args.seed))
            r = rows[-1]
            log(f"composition {i}: plan {fmt(r.plan[0])} vs other seed {fmt(r.other_seed[0])} ({r.seconds:.0f} s)")
            # written after each composition: a run cut short still leaves what it measured
            text = "\n\n".join([
                f"# Draft against the painted picture ({len(rows)} of {n} compositions, demo model, seed {args.seed})",
                environment(), table(rows), summary(rows),
                f"Paint: the demo model's default schedule ({model.default_schedule.nfe} calls). Distances: RMS over "
                f"the generated region in [-1, 1] units; coarse: over {BLOCK}x{BLOCK} block means. Quick calls: the "
                f"quick draft of the pause (its time budget on this machine), '-' when the budget held the plan."])
            write_result(NAME, text, args.results_dir, quick=args.quick)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
