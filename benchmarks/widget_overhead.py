"""How much longer a paint takes in the Painter than a bare ``paint()`` in the same kernel.

    python benchmarks/widget_overhead.py             # demo model, its default schedule (320 model calls)
    python benchmarks/widget_overhead.py --quick     # a tiny random model and a short schedule: seconds
    python benchmarks/widget_overhead.py --in-process  # no kernel: the widget's messages go nowhere
                                                       # (writes widget_overhead_in_process.md)
    python benchmarks/widget_overhead.py --browser     # the Painter open in JupyterLab in Chromium
                                                       # (writes widget_overhead_browser.md)

Both kinds of run happen in ONE Jupyter kernel that this script starts (as a notebook runs
them), so the Painter's messages really go out over the kernel's sockets: live previews on
(x_t and x0 pictures, the spectrum plot, the progress bar), drafts off (they are not part of
a paint). After a warm-up of each kind, pairs run interleaved (plain then widget, widget
then plain, ...) with the same seed within a pair; the ratio is widget wall time / plain
wall time for each pair, and the verdict uses the median ratio. Target: ≤ 1.05.

On a machine shared with other busy processes wall times drift by tens of percent from one
run to the next, so the table also gives the ratio of CPU time (the kernel process, all its
threads): the work the Painter adds, which other processes do not change much. With one
torch thread (``--threads 1``) no thread spins while waiting, so CPU time is work done.

With ``--browser`` (``_overhead_browser.py``) the kernel is that of a notebook showing the
Painter in JupyterLab in Chromium, so the browser receives, decodes and draws every frame
on the same CPU: what a user running the notebook locally pays. The table then also gives
the CPU time of the kernel, the Jupyter server and the browser together.

The widget's time is measured from ``painter.paint(wait=True)`` to its return: it includes
starting the run on the worker thread, the previews, the spectra and adding the run to the
gallery. The table also says how much of it the preview's encoding and the spectrum
renders took (those run on the worker thread and on the panel's drawing thread).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, base_parser, environment, fmt, log, markdown_table, write_result  # noqa: E402

NAME = "widget_overhead"
TARGET = 1.05
HEADERS = ["pair", "order", "plain paint s", "Painter s", "wall ratio", "plain CPU s", "Painter CPU s", "CPU ratio",
           "preview frames", "preview encode s", "spectrum renders", "spectrum render s"]
TINY = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
            num_heads=1, num_head_channels=32, learn_sigma=False)
_MARK = "WIDGET_OVERHEAD_RESULT "


def _model(quick: bool, folder: Path) -> tuple[Any, Any, str]:
    """(model, schedule, description): the trained demo model, or a tiny random one."""
    import torch

    from ipainter_nb.core.checkpoints import save_model
    from ipainter_nb.core.models import load_model
    from ipainter_nb.core.schedules import ScheduleConfig
    from ipainter_nb.core.unet import build_unet

    if not quick:
        model = load_model("demo", device="cpu")
        return model, model.default_schedule, "trained demo model (64², 6.6M parameters)"
    torch.manual_seed(0)
    schedule = ScheduleConfig(t_T=20, jump_length=2, jump_n_sample=3, stop_resampling_at=8)
    path = save_model(build_unet(TINY), folder / "tiny.safetensors", name="tiny", unet_config=TINY,
                      variance_type="fixed_small", default_schedule=schedule)
    return load_model(path, device="cpu"), schedule, "tiny random model (32²)"


class Runs:
    """One scene, one schedule, and the two kinds of run: a bare ``paint()`` and the Painter's.

    Args:
        quick: a tiny random model and a short schedule instead of the demo model.
        threads: ``torch.set_num_threads`` (None: torch's default).
        cutouts: the Painter's palette (``{}``: none; ``None``: the demo pack, as a user has it).
    """

    def __init__(self, quick: bool, threads: int | None, cutouts: Any = None) -> None:
        import torch

        from ipainter_nb.demo.composition import demo_composition
        from ipainter_nb.widgets.app import Painter

        if threads is not None:
            torch.set_num_threads(threads)
        self.folder = Path(tempfile.mkdtemp(prefix="widget_overhead_"))
        self.model, self.schedule, self.what = _model(quick, self.folder)
        comp = demo_composition(self.model.image_size)
        self.image, self.keep = comp.render()
        self.times = self.schedule.times()
        self.painter = Painter(self.model, composition=comp, cutouts=cutouts, out_dir=self.folder / "out", drafts=False)
        self.painter.set_schedule(self.schedule)
        time.sleep(self.painter.edit_pause_s + 0.1)
        self.painter.worker.wait_idle()  # the band-SNR plot of the scene is drawn before any timing

    def plain(self, seed: int) -> dict[str, float]:
        """A bare ``paint()``: wall and CPU seconds (this process, all threads)."""
        from ipainter_nb.core.sampler import paint

        tick, cpu = time.perf_counter(), time.process_time()
        paint(self.model, self.image, self.keep, times=self.times, num_samples=1, seed=seed, progress=False)
        return {"s": time.perf_counter() - tick, "cpu_s": time.process_time() - cpu}

    def widget(self, seed: int) -> dict[str, float]:
        """``painter.paint(wait=True)`` with previews on: wall and CPU seconds, and what the
        preview and the spectrum panel did."""
        painter = self.painter
        painter.seed = seed
        renders, render_s = painter.frequency.renders, painter.frequency.render_s
        tick, cpu = time.perf_counter(), time.process_time()
        result = painter.paint(wait=True)
        took, cpu = time.perf_counter() - tick, time.process_time() - cpu
        if result is None or result.stopped:
            raise RuntimeError(f"the Painter's run failed: {painter.error_message}")
        return {"s": took, "cpu_s": cpu, "frames": painter.preview.frames_shown, "encode_s": painter.preview.encode_s,
                "renders": painter.frequency.renders - renders, "render_s": painter.frequency.render_s - render_s}

    def run(self, kind: str, seed: int) -> dict[str, float]:
        """``plain(seed)`` or ``widget(seed)``, by name."""
        return self.plain(seed) if kind == "plain" else self.widget(seed)

    def describe(self) -> dict[str, Any]:
        """What was measured, for the report."""
        return {"what": self.what, "nfe": self.schedule.nfe, "schedule": self.schedule.describe(),
                "environment": environment()}


def measure(quick: bool, repeats: int, threads: int | None) -> dict[str, Any]:
    """Interleaved pairs of a bare paint() and a Painter run of the same scene and schedule."""
    runs = Runs(quick, threads, cutouts={})
    runs.plain(0), runs.widget(0)  # warm-up: first calls allocate, JIT-pack and open comms
    pairs = []
    for i in range(repeats):
        seed = i + 1
        if i % 2 == 0:
            p, w, order = runs.plain(seed), runs.widget(seed), "plain, Painter"
        else:
            w, p, order = runs.widget(seed), runs.plain(seed), "Painter, plain"
        pairs.append({"order": order, "plain_s": p["s"], "plain_cpu_s": p["cpu_s"], "widget": w})
        log(f"pair {i + 1}/{repeats}: plain {p['s']:.2f} s, Painter {w['s']:.2f} s, wall ratio {w['s'] / p['s']:.3f}, "
            f"CPU ratio {w['cpu_s'] / p['cpu_s']:.3f}")
    runs.painter.close()
    return {"pairs": pairs, **runs.describe()}


def _run_in_kernel(quick: bool, repeats: int, threads: int | None, timeout_s: float) -> dict[str, Any]:
    """``measure`` inside a fresh ipykernel (this interpreter), its stderr passed through."""
    from jupyter_client.manager import start_new_kernel

    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
            f"import widget_overhead as bench\n"
            f"print({_MARK!r} + json.dumps(bench.measure({quick!r}, {repeats!r}, {threads!r})))\n")
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120, cwd=str(ROOT), env=dict(os.environ))
    try:
        msg_id = kc.execute(code)
        out: list[str] = []
        deadline = time.monotonic() + timeout_s
        while True:
            msg = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out.append if content["name"] == "stdout" else lambda t: print(t, end="", file=sys.stderr))(content["text"])
            elif kind == "error":
                raise RuntimeError("the measurement failed in the kernel:\n" + "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    for line in "".join(out).splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    raise RuntimeError(f"the kernel printed no result: {''.join(out)[-2000:]}")


def report(data: dict[str, Any], in_kernel: bool) -> tuple[str, float]:
    rows, ratios, cpu_ratios = [], [], []
    for i, pair in enumerate(data["pairs"], 1):
        w = pair["widget"]
        ratio, cpu_ratio = w["s"] / pair["plain_s"], w["cpu_s"] / pair["plain_cpu_s"]
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        rows.append([i, pair["order"], fmt(pair["plain_s"]), fmt(w["s"]), f"{ratio:.3f}", fmt(pair["plain_cpu_s"]),
                     fmt(w["cpu_s"]), f"{cpu_ratio:.3f}", w["frames"], fmt(w["encode_s"], 2), w["renders"],
                     fmt(w["render_s"], 2)])
    median, cpu_median = statistics.median(ratios), statistics.median(cpu_ratios)

    def verdict(x: float) -> str:
        return "met" if x <= TARGET else "NOT met"
    where = "in one Jupyter kernel (messages sent over its sockets)" if in_kernel else "in one process without a kernel"
    text = "\n".join([
        f"# Painter run vs bare paint() ({where})",
        "",
        f"{data['what']}; {data['schedule']}; one picture; previews on, drafts off.",
        "",
        markdown_table(HEADERS, rows),
        "",
        f"Median wall-time ratio {median:.3f} over {len(ratios)} interleaved pairs (min {min(ratios):.3f}, "
        f"max {max(ratios):.3f}): target ≤ {TARGET} {verdict(median)}. Median CPU-time ratio {cpu_median:.3f} "
        f"(min {min(cpu_ratios):.3f}, max {max(cpu_ratios):.3f}): {verdict(cpu_median)}.",
        "",
        f"Environment: {data['environment']}.",
    ])
    return text, median


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="interleaved pairs (default 4, quick 2)")
    parser.add_argument("--in-process", action="store_true", help="measure in this process, not in a kernel")
    parser.add_argument("--browser", action="store_true",
                        help="the Painter open in JupyterLab in Chromium while the pairs run (default 8 pairs)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds the kernel may take")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 8 if args.browser else 4)
    if args.browser:
        import _overhead_browser

        data = _overhead_browser.measure(args.quick, repeats, args.threads, args.timeout)
        text, _median = _overhead_browser.report(data, TARGET)
        print(text)
        path = write_result(f"{NAME}_browser", text, args.results_dir, quick=args.quick)
        log(f"wrote {path}")
        return 0
    if args.in_process:
        data = measure(args.quick, repeats, args.threads)
    else:
        data = _run_in_kernel(args.quick, repeats, args.threads, args.timeout)
    text, _median = report(data, not args.in_process)
    print(text)
    name = f"{NAME}_in_process" if args.in_process else NAME
    path = write_result(name, text, args.results_dir, quick=args.quick)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
