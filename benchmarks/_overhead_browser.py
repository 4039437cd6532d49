"""``widget_overhead.py --browser``: the pairs run while the Painter is open in a real browser.

A notebook showing the Painter is opened in JupyterLab in Debian's Chromium (driven by
Playwright, as ``tests/test_browser.py``); the pairs (a bare ``paint()`` and
``painter.paint(wait=True)``, same seed within a pair) run in that notebook's kernel, one
cell per run, so every preview frame, progress update and final picture of the Painter is
received, decoded and drawn by the browser on the same CPU as the model. The kernel times
each run itself (wall and CPU); from outside, the CPU time of every process of the
session is read before the run's cell starts and ``SETTLE_S`` after its output appears
(so the browser's redraws that trail a run are counted): the kernel, the Jupyter server
(which relays the messages) and the browser's processes (Playwright's driver apart).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _common import ROOT, fmt, log, markdown_table
from _lab_page import LOAD_MS, check_chromium, open_notebook, read_report

sys.path.insert(0, str(ROOT / "tests"))
from lab_server import LabServer  # noqa: E402  (the test suite's throwaway JupyterLab)

#: Seconds after a run's output appears before the CPU times are read again.
SETTLE_S = 1.5
#: How often the output of a running cell is looked at (each look costs the browser a little).
POLL_MS = 250
ROLES = ("kernel", "server", "browser")

SETUP, WARM, RUN = range(3)
CELLS = [
    """\
    import json, sys
    sys.path.insert(0, {bench!r})
    import widget_overhead as bench
    runs = bench.Runs({quick!r}, {threads!r})
    runs.painter
    """,
    """\
    warm = [runs.plain(0), runs.widget(0)]  # first calls allocate, JIT-pack and open comms
    print("WARM", get_ipython().execution_count, json.dumps(runs.describe()))
    """,
    """\
    print("RUN", get_ipython().execution_count, json.dumps(runs.run({kind!r}, {seed!r})))
    """,
]


def cpu_by_role() -> dict[str, float]:
    """CPU seconds (user + system) used so far by this session's processes, per role."""
    import psutil

    out = dict.fromkeys((*ROLES, "driver"), 0.0)
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            times = proc.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        if "ipykernel" in cmd:
            role = "kernel"
        elif "jupyterlab" in cmd:
            role = "server"
        elif "chrom" in proc.name() or "chrom" in cmd.split(" ")[0]:
            role = "browser"
        else:
            role = "driver"  # Playwright's node process: the measurement's own cost
        out[role] += times.user + times.system
    return out


class Notebook:
    """The open notebook: run a cell (its source replaced), read the JSON printed after a marker."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.count = 0

    def report(self, index: int, marker: str, source: str, timeout_s: float) -> Any:
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(textwrap.dedent(source))
        self.page.keyboard.press("Shift+Enter")
        output = cell.locator(".jp-OutputArea-output")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            report = read_report(output, marker, self.count)
            if report:
                self.count, data = report
                return data
            errors = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            if errors.count() and "Traceback" in errors.first.inner_text():
                raise RuntimeError(f"the cell failed:\n{errors.first.inner_text()[-3000:]}")
            self.page.wait_for_timeout(POLL_MS)
        raise TimeoutError(f"no new {marker} line within {timeout_s:.0f} s")


def _write_notebook(path: Path, quick: bool, threads: int | None) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = [CELLS[SETUP].format(bench=str(Path(__file__).resolve().parent), quick=quick, threads=threads),
               CELLS[WARM], CELLS[RUN].format(kind="plain", seed=0)]
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src)) for src in sources]
    nbformat.write(nb, str(path))


def _timed_run(nb: Notebook, kind: str, seed: int, timeout_s: float) -> dict[str, Any]:
    before = cpu_by_role()
    inner = nb.report(RUN, "RUN", CELLS[RUN].format(kind=kind, seed=seed), timeout_s)
    nb.page.wait_for_timeout(SETTLE_S * 1000)
    after = cpu_by_role()
    return {**inner, "outside": {role: after[role] - before[role] for role in after}}


def measure(quick: bool, repeats: int, threads: int | None, timeout_s: float) -> dict[str, Any]:
    """The pairs, with the Painter open in Chromium; per run the kernel's own timing and
    the CPU seconds of the kernel, server and browser processes over the run's cell."""
    from playwright.sync_api import sync_playwright

    check_chromium()
    with tempfile.TemporaryDirectory(prefix="widget_overhead_browser_") as tmp:
        server = LabServer(Path(tmp))
        server.start()
        try:
            _write_notebook(server.notebooks / "overhead.ipynb", quick, threads)
            with sync_playwright() as pw:
                browser, page = open_notebook(pw, server, "overhead.ipynb", len(CELLS))
                page.set_default_timeout(LOAD_MS)
                nb = Notebook(page)
                setup = page.locator(".jp-Notebook .jp-Cell").nth(SETUP)
                setup.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Shift+Enter")
                root = setup.locator(".ipainter-painter")
                root.locator(".ipainter-canvas canvas").last.wait_for(timeout=LOAD_MS)
                described = nb.report(WARM, "WARM", CELLS[WARM], timeout_s)
                # as a user watching the run: the Paint button at the top, the previews below it
                root.locator(".ipainter-paint").evaluate("b => b.scrollIntoView({block: 'start'})")
                log("Painter shown in Chromium; measuring")
                pairs = []
                for i in range(repeats):
                    seed = i + 1
                    kinds = ("plain", "widget") if i % 2 == 0 else ("widget", "plain")
                    runs = {kind: _timed_run(nb, kind, seed, timeout_s) for kind in kinds}
                    pairs.append({"order": ", ".join("plain" if k == "plain" else "Painter" for k in kinds), **runs})
                    p, w = runs["plain"], runs["widget"]
                    log(f"pair {i + 1}/{repeats}: plain {p['s']:.2f} s, Painter {w['s']:.2f} s, wall ratio "
                        f"{w['s'] / p['s']:.3f}; CPU kernel+server+browser ratio {_total(w) / _total(p):.3f}; "
                        f"browser CPU {p['outside']['browser']:.2f} / {w['outside']['browser']:.2f} s")
                browser.close()
        finally:
            server.stop()
    return {"pairs": pairs, **described}


