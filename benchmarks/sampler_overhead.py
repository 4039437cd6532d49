"""What ``paint()`` costs beyond its model calls, and what batching buys.

    python benchmarks/sampler_overhead.py            # demo architecture, the demo's default schedule
    python benchmarks/sampler_overhead.py --quick    # a tiny network and a short schedule, seconds

``paint()`` is a thin collector over the ``paint_steps()`` generator (frames for replay,
progress, timing, the stop checks); these tables measure what that costs.

Overhead of a run (batch 1), three ways:

* in run: ``timings['overhead_s'] / timings['model_s']`` as ``paint()`` records them, i.e.
  (wall time − time inside the model calls) / time inside the model calls;
* against isolated calls: wall time / (NFE × the median time of isolated forward calls at
  the same batch, measured just before and after the run) − 1. On a shared machine the
  isolated forward time drifts by ±10 % within seconds, so this column is noisy;
* the sampler alone: the same run with the network replaced by zeros, against NFE × forward.

Each row is the median of 3 runs. Targets: ≤ 3 % without previews, ≤ 5 % with
``LivePreview.on_step`` as the callback. Batching: samples per second of one ``paint()``
call for ``num_samples`` = 1, 2, 4, 8 in one micro-batch each (sizes interleaved, the
best of 2 runs each), and what ``batch_size=None`` (``auto_batch_size``) picks here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Pauser, base_parser, environment, log, markdown_table, median_time, num_threads, threads_for, write_result  # noqa: E402

from ipainter_nb.core.checkpoints import save_model  # noqa: E402
from ipainter_nb.core.models import DiffusionModel, load_model  # noqa: E402
from ipainter_nb.core.presets import DEMO_WEIGHTS, PRESETS  # noqa: E402
from ipainter_nb.core.sampler import auto_batch_size, paint  # noqa: E402
from ipainter_nb.core.schedules import ScheduleConfig, count_nfe  # noqa: E402
from ipainter_nb.core.unet import build_unet  # noqa: E402

NAME = "sampler_overhead"
TINY = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2],
            attention_resolutions=[16], num_heads=1, num_head_channels=32, learn_sigma=False)
OVERHEAD_HEADERS = ["callback", "NFE", "paint s", "model calls s (in run)", "overhead (in run)",
                    "isolated forward ms before / after", "NFE × isolated s", "paint vs NFE × isolated", "target", "ok"]
BATCH_HEADERS = ["num_samples", "NFE", "paint s", "samples/s", "vs one at a time"]


def get_model(quick: bool, model_path: str | None, tmp: Path) -> tuple[DiffusionModel, str]:
    """The trained demo model when present, else random weights of the same architecture."""
    if model_path:
        return load_model(model_path, device="cpu"), f"model {model_path}"
    if not quick and DEMO_WEIGHTS.is_file():
        return load_model("demo", device="cpu"), "trained demo weights"
    config = TINY if quick else dict(PRESETS["demo"].unet_config)
    torch.manual_seed(0)
    path = tmp / "random.safetensors"
    schedule = (ScheduleConfig(t_T=10, jump_length=2, jump_n_sample=2, stop_resampling_at=4)
                if quick else PRESETS["demo"].default_schedule)
    save_model(build_unet(config), path, name="random", unet_config=config, variance_type="fixed_small",
               default_schedule=schedule, dtype=torch.float32)
    arch = "tiny" if quick else "demo"
    return load_model(path, device="cpu"), f"random weights, {arch} architecture (trained weights absent)"


def inputs(model: DiffusionModel) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed picture and a mask that keeps its middle: 0 = generate the border."""
    size = model.image_size
    g = torch.Generator().manual_seed(7)
    image = torch.rand(3, size, size, generator=g) * 2 - 1
    keep = torch.zeros(1, size, size)
    keep[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    return image, keep


def forward_time(model: DiffusionModel, batch: int, k: int) -> float:
    """Median time of one model call at this batch, as ``paint()`` makes it."""
    size = model.image_size
    sched = model.schedule(model.default_schedule.t_T)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    t = torch.full((batch,), sched.num_steps // 2, dtype=torch.long)
    med, _ = median_time(lambda: model(x, t, sched), k, warmup=2)
    return med


def make_preview(num_samples: int) -> tuple[Callable[[Any], Any] | None, str]:
    try:
        from ipainter_nb.widgets.preview import LivePreview
    except Exception as exc:  # the widget is optional for this benchmark
        return None, f"LivePreview unavailable ({type(exc).__name__}: {exc})"
    preview = LivePreview()
    preview.reset(num_samples)  # build the image rows before the run, as the app does
    return preview.on_step, "LivePreview.on_step (max_fps=10)"


class ZeroModel:
    """The model with its network replaced by zeros: what is left of a run is the sampler's own work."""

    def __init__(self, model: DiffusionModel):
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, schedule: Any) -> torch.Tensor:
        return torch.zeros_like(x)


def measure_overhead(model: DiffusionModel, times: list[int], k: int, repeats: int, pauser: Pauser,
                     log: Callable[[str], None]) -> tuple[list[list[str]], list[str]]:
    """Rows of the overhead table (the median of ``repeats`` runs each)."""
    image, keep = inputs(model)
    nfe = count_nfe(times)
    rows, notes = [], []
    variants: list[tuple[str, Callable[[], tuple[Callable | None, str]], bool, float]] = [
        ("none (progress=False)", lambda: (None, "none (progress=False)"), False, 0.03),
        ("none, progress=True", lambda: (None, "none, progress=True (tqdm in a terminal, summary lines in a log)"), True, 0.03),
        ("LivePreview.on_step", lambda: make_preview(1), False, 0.05),
    ]
    for label, factory, progress, target in variants:
        callback, desc = factory()
        if label.startswith("LivePreview") and callback is None:
            notes.append(desc)
            rows.append([label, str(nfe), "—", "—", "—", "—", "—", "—", f"≤ {target:.0%}", "not measured"])
            continue
        runs = []
        for _ in range(repeats):
            with pauser.block():
                before = forward_time(model, 1, k)
                result = paint(model, image, keep, times=times, num_samples=1, seed=0, callback=callback,
                               progress=progress)
                after = forward_time(model, 1, k)
            tm = result.timings
            runs.append((tm["overhead_s"] / tm["model_s"], tm["total_s"], tm["model_s"], before, after))
        inrun, total, model_s, before, after = sorted(runs)[len(runs) // 2]
        isolated = nfe * (before + after) / 2
        ok = "met" if inrun <= target else "MISSED"
        rows.append([desc, str(nfe), f"{total:.2f}", f"{model_s:.2f}", f"{inrun:.1%}",
                     f"{1e3 * before:.1f} / {1e3 * after:.1f}", f"{isolated:.2f}", f"{total / isolated - 1:+.1%}",
                     f"≤ {target:.0%}", ok])
        log(f"  {desc}: paint {total:.2f}s, model calls {model_s:.2f}s → {inrun:.1%}; "
            f"vs NFE × isolated forward {total / isolated - 1:+.1%}")
    # the sampler alone: the same run with a network that costs nothing
    stub = []
    for _ in range(repeats):
        with pauser.block():
            before = forward_time(model, 1, k)
            result = paint(ZeroModel(model), image, keep, times=times, num_samples=1, seed=0,  # type: ignore[arg-type]
                           progress=False)
            stub.append((result.timings["total_s"], before))
    total, before = sorted(stub)[len(stub) // 2]
    share = total / (nfe * before)
    rows.append(["none, network replaced by zeros (sampler alone)", str(nfe), f"{total:.3f}", "—",
                 f"{share:.1%} of NFE × forward", f"{1e3 * before:.1f}", f"{nfe * before:.2f}", "—", "≤ 3%",
                 "met" if share <= 0.03 else "MISSED"])
    log(f"  sampler alone: {total:.3f}s = {share:.1%} of {nfe} forwards")
    return rows, notes


def measure_batching(model: DiffusionModel, times: list[int], sizes: list[int], repeats: int, pauser: Pauser,
                     log: Callable[[str], None]) -> list[list[str]]:
    """Samples per second of one paint() call per batch size; sizes interleaved, best of ``repeats``."""
    image, keep = inputs(model)
    nfe = count_nfe(times)
    for n in sizes:
        # warm-up at each batch size (oneDNN builds primitives per shape): three steps, then stop
        paint(model, image, keep, times=times, num_samples=n, seed=0, progress=False, batch_size=n,
              callback=lambda step: step.index < 2)
    best: dict[int, float] = {}
    for _ in range(repeats):  # interleaved, so a slow spell of the machine does not hit one size only
        for n in sizes:
            with pauser.block():
                result = paint(model, image, keep, times=times, num_samples=n, seed=0, progress=False, batch_size=n)
            best[n] = min(best.get(n, float("inf")), result.timings["total_s"])
            log(f"  batch {n}: {n / result.timings['total_s']:.3f} samples/s")
    single = 1 / best[sizes[0]] * sizes[0]
    return [[str(n), str(nfe), f"{best[n]:.2f}", f"{n / best[n]:.3f}", f"{n / best[n] / single:.2f}×"] for n in sizes]


def main(argv: list[str] | None = None) -> str:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="a checkpoint to use instead of the demo model")
    p.add_argument("--k", type=int, default=None, help="forward calls per forward-time median")
    p.add_argument("--repeats", type=int, default=None, help="paint runs per overhead row (the median is shown)")
    args = p.parse_args(argv)
    with num_threads(threads_for(args)):
        return _run(args)


def _run(args: argparse.Namespace) -> str:

    k = args.k or (3 if args.quick else 30)
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = [1, 2] if args.quick else [1, 2, 4, 8]
    batch_repeats = 1 if args.quick else 2
    with tempfile.TemporaryDirectory(prefix="sampler_overhead_") as tmp:
        model, source = get_model(args.quick, args.model, Path(tmp))
        times = model.default_times()
        pauser = Pauser(args.pause_pid, args.pause_gap)
        over_rows, notes = measure_overhead(model, times, k, repeats, pauser, log)
        batch_rows = measure_batching(model, times, sizes, batch_repeats, pauser, log)
        env = environment(pauser)
    sched = model.default_schedule.describe()
    auto = auto_batch_size(model)
    text = (f"## paint() overhead ({model.image_size}², {source}; schedule {sched})\n\n"
            f"{markdown_table(OVERHEAD_HEADERS, over_rows)}\n\n"
            + "".join(f"Note: {n}\n\n" for n in notes)
            + f"## Batching (one paint() call of num_samples pictures; best of {batch_repeats} interleaved runs)\n\n"
            f"{markdown_table(BATCH_HEADERS, batch_rows)}\n\n"
            f"batch_size=None (auto_batch_size) paints {auto} pictures per model call on {model.device} with this model.\n\n"
            f"_{env}_\n")
    print(text)
    write_result(NAME, text, args.results_dir, quick=args.quick)
    return text


if __name__ == "__main__":
    main()
