"""A notebook of a throwaway JupyterLab, opened in Debian's Chromium: what the browser benchmarks share."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
LOAD_MS = 240_000


def check_chromium() -> None:
    """Stop with the fix when Debian's chromium is missing."""
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: `make browser-deps` (Debian's chromium; never `playwright install`)")


def open_notebook(pw: Any, server: Any, name: str, n_cells: int) -> tuple[Any, Any]:
    """Launch Chromium, open ``name`` from ``server`` (a ``LabServer``) and wait until its ``n_cells`` cells
    are shown and the kernel is idle; returns (browser, page)."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url(f"lab/tree/{name}"), timeout=LOAD_MS)
    page.locator(".jp-Notebook .jp-Cell").nth(n_cells - 1).wait_for(timeout=LOAD_MS)
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=LOAD_MS)
    return browser, page


def read_report(output: Any, marker: str, after: int) -> tuple[int, Any] | None:
    """The newest ``<marker> <n> <json>`` line a cell printed, if its number ``n`` is above ``after``."""
    found = output.filter(has_text=marker)
    text = found.first.inner_text() if found.count() else ""
    match = re.search(re.escape(marker) + r" (\d+) (.*)", text)
    if match and int(match.group(1)) > after:
        return int(match.group(1)), json.loads(match.group(2))
    return None