def _total(run: dict[str, Any]) -> float:
    return sum(run["outside"][role] for role in ROLES)


HEADERS = ["pair", "order", "plain s", "Painter s", "wall ratio", "browser CPU s (plain / Painter)",
           "server CPU s", "kernel CPU s", "CPU ratio (kernel+server+browser)", "preview frames", "encode s"]


def report(data: dict[str, Any], target: float) -> tuple[str, float]:
    """The table (markdown) and the median wall ratio."""
    rows, ratios, cpu_ratios = [], [], []
    for i, pair in enumerate(data["pairs"], 1):
        p, w = pair["plain"], pair["widget"]
        ratio, cpu_ratio = w["s"] / p["s"], _total(w) / _total(p)
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        po, wo = p["outside"], w["outside"]
        rows.append([i, pair["order"], fmt(p["s"]), fmt(w["s"]), f"{ratio:.3f}",
                     f"{fmt(po['browser'], 2)} / {fmt(wo['browser'], 2)}",
                     f"{fmt(po['server'], 2)} / {fmt(wo['server'], 2)}", f"{fmt(po['kernel'])} / {fmt(wo['kernel'])}",
                     f"{cpu_ratio:.3f}", w["frames"], fmt(w["encode_s"], 2)])
    median, cpu_median = statistics.median(ratios), statistics.median(cpu_ratios)
    browser_extra = statistics.median(pair["widget"]["outside"]["browser"] - pair["plain"]["outside"]["browser"]
                                      for pair in data["pairs"])

    def verdict(x: float) -> str:
        return "met" if x <= target else "NOT met"

    text = "\n".join([
        "# Painter run vs bare paint(), with the Painter open in a browser",
        "",
        f"{data['what']}; {data['schedule']}; one picture; previews on, drafts off. The notebook showing the "
        f"Painter is open in JupyterLab in Chromium (headless, software rendering) on the same machine; each run "
        f"is one cell of that notebook's kernel, plain and Painter in turn (same seed within a pair).",
        "",
        markdown_table(HEADERS, rows),
        "",
        f"Median wall-time ratio {median:.3f} over {len(ratios)} interleaved pairs (min {min(ratios):.3f}, "
        f"max {max(ratios):.3f}): target ≤ {target} {verdict(median)}. Median CPU-time ratio of the kernel, the "
        f"Jupyter server and the browser together {cpu_median:.3f} (min {min(cpu_ratios):.3f}, max "
        f"{max(cpu_ratios):.3f}). The browser's CPU time per run, Painter minus plain: median "
        f"{browser_extra:.2f} s. CPU times are read from outside from the start of a run's cell to "
        f"{SETTLE_S} s after its output appears (Playwright's own driver is not counted); wall times are the "
        f"kernel's own.",
        "",
        f"Environment: {data['environment']}.",
    ])
    return text, median
