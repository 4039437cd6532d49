"""Why the plans lose on the border of the neural truth models: the picture's edge, on a periodic truth.

    python benchmarks/neural_truth_edge.py              # both fields, M = 64 (about 20 min on 2 cores)
    python benchmarks/neural_truth_edge.py --quick      # the far field, few pictures, cheap schedules (a smoke run)

The truth models' fields are **periodic** (``exact.GaussianImageModel``: the picture wraps
around), so the exact conditional of a pixel on the picture's edge leans on the pixels across
the opposite edge. A UNet pads its convolutions with zeros: it cannot see across, and it errs
most there. Two measurements say how much of the border's loss that is:

1. **The denoisers by ring**: the network's x0 error over the exact (Bayes) error, minus 1, on
   field draws at a few levels, per ring of pixels (ring 0: the picture's outermost pixels).
2. **The same problem away from the edge**: the border mask (and the known picture) rolled by
   half the picture on the torus is a cross through the middle with the *same* exact
   conditional (the field is stationary and periodic), so every schedule's exact law is
   unchanged; only the network's view differs. Network KL on the exact conditional's
   ``neural_truth.K`` leading components with a 95% interval (``neural_truth.kl_interval``), for
   RePaint 250/10/10, the quality plan as the product makes it for the network
   (``plan_schedule(net, keep)``) and a plain walk.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, log, markdown_table, write_result  # noqa: E402
from exact_schedules import masks  # noqa: E402
from neural_truth import K, kl_interval, projections, truth_models  # noqa: E402
from truth_models import FIELDS  # noqa: E402

from ipainter_nb.core.exact import schedule_error  # noqa: E402
from ipainter_nb.core.sampler import paint  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig  # noqa: E402
from ipainter_nb.core.schedules.plan import plan_schedule  # noqa: E402
from ipainter_nb.train_fields import denoiser_excess  # noqa: E402

NAME = "neural_truth_edge"
LEVELS = (50, 100, 200, 400)
RING_HEADERS = ["field", "t", "ring 0 (edge)", "ring 1", "ring 2", "rings 3+ (inside)"]
HEADERS = ["field", "mask", "schedule", "calls", "network KL [95%]", "exact-law KL", "s"]
IMAGE_SEED = 101  # neural_truth.py's border picture (the border is its mask 1)


def rolled(x: torch.Tensor) -> torch.Tensor:
    """``x`` moved by half the picture both ways, wrapping around: on the torus, the same place."""
    half = x.shape[-1] // 2
    return x.roll((half, half), (-2, -1))


def rings(size: int) -> torch.Tensor:
    """(size, size): each pixel's distance in pixels to the nearest edge of the picture."""
    i = torch.arange(size)
    d = torch.minimum(i, size - 1 - i)
    return torch.minimum(d[:, None], d[None, :])


def excess_by_ring(net, exact, levels: tuple[int, ...], n: int, seed: int) -> list[list[float]]:
    """Per level: the network's x0 squared error over the exact denoiser's, minus 1, on rings 0, 1, 2 and 3+
    (``train_fields.denoiser_excess`` on each ring's pixels, the same draws for every ring)."""
    ring = rings(exact.image_size).clamp(max=3)
    by_ring = [denoiser_excess(net, exact, levels, n, seed, pixels=ring == r) for r in range(4)]
    return [list(row) for row in zip(*by_ring)]


def schedules(net, keep: torch.Tensor, quick: bool) -> list[tuple[str, ScheduleConfig]]:
    """RePaint, the product's plan for the network, a plain walk (cheap stand-ins with ``quick``)."""
    if quick:
        return [("RePaint 10/2/2", ScheduleConfig(10, jump_length=2, jump_n_sample=2, stop_resampling_at=None)),
                ("plain 10", ScheduleConfig(10, jump_length=1, jump_n_sample=1, stop_resampling_at=None))]
    return [("RePaint 250/10/10", ScheduleConfig(250, jump_length=10, jump_n_sample=10, stop_resampling_at=None)),
            ("the plan (plan_schedule(net, keep))", plan_schedule(net, keep, target="quality")),
            ("plain 100", ScheduleConfig(100, jump_length=1, jump_n_sample=1, stop_resampling_at=None))]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the far field, 16 pictures, two cheap schedules")
    parser.add_argument("--results-dir", default=None, help="where to write the table (default benchmarks/results)")
    parser.add_argument("--fields", nargs="+", choices=sorted(FIELDS), default=None)
    parser.add_argument("--samples", type=int, default=None, help="pictures per schedule (default 64; --quick 16)")
    parser.add_argument("--resamples", type=int, default=400, help="bootstrap resamples")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    m = args.samples or (16 if args.quick else 64)
    fields = args.fields or (["far"] if args.quick else list(FIELDS))
    ring_rows: list[list[str]] = []
    rows: list[list[str]] = []

    def write(final: bool) -> str:  # after every row: a run cut short keeps what it measured
        text = "\n\n".join([
            f"# The border of the neural truth models, at the picture's edge and rolled away from it (16², M = {m})",
            environment() + ("" if final else " (partial)"),
            "## The networks' denoisers by ring: x0 error over the exact denoiser's, minus 1 (ring 0: the edge)",
            markdown_table(RING_HEADERS, ring_rows),
            f"## The border and the same problem rolled by half the picture: network KL on {K} components",
            "The rolled problem has the same exact conditional (the field is periodic), so about the same exact-law KL (the "
            f"{K} leading components may split a pair of equal ones differently); the plan is planned on each mask as the "
            "product plans it.",
            markdown_table(HEADERS, rows),
        ])
        write_result(NAME, text, args.results_dir, quick=args.quick)
        return text

    for name in fields:
        net, exact = truth_models(name, None)
        for t, excess in zip(LEVELS, excess_by_ring(net, exact, LEVELS, 32 if args.quick else 512, seed=1)):
            ring_rows.append([name, str(t)] + [f"{e:+.2f}" for e in excess])
        field, size = exact.image_model, exact.image_size
        border = masks(size, ["border"])["border"]
        image = field.sample(1, size, torch.Generator().manual_seed(IMAGE_SEED))[0].clamp(-1, 1)
        for mask_name, keep, picture in (("border", border, image), ("border rolled (a cross)", rolled(border), rolled(image))):
            cond = field.conditional(picture, keep)
            for i, (label, config) in enumerate(schedules(net, keep, args.quick)):
                tick = time.perf_counter()
                samples = paint(net, picture, keep, times=config, num_samples=m, seed=9000 + i, progress=False,
                                max_frames=0, batch_size=m).samples.cpu()
                kl, low, high = kl_interval([projections(cond, samples)], args.resamples, seed=1)
                law = schedule_error(exact, picture, keep, config, k=K, conditional=cond).kl
                rows.append([name, mask_name, label, str(config.nfe), f"{kl:.2f} [{low:.2f}, {high:.2f}]", f"{law:.3f}",
                             f"{time.perf_counter() - tick:.0f}"])
                log("  " + " | ".join(rows[-1]))
                write(final=False)
    text = write(final=True)
    print(text)
    return text


if __name__ == "__main__":
    main()
