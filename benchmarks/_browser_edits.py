"""Every kind of edit of the Painter's composer, done as a user does it in the browser,
and the time from that action to the draft box showing a new, decoded picture.

Used by ``painter_browser.py``. Each kind is a function ``act(ctx, k)`` that performs the
``k``-th edit of its kind with the mouse or the keyboard (never through the kernel) and
returns the moment the action was done (``time.perf_counter()`` after the last event
of the action: the mouse-up of a click or a drag, the key-up of a key). Kinds alternate
their direction (left/right, larger/smaller, forward/backward) so that no edit brings
back the picture the draft box already shows. The notebook's kernel records when the
composition changed and when a draft was set (``time.time()``), so the benchmark can
split each latency into its kernel and browser parts.
"""

from __future__ import annotations

import re
import statistics
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _common import log
from playwright.sync_api import TimeoutError as PlaywrightTimeout

WAIT_MS = 20_000
#: Seconds between a draft shown and the next edit (a user looks at the draft).
EDIT_GAP_S = 0.4
#: The cutout the palette places (then deleted again) and the one laid over the mountain.
PALETTE_CUTOUT = "cloud"

#: Cells the edits need (after painter_browser's own): a setup cell whose source is replaced
#: per phase, and the kernel's timestamps.
SETUP_SOURCE = """\
    import time as _time
    EDIT_TIMES, DRAFT_TIMES = [], []
    painter.composition.observe(lambda _c: EDIT_TIMES.append(_time.time()))
    painter.on_draft(lambda _r: DRAFT_TIMES.append(_time.time()))
    print("HOOKS", get_ipython().execution_count, json.dumps(True))
    """
TIMES_SOURCE = """\
    print("TIMES", get_ipython().execution_count, json.dumps(dict(edits=EDIT_TIMES, drafts=DRAFT_TIMES)))
    """
#: Phase "order": the palette's cutout laid over the mountain, selected, so that sending it
#: backward and forward changes the picture; reports where the selected layer's middle is.
OVERLAP_SOURCE = """\
    c = painter.composer
    m = next(layer for layer in c.composition.layers if layer.name == "mountain")
    mw, mh = m.size
    layer = c.add_cutout("{name}", x=m.x + mw / 2 - 6, y=m.y + mh / 2 - 6)
    while c.composition.layers.index(layer) > c.composition.layers.index(m) + 1:
        c.composition.reorder(layer, "backward")  # just above the mountain: one click puts it under
    w, h = layer.size
    img_top = c.composition.render()[0].clone()
    c.composition.reorder(layer, "backward"); img_below = c.composition.render()[0]; c.composition.reorder(layer, "forward")
    print("OVERLAP", get_ipython().execution_count, json.dumps(dict(
        differs=bool((img_top - img_below).abs().max() > 0), middle=[layer.x + w / 2, layer.y + h / 2])))
    """
#: Select the top layer (the boat) by code before the key and button phases; report a
#: pixel of it that is opaque (nearest its middle), where a click selects it.
SELECT_TOP_SOURCE = """\
    import numpy as np
    top = painter.composition.layers[-1]
    painter.composer.selected = top
    ys, xs = np.nonzero(np.asarray(top.rendered())[..., 3] > 127)
    i = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
    print("SELECTED", get_ipython().execution_count, json.dumps([top.x + int(xs[i]) + 0.5, top.y + int(ys[i]) + 0.5]))
    """

DRAFT_SRC_JS = ("box => { const i = box.querySelector('img'); "
                "return i && i.complete && i.naturalWidth > 0 ? i.src : null; }")


@dataclass
class Context:
    """What the actions need: the page, the Painter's elements and the layer to grab."""

    page: Any
    session: Any  # painter_browser.Session
    root: Any
    canvas: Any
    draft: Any
    size: int
    grab: list[float]  # canvas pixel of the top layer that a drag grabs
    setup_cell: int
    times_cell: int
    state: dict[str, Any] = field(default_factory=dict)

    def canvas_xy(self, point: list[float]) -> tuple[float, float, float]:
        """Page coordinates of canvas pixel ``point``, and CSS pixels per canvas pixel."""
        self.canvas.scroll_into_view_if_needed()
        box = self.canvas.bounding_box()
        scale = box["width"] / self.size
        return box["x"] + point[0] * scale, box["y"] + point[1] * scale, scale

    def button(self, name: str, within: str = ".ipainter-tools") -> Any:
        """The button labelled ``name`` (its icon aside) inside ``within``."""
        label = re.compile(rf"^\s*{re.escape(name)}\s*$")
        return self.root.locator(within).locator("button").filter(has_text=label)

    def setup(self, marker: str, source: str) -> Any:
        return self.session.report(self.setup_cell, marker, textwrap.dedent(source))


