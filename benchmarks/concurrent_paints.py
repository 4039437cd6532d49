"""Two paints at once on a small machine (two notebooks painting): throughput against one alone.

Each paint is `ipainter demo`-sized (the demo model, its demo composition, ``--samples``
pictures, the model's default schedule or ``--steps`` steps of it) and runs in its own
process, as two notebooks' kernels do. Three set-ups, in this order:

* **one alone**, with torch's default threads;
* **two at once, default threads**: each process takes every core (what two kernels do);
* **two at once, shared threads**: each takes its share of the cores (``cpu_share`` of the
  Painter: the cores the others leave free, one each on two cores).

The table gives each set-up's wall time (process start and model load included), each paint's
own time, and the throughput in pictures per minute over the slowest paint's time (two paints'
pictures for the two-at-once set-ups). Other load on the machine is reported
(the load average before each set-up): it changes the figures.

    .venv/bin/python benchmarks/concurrent_paints.py           # writes benchmarks/results/concurrent_paints.md
    .venv/bin/python benchmarks/concurrent_paints.py --quick   # 1 picture, 10 steps: a smoke run
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _common import ROOT, base_parser, environment, fmt, log, markdown_table, write_result

NAME = "concurrent_paints"

# One paint in a fresh process; prints its wall time (after loading the model).
PAINT_SOURCE = """
import sys, time, torch
import ipainter_nb as ip
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.demo import demo_composition
threads, samples, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if threads:
    torch.set_num_threads(threads)
model = ip.load_model("demo", device="cpu")
config = model.default_schedule if steps == 0 else ScheduleConfig.for_t_T(steps, like=model.default_schedule)
image, keep = demo_composition(model.image_size).render()
start = time.perf_counter()
ip.paint(model, image, keep, times=config, num_samples=samples, seed=0, progress=False)
print(time.perf_counter() - start, torch.get_num_threads(), config.nfe)
"""


def run_paints(count: int, threads: int, samples: int, steps: int) -> tuple[float, list[str]]:
    """Start ``count`` paint processes at once; the wall time until the last ends, and their outputs."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", PAINT_SOURCE, str(threads), str(samples), str(steps)],
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(count)]
    outputs = [p.communicate()[0].strip() for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a paint failed: {outputs}")
    return time.perf_counter() - start, outputs


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="pictures per paint (ipainter demo's default: 5)")
    parser.add_argument("--steps", type=int, default=0, help="t_T of the schedule (0: the model's default)")
    args = parser.parse_args(argv)
    samples, steps = (1, 10) if args.quick else (args.samples, args.steps)
    cores = os.cpu_count() or 1
    share = max(1, cores // 2)
    rows = []
    for label, count, threads in (("one alone", 1, 0), ("two at once, default threads", 2, 0),
                                  (f"two at once, {share} thread{'s' * (share > 1)} each", 2, share)):
        load = os.getloadavg()[0]
        wall, outputs = run_paints(count, threads, samples, steps)
        paint_s = [float(o.split()[0]) for o in outputs]
        used, nfe = outputs[0].split()[1], outputs[0].split()[2]
        per_minute = 60 * count * samples / max(paint_s)  # the paints overlap: the slowest one ends the set-up
        rows.append([label, used, fmt(load, 2), fmt(wall), " / ".join(fmt(p) for p in paint_s), fmt(per_minute)])
        log(f"{label}: {wall:.1f} s")
    base = float(rows[0][-1])
    for row in rows:
        row.append(fmt(float(row[-1]) / base))
    table = markdown_table(["set-up", "torch threads per paint", "load before", "wall (s)", "each paint (s)",
                            "pictures / min", "throughput vs one alone"], rows)
    text = (f"# Two paints at once against one ({cores} cores)\n\n{table}\n\n"
            f"Each paint: the demo model, its demo composition, {samples} picture(s), "
            f"{'the default schedule' if steps == 0 else f'{steps} steps of the default schedule'} ({nfe} model "
            f"calls), in its own process (the model loaded before the clock starts).\n\n{environment()}\n")
    print(text)
    write_result(NAME, text, args.results_dir, quick=args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
