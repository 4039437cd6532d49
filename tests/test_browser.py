"""The widgets in a real browser: JupyterLab + Debian's Chromium, driven by Playwright.

One JupyterLab server, one browser and one notebook (one kernel) are shared by the tests
of this module. The tests act like a user (click a palette button, drag on the canvas,
press keys, press Paint) and then ask the KERNEL what happened: a report cell prints
JSON that the test reads back from the page.

Run alone with ``pytest -m browser``; needs ``/usr/bin/chromium`` (``make browser-deps``).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_server import REPO_ROOT, LabServer
from PIL import Image

from ipainter_nb.demo.cutouts import list_cutouts

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"
WAIT_MS = 60_000  # kernel start and first widget render take seconds on a busy machine
FIRST_LOAD_MS = 240_000  # JupyterLab's first page load (bundles, settings) took over 60 s under heavy load

# The test notebook: cells are run one by one, by index, when a test needs them.
COMPOSER_CELL, DRAG_REPORT, KEY_REPORT, PAINTER_CELL, PAINT_REPORT = range(5)
CELLS = [
    """\
    from ipainter_nb.widgets.composer import Composer
    composer = Composer(size=64)
    composer
    """,
    """\
    import json
    print("DRAG", get_ipython().execution_count, json.dumps(
        [dict(name=l.name, x=l.x, y=l.y, flip=l.flip) for l in composer.composition.layers]))
    """,
    """\
    import json
    print("KEYS", get_ipython().execution_count, json.dumps(
        [dict(name=l.name, x=l.x, y=l.y, flip=l.flip) for l in composer.composition.layers]))
    """,
    """\
    # A tiny random-weight model, saved and loaded the way real checkpoints are.
    import tempfile, torch
    from pathlib import Path
    from ipainter_nb.core.models import load_model, save_model
    from ipainter_nb.core.schedules import ScheduleConfig
    from ipainter_nb.core.unet import build_unet
    from ipainter_nb.demo.cutouts import demo_layout
    from ipainter_nb.widgets.app import Painter

    config = dict(image_size=64, num_channels=32, num_res_blocks=1, channel_mult=[1, 2],
                  attention_resolutions=[], num_heads=1, num_head_channels=32, learn_sigma=False)
    torch.manual_seed(0)
    tiny = ScheduleConfig(kind="plain", t_T=5)
    path = save_model(build_unet(config), Path(tempfile.mkdtemp()) / "tiny.safetensors",
                      name="tiny", unet_config=config, variance_type="fixed_small",
                      default_schedule=tiny)
    painter = Painter(model=load_model(path, device="cpu"))
    painter.set_schedule(tiny)
    painter.composer.load_layout(demo_layout())
    painter
    """,
    """\
    import json
    result = painter.wait(60)
    print("PAINTED", get_ipython().execution_count, json.dumps(dict(
        samples=None if result is None else list(result.samples.shape),
        finite=None if result is None else bool(result.samples.isfinite().all()),
        frames_shown=painter.preview.frames_shown, status=painter.status_message,
        error=painter.error_message)))
    """,
]


def write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    # Without a kernelspec JupyterLab opens a "Select Kernel" dialog that blocks the page.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src)) for src in CELLS]
    nbformat.write(nb, str(path))


class Notebook:
    """The open test notebook: run its cells and read their printed reports."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self._ran: set[int] = set()
        self._count = 0  # kernel execution count of the latest report read

    def cell(self, index: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea-output")

    def run(self, index: int) -> Any:
        """Run cell ``index`` the way a user does: click into it, Shift+Enter."""
        cell = self.cell(index)
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        self._ran.add(index)
        return cell

    def run_once(self, index: int) -> Any:
        return self.cell(index) if index in self._ran else self.run(index)

    def report(self, index: int, marker: str) -> Any:
        """Run a report cell and return the JSON it printed after ``marker``.

        Report lines carry the kernel's execution count, so an output left over from an
        earlier run of the same cell is never mistaken for the new one.
        """
        self.run(index)
        pattern = re.escape(marker) + r" (\d+) (.*)"
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            found = self.output(index).filter(has_text=marker)
            text = found.first.inner_text(timeout=WAIT_MS) if found.count() else ""
            match = re.search(pattern, text)
            if match and int(match.group(1)) > self._count:
                self._count = int(match.group(1))
                return json.loads(match.group(2))
            assert time.monotonic() < deadline, f"no new {marker!r} line in the output: {text!r}"
            self.page.wait_for_timeout(100)

    def loaded_images(self, index: int) -> int:
        """How many <img> in a cell's output show a decoded picture."""
        return self.output(index).locator("img").evaluate_all(
            "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0 "
            "&& i.getClientRects().length > 0).length")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("lab"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        # A missing browser is a broken test machine, not a reason to skip silently.
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`make browser-deps`, "
                    "or `apt-get install -y chromium`); never `playwright install`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def notebook(browser: Any, lab: LabServer) -> Iterator[Notebook]:  # browser first: fail fast
    write_notebook(lab.notebooks / "composer_test.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    page.goto(lab.url("lab/tree/composer_test.ipynb"), timeout=FIRST_LOAD_MS)
    page.locator(".jp-Notebook .jp-Cell").nth(len(CELLS) - 1).wait_for(timeout=FIRST_LOAD_MS)
    # Shift+Enter before the kernel is connected moves on without running the cell.
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=FIRST_LOAD_MS)
    try:
        yield Notebook(page)
    finally:
        page.close()


@pytest.fixture(autouse=True)
def failure_screenshot(request: pytest.FixtureRequest, notebook: Notebook,
                       lab: LabServer) -> Iterator[None]:
    """On failure: the page as it was, in test-artifacts/, and the server's log."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"failed_{request.node.name}.png"
        notebook.page.screenshot(path=str(path))
        print(f"page screenshot: {path}\nJupyterLab log:\n{lab.log_tail()}")


def composer_canvas(nb: Notebook) -> Any:
    # A MultiCanvas stacks <canvas> elements; the last (top) one receives the mouse.
    nb.run_once(COMPOSER_CELL)
    canvas = nb.output(COMPOSER_CELL).locator("canvas").last
    canvas.wait_for()
    return canvas


def test_drag_in_the_browser_moves_the_layer_by_the_dragged_distance(notebook: Notebook):
    page = notebook.page
    canvas = composer_canvas(notebook)
    notebook.output(COMPOSER_CELL).get_by_role("button", name="sun", exact=True).click()

    box = canvas.bounding_box()
    width = canvas.evaluate("c => c.width")  # display pixels of the canvas
    assert width == 384  # 64 canvas px at display scale 6
    per_page_px = width / box["width"] / 6  # canvas pixels per CSS pixel of the page

    # The sun is added centred: grab it in the middle and drag it right and down.
    w, h = Image.open(list_cutouts()["sun"]).size
    start = ((64 - w) // 2, (64 - h) // 2)
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dx, dy = 96, 57
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + dx, y0 + dy, steps=12)
    page.mouse.up()

    (sun,) = notebook.report(DRAG_REPORT, "DRAG")
    expected = (start[0] + dx * per_page_px, start[1] + dy * per_page_px)
    assert sun["name"] == "sun"
    assert abs(sun["x"] - expected[0]) <= 1 and abs(sun["y"] - expected[1]) <= 1, (sun, expected)

    ARTIFACTS.mkdir(exist_ok=True)
    notebook.cell(COMPOSER_CELL).screenshot(path=str(ARTIFACTS / "browser_composer.png"))


def test_keys_act_on_the_canvas_once_it_has_focus(notebook: Notebook):
    page = notebook.page
    canvas = composer_canvas(notebook)
    if not notebook.report(DRAG_REPORT, "DRAG"):
        notebook.output(COMPOSER_CELL).get_by_role("button", name="sun", exact=True).click()
    (before,) = notebook.report(DRAG_REPORT, "DRAG")
    box = canvas.bounding_box()
    scale = box["width"] / 64  # CSS pixels per canvas pixel
    # click the middle of the sun: selects it and focuses the canvas
    w, h = Image.open(list_cutouts()["sun"]).size
    page.mouse.click(box["x"] + (before["x"] + w / 2) * scale,
                     box["y"] + (before["y"] + h / 2) * scale)
    page.keyboard.press("f")
    page.keyboard.press("ArrowRight")
    (after,) = notebook.report(KEY_REPORT, "KEYS")
    assert after["flip"] is not before["flip"] and after["x"] == before["x"] + 1, (before, after)


def test_paint_button_shows_previews_and_a_result(notebook: Notebook):
    notebook.run(PAINTER_CELL)
    # by text: the accessible name would include the icon font's glyph
    paint = notebook.output(PAINTER_CELL).locator("button", has_text=re.compile(r"^Paint$"))
    paint.wait_for()
    notebook.output(PAINTER_CELL).locator("canvas").last.wait_for()  # its composer
    images_before = notebook.loaded_images(PAINTER_CELL)
    paint.click()

    notebook.output(PAINTER_CELL).filter(has_text="done:").first.wait_for()
    report = notebook.report(PAINT_REPORT, "PAINTED")
    assert report["error"] == "" and report["samples"] == [1, 3, 64, 64] and report["finite"]
    assert report["frames_shown"] >= 1 and report["status"].startswith("done")
    # in the page: the preview (x_t and x0) and the gallery picture appeared
    assert notebook.loaded_images(PAINTER_CELL) >= images_before + 3

    # The page, not the cell: the cell is taller than the window. Paint row at the top.
    paint.evaluate("button => button.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(exist_ok=True)
    notebook.page.screenshot(path=str(ARTIFACTS / "browser_painter.png"))