def _done() -> float:
    return time.perf_counter()


def drag(ctx: Context, k: int) -> float:
    """Drag the top cutout 2 canvas pixels right, then back left."""
    direction = 1 if k % 2 == 0 else -1
    x, y, scale = ctx.canvas_xy([ctx.grab[0] + (2 if direction < 0 else 0), ctx.grab[1]])
    ctx.page.mouse.move(x, y)
    ctx.page.mouse.down()
    ctx.page.mouse.move(x + direction * 2 * scale, y, steps=4)
    ctx.page.mouse.up()
    return _done()


def palette(ctx: Context, k: int) -> float:
    """Click the palette's cutout: it is placed in the middle of the canvas, selected."""
    ctx.button(PALETTE_CUTOUT, ".ipainter-palette").click()
    return _done()


def delete_button(ctx: Context, k: int) -> float:
    """Click the Delete button (the cutout just placed is selected)."""
    ctx.button("Delete").click()
    return _done()


def delete_key(ctx: Context, k: int) -> float:
    """Click the cutout just placed (selects it, focuses the canvas), press Delete."""
    x, y, _ = ctx.canvas_xy([ctx.size / 2, ctx.size / 2])
    ctx.page.mouse.click(x, y)
    ctx.page.keyboard.press("Delete")
    return _done()


def scale_buttons(ctx: Context, k: int) -> float:
    """The Scale control's + and - buttons, in turn (the top cutout selected)."""
    ctx.root.locator(".ipainter-scale").get_by_role("button", name="+" if k % 2 == 0 else "−", exact=True).click()
    return _done()


def scale_slider(ctx: Context, k: int) -> float:
    """Drag the Scale slider's handle a few steps right, then back (the mouse-up)."""
    control = ctx.root.locator(".ipainter-scale")
    control.scroll_into_view_if_needed()
    handle = control.locator(".noUi-handle").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    ctx.page.mouse.move(x, y)
    ctx.page.mouse.down()
    ctx.page.mouse.move(x + (12 if k % 2 == 0 else -12), y, steps=4)
    ctx.page.mouse.up()
    return _done()


def wheel(ctx: Context, k: int) -> float:
    """One wheel notch over the canvas, up then down (the top cutout selected)."""
    x, y, _ = ctx.canvas_xy(ctx.state["selected_middle"])
    ctx.page.mouse.move(x, y)
    ctx.page.mouse.wheel(0, -100 if k % 2 == 0 else 100)
    return _done()


def flip_button(ctx: Context, k: int) -> float:
    """The Flip button (the top cutout selected)."""
    ctx.button("Flip").click()
    return _done()


def _focus_selected(ctx: Context) -> None:
    """Click the selected cutout's middle: keeps it selected and gives the canvas the keys."""
    x, y, _ = ctx.canvas_xy(ctx.state["selected_middle"])
    ctx.page.mouse.click(x, y)


def flip_key(ctx: Context, k: int) -> float:
    """The f key on the canvas."""
    if k == 0:
        _focus_selected(ctx)
    ctx.page.keyboard.press("f")
    return _done()


def arrow_keys(ctx: Context, k: int) -> float:
    """ArrowRight, then ArrowLeft, on the canvas: a 1 pixel nudge."""
    if k == 0:
        _focus_selected(ctx)
    ctx.page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
    return _done()


def undo_redo(ctx: Context, k: int) -> float:
    """The Undo button, then Redo."""
    ctx.button("Undo" if k % 2 == 0 else "Redo").click()
    return _done()


def order_buttons(ctx: Context, k: int) -> float:
    """Backward, then Forward: the cutout laid over the mountain goes under it and back."""
    ctx.button("Backward" if k % 2 == 0 else "Forward").click()
    return _done()


@dataclass
class Kind:
    """One kind of edit: its row label, its action and the phase it runs in."""

    label: str
    act: Callable[[Context, int], float]


def wait_for_new_draft(ctx: Context, old: str | None) -> None:
    """Block until the draft box shows a decoded picture other than ``old``."""
    ctx.page.wait_for_function(
        f"([box, old]) => {{ const s = ({DRAFT_SRC_JS})(box); return s !== null && s !== old; }}",
        arg=[ctx.draft.element_handle(), old], polling="raf", timeout=WAIT_MS)


