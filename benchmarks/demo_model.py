"""How well the shipped demo model learned the procedural landscapes.

Draws unconditional samples (nothing kept, plain descent over the model's t_T steps) and
compares them with fresh procedural scenes: mean colour per image row, power-spectrum
slope, and the fraction of pictures with a sky above a ground (ipainter_nb.demo.stats).
Writes a picture of samples beside real scenes to benchmarks/results/demo_samples.png.

    python benchmarks/demo_model.py [--n 64] [--model demo] [--device cuda] [--name demo_model] [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import RESULTS_DIR, markdown_table, write_result  # noqa: E402  (also puts the repo on sys.path)
from PIL import Image

import ipainter_nb as ip
from ipainter_nb.demo.scenes import make_scenes
from ipainter_nb.demo.stats import compare_to_scenes
from ipainter_nb.images import make_grid, save_png_atomic, uint8_to_tensor, upscale_nearest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--n", type=int, default=64, help="samples to draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="where to sample (e.g. cuda); the statistics are the same")
    parser.add_argument("--name", default="demo_model", help="stem of the result files in benchmarks/results/")
    parser.add_argument("--quick", action="store_true", help="a few samples over 10 steps (smoke run)")
    args = parser.parse_args(argv)
    n = 4 if args.quick else args.n
    model = ip.load_model(args.model, device=args.device)
    t_T = 10 if args.quick else model.default_schedule.t_T
    size = model.image_size
    start = time.perf_counter()
    # micro-batches of 16 keep memory small; sample k is the same picture whatever the batch size
    samples_t = ip.paint(model, torch.zeros(3, size, size), torch.zeros(1, size, size), times=ip.schedules.plain(t_T),
                         num_samples=n, seed=args.seed, batch_size=16, progress=False, max_frames=0).samples.cpu()
    elapsed = time.perf_counter() - start
    stats = compare_to_scenes(samples_t, n_ref=max(n, 64) if not args.quick else 16)
    rows = [
        ["samples", n, f"{stats['spectrum_slope']:.2f}", f"{stats['sky_above_ground']:.2f}",
         f"{stats['row_colour_mae']:.1f}", " ".join(f"{c:.0f}" for c in stats["mean_colour"])],
        ["real scenes", stats["n_ref"], f"{stats['spectrum_slope_ref']:.2f}", f"{stats['sky_above_ground_ref']:.2f}",
         "0.0", " ".join(f"{c:.0f}" for c in stats["mean_colour_ref"])],
    ]
    table = markdown_table(["pictures", "n", "spectrum slope", "sky above ground", "row colour MAE (0-255)",
                            "mean RGB"], rows)
    footer = (f"\n\n{n} unconditional samples of `{model.name}` ({model.num_parameters / 1e6:.1f}M parameters), "
              f"plain descent over {t_T} respaced steps, {elapsed:.0f} s on "
              + (f"{torch.get_num_threads()} CPU thread(s)." if model.device.type == "cpu" else f"{model.device.type}."))
    print(table + footer)
    write_result(args.name, table + footer, quick=args.quick)
    # picture: samples (left) next to real scenes (right)
    k = min(n, 16)
    real = uint8_to_tensor(torch.from_numpy(make_scenes(k, seed=99, size=size)).permute(0, 3, 1, 2))
    left, right = make_grid(samples_t[:k], nrow=4), make_grid(real, nrow=4)
    canvas = Image.new("RGB", (left.width * 2 + 8, left.height), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 8, 0))
    stem = "demo_samples" if args.name == "demo_model" else f"{args.name}_samples"
    name = f"{stem}.quick.png" if args.quick else f"{stem}.png"
    save_png_atomic(upscale_nearest(canvas, 2), RESULTS_DIR / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