def timed_edit(ctx: Context, kind: Kind, k: int, out: dict[str, list[dict[str, float]]]) -> None:
    """Do one edit of ``kind``, wait for its draft, record the latency (and the wall clock)."""
    old = ctx.draft.evaluate(DRAFT_SRC_JS)
    done = kind.act(ctx, k)
    wall = time.time() - (time.perf_counter() - done)
    try:
        wait_for_new_draft(ctx, old)
        latency = time.perf_counter() - done
    except PlaywrightTimeout:  # counted as a miss (the table says how many), the run goes on
        latency = float("inf")
        log(f"{kind.label}: no new draft within {WAIT_MS / 1000:.0f} s")
    out.setdefault(kind.label, []).append({"latency": latency, "wall": wall, "shown": wall + latency})
    log(f"{kind.label} {len(out[kind.label])}: {latency:.2f} s")
    ctx.page.wait_for_timeout(EDIT_GAP_S * 1000)


def measure_edits(ctx: Context, edits: int) -> dict[str, list[dict[str, float]]]:
    """``edits`` edits of every kind; per kind, each edit's latency and when it was done."""
    out: dict[str, list[dict[str, float]]] = {}
    ctx.setup("HOOKS", SETUP_SOURCE)
    for k in range(edits):
        timed_edit(ctx, Kind("drag (mouse-up)", drag), k, out)
    for k in range(edits):  # palette drop, then Delete: by button and by key in turn
        timed_edit(ctx, Kind("palette click", palette), 2 * k, out)
        timed_edit(ctx, Kind("Delete button", delete_button), k, out)
        timed_edit(ctx, Kind("palette click", palette), 2 * k + 1, out)
        timed_edit(ctx, Kind("Delete key", delete_key), k, out)
    ctx.state["selected_middle"] = ctx.setup("SELECTED", SELECT_TOP_SOURCE)
    # keys first, while the cutout is where the kernel said (the others change its size)
    # Undo / Redo right after the flips: each flip is an undo step (the scale clicks merge into one)
    for kind in (Kind("f key", flip_key), Kind("arrow keys", arrow_keys), Kind("scale − / + buttons", scale_buttons),
                 Kind("Flip button", flip_button), Kind("Undo / Redo buttons", undo_redo),
                 Kind("scale slider (mouse-up)", scale_slider), Kind("mouse wheel", wheel)):
        for k in range(edits):
            timed_edit(ctx, kind, k, out)
    overlap = ctx.setup("OVERLAP", OVERLAP_SOURCE.replace("{name}", PALETTE_CUTOUT))
    if not overlap["differs"]:
        raise RuntimeError("the layer order test needs overlapping cutouts: the picture did not change")
    ctx.page.wait_for_timeout(1500)  # the setup's own draft
    for k in range(edits):
        timed_edit(ctx, Kind("Backward / Forward buttons", order_buttons), k, out)
    kernel = ctx.session.report(ctx.times_cell, "TIMES", textwrap.dedent(TIMES_SOURCE))
    split_kernel_times(out, kernel)
    return out


def split_kernel_times(out: dict[str, list[dict[str, float]]], kernel: dict[str, list[float]]) -> None:
    """Add to each edit when the kernel saw it change the composition and set its draft."""
    edits, drafts = sorted(kernel["edits"]), sorted(kernel["drafts"])
    for label, rows in out.items():
        for row in rows:
            # the last change and the last draft before the browser showed it, after the
            # previous edit's draft was shown (a drag's moves come just before its mouse-up)
            since = row["wall"] - EDIT_GAP_S + 0.05
            row["kernel_edit"] = max((t for t in edits if since <= t <= row["shown"]), default=float("nan"))
            row["kernel_draft"] = max((t for t in drafts if since <= t <= row["shown"]), default=float("nan"))
            log(f"{label}: {row['latency']:.2f} s = action to kernel {row['kernel_edit'] - row['wall']:.3f} s, "
                f"to draft set {row['kernel_draft'] - row['kernel_edit']:.3f} s, "
                f"to shown {row['shown'] - row['kernel_draft']:.3f} s")


def summary_rows(out: dict[str, list[dict[str, float]]], target_s: float, fmt: Callable[[float], str]) -> list[list[Any]]:
    """One table row per kind: count, median, max, how many over the target, verdict, and the
    medians of the three parts (action to kernel edit, kernel edit to draft set, draft set to shown)."""
    rows = []
    for label, items in out.items():
        latencies = [r["latency"] for r in items]
        median = statistics.median(latencies)
        parts = [[r["kernel_edit"] - r["wall"] for r in items], [r["kernel_draft"] - r["kernel_edit"] for r in items],
                 [r["shown"] - r["kernel_draft"] for r in items]]
        part_medians = [statistics.median([p for p in part if p == p]) if any(p == p for p in part) else float("nan")
                        for part in parts]
        over = sum(v > target_s for v in latencies)
        verdict = "met" if median <= target_s and over == 0 else ("met (median)" if median <= target_s else "MISSED")
        rows.append([label, len(latencies), fmt(median), fmt(max(latencies)), over, verdict,
                     " / ".join(fmt(p) for p in part_medians)])
    return rows
