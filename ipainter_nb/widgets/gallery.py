"""The Painter's gallery: past runs side by side, each with its settings and a Save button.

A run that was stopped is kept as a run of its own, marked "stopped" (CSS class
``ipainter-stopped``): it never replaces a finished one. The gallery holds the latest
``capacity`` runs, newest first. Its widgets are all built when the gallery is (on the
kernel's main thread); adding a run from the painting thread only fills one in.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as W

from ipainter_nb.core.arguments import MAX_IMAGE_SIDE, check_whole
from ipainter_nb.core.sampler import PaintResult
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.errors import UserInputError
from ipainter_nb.images import make_grid, png_bytes, save_png_atomic, tensor_to_pil, upscale_nearest
from ipainter_nb.widgets.arguments import save_folder
from ipainter_nb.widgets.messages import first_line, message_html
from ipainter_nb.widgets.preview import PIXELATED_CLASS

__all__ = ["Run", "Gallery", "unique_path", "MAX_HISTORY"]

#: Past runs kept (the oldest goes when a new one arrives).
MAX_HISTORY = 12
_THUMB_PX = 192  # widest gallery picture, CSS pixels: a few runs side by side
_SAVE_SIZES = [("native size", 1), ("×4 (nearest)", 4)]


def unique_path(folder: str | Path, stem: str, suffix: str) -> Path:
    """``folder/stem_<date-time><suffix>`` as an absolute path that does not exist yet
    (two saves in the same second get ``-2``, ``-3``, ...); the folder is created.

    Args:
        folder: the directory (``~`` is expanded); created with its parents if missing. A file, or a
            link that leads nowhere, there or on the way is a ``UserInputError`` (``save_folder``).
        stem: start of the file name, before the date and time (e.g. ``"composition"``).
        suffix: the file extension with its dot (e.g. ``".png"``).

    Returns:
        The absolute path, free at the time of the call.
    """
    directory = save_folder(folder)
    base = f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = directory / f"{base}{suffix}", 2
    while path.exists():
        path, k = directory / f"{base}-{k}{suffix}", k + 1
    return path


@dataclass
class Run:
    """One finished or stopped paint, with what it took to make it.

    Attributes:
        number: the run's number in its gallery (1 for the first run, counting up).
        result: the paint's ``PaintResult`` (pictures, model calls, time, ``stopped``).
        schedule: the schedule it was painted with.
        seed: the seed of the paint (picture k used ``derive_seed(seed, k)``).
        model_name: name of the model that painted it.
    """

    number: int
    result: PaintResult
    schedule: ScheduleConfig
    seed: int
    model_name: str

    @property
    def stopped(self) -> bool:
        """True when the run was stopped before the end of its schedule."""
        return bool(self.result.stopped)

    def caption(self) -> str:
        """One line: number, model, schedule (with its model calls), seed, pictures, time.

        Returns:
            The caption; a stopped run says how many of the schedule's calls it made.
        """
        r = self.result
        n = r.samples.shape[0]
        # the schedule's description already counts its model calls: say them once
        stopped = f" · stopped after {r.nfe} model calls" if self.stopped else ""
        return (f"#{self.number} · {self.model_name} · {self.schedule.describe()} · seed {self.seed} · "
                f"{n} picture{'s' * (n > 1)}{stopped} · {r.elapsed_s:.1f} s")


    def summary(self) -> str:
        """The short caption under the picture (one or two lines): number, seed, model calls, time.

        Returns:
            The summary; ``caption()`` has the details (shown on hover).
        """
        r = self.result
        calls = f"stopped after {r.nfe} model calls" if self.stopped else f"{r.nfe} model calls"
        return f"#{self.number} · seed {self.seed} · {calls} · {r.elapsed_s:.1f} s"


class _Slot:
    """The widgets of one gallery entry, refilled with whichever run it shows."""

    def __init__(self, on_save: Callable[[_Slot], None]) -> None:
        self.run: Run | None = None
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", object_fit="contain"))
        self.image.add_class(PIXELATED_CLASS)  # shrunk or enlarged by the browser, pixels kept square
        self.caption = W.HTML(layout=W.Layout(max_width="100%"))
        self.save_button = W.Button(description="Save", icon="download", tooltip="write the pictures as PNG",
                                    layout=W.Layout(min_width="80px", width="auto"))
        self.save_button.add_class("ipainter-save")
        self.save_button.on_click(lambda _b: on_save(self))
        self.saved = W.HTML(layout=W.Layout(min_width="0", flex="1 1 120px"))
        row = W.HBox([self.save_button, self.saved], layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.box = W.VBox([self.image, self.caption, row],
                          layout=W.Layout(display="none", max_width=f"{_THUMB_PX + 12}px", padding="4px",
                                          margin="2px", border="1px solid #ddd"))
        self.box.add_class("ipainter-gallery-item")

    def show(self, run: Run) -> None:
        self.run = run
        samples = run.result.samples
        grid = make_grid(samples, nrow=min(samples.shape[0], 4))
        self.image.value = png_bytes(upscale_nearest(grid, max(1, _THUMB_PX // grid.width)), compress_level=1)
        badge = "<b style='color:#b26a00'>stopped</b> · " if run.stopped else ""
        # one or two lines under the picture; the schedule and the rest on hover
        self.caption.value = (f"<small title='{html.escape(run.caption(), quote=True)}' style='cursor:help'>"
                              f"{badge}{html.escape(run.summary())}</small>")
        self.saved.value = ""
        if run.stopped:
            self.box.add_class("ipainter-stopped")
        else:
            self.box.remove_class("ipainter-stopped")
        self.box.layout.display = "flex"

    def hide(self) -> None:
        self.run = None
        self.box.layout.display = "none"


class Gallery(W.VBox):
    """Past runs, newest first, each with its settings and a Save button.

    Args:
        folder: where Save writes, asked at each save (the Painter's "save to" field).
        capacity: runs kept.

    ``add(...)`` files a run; ``save(i)`` writes the pictures of run ``i`` (0 = newest) at
    the size chosen in ``save_size`` (native, or ×4 with nearest neighbour) and shows the
    absolute path beside the button that was clicked.
    """

    def __init__(self, folder: Callable[[], str | Path], capacity: int = MAX_HISTORY) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self.runs: list[Run] = []
        self._count = 0
        self.save_size = W.ToggleButtons(options=_SAVE_SIZES, value=1, description="save at",
                                         style={"button_width": "auto"})
        self._slots = [_Slot(self._on_save) for _ in range(max(1, capacity))]
        self.items = W.Box([s.box for s in self._slots], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        header = W.HBox([W.HTML("<b>runs</b> (newest first)"), self.save_size],
                        layout=W.Layout(flex_flow="row wrap", align_items="center", max_width="100%"))
        super().__init__([header, self.items], layout=W.Layout(max_width="100%"))
        self.add_class("ipainter-gallery")

    @property
    def capacity(self) -> int:
        """How many runs the gallery holds (and has entries for); older runs are dropped."""
        return len(self._slots)

    def add(self, result: PaintResult, schedule: ScheduleConfig, seed: int, model_name: str) -> Run:
        """File a finished or stopped run as the newest; the oldest beyond ``capacity`` goes.

        Safe to call from the painting thread: it only fills in widgets built beforehand.

        Args:
            result: the run's pictures and statistics.
            schedule: the schedule it was painted with (shown in the caption).
            seed: the seed it was painted with (shown, and part of the saved file names).
            model_name: the model that painted it (shown in the caption).

        Returns:
            The new ``Run``, numbered one more than the previous one.
        """
        with self._lock:
            self._count += 1
            run = Run(self._count, result, schedule, seed, model_name)
            self.runs.insert(0, run)
            del self.runs[self.capacity:]
            shown = {slot.run.number: slot for slot in self._slots if slot.run is not None}
            kept = {r.number for r in self.runs}
            free = [s for s in self._slots if s.run is None or s.run.number not in kept]
            order = []
            for r in self.runs:
                slot = shown.get(r.number)
                if slot is None:
                    slot = free.pop(0)
                    slot.show(r)
                order.append(slot)
            for slot in free:
                slot.hide()
            self.items.children = [s.box for s in order + free]
        return run

    def save(self, index: int = 0, folder: str | Path | None = None, upscale: int | None = None) -> list[Path]:
        """Write every picture of run ``index`` as PNG (atomically); return their absolute paths.

        Args:
            index: which run, 0 = newest; UserInputError when the gallery has no such run.
            folder: where to write (default: the gallery's folder, the "save to" field).
            upscale: enlargement factor, nearest neighbour (default: the ``save_size`` choice).
        """
        run = self._run(index)
        return [self.save_picture(index, k, folder, upscale) for k in range(run.result.samples.shape[0])]

    def save_picture(self, index: int, k: int, folder: str | Path | None = None, upscale: int | None = None) -> Path:
        """Write picture ``k`` of run ``index``, ``upscale`` times larger (default: ``save_size``).

        Args:
            index: which run, 0 = newest; UserInputError when the gallery has no such run.
            k: which picture of that run; UserInputError when it has no such picture.
            folder: where to write (default: the gallery's folder, the "save to" field).
            upscale: enlargement factor, nearest neighbour (default: the ``save_size`` choice).

        Returns:
            The absolute path of the PNG written (atomically, under a new dated name).
        """
        run = self._run(index)
        n = run.result.samples.shape[0]
        if not 0 <= check_whole("k", k, 0) < n:
            raise UserInputError(f"picture {k} does not exist: run #{run.number} has pictures 0..{n - 1}")
        side = run.result.samples.shape[-1]  # the saved picture is at most as large as a canvas may be
        factor = check_whole("upscale", self.save_size.value if upscale is None else upscale, 1, MAX_IMAGE_SIDE // side + 1)
        picture = upscale_nearest(tensor_to_pil(run.result.samples[k]), factor)
        size = "" if factor == 1 else f"_x{factor}"
        path = unique_path(self._folder() if folder is None else folder, f"run{run.number}_seed{run.seed}_{k}{size}", ".png")
        return save_png_atomic(picture, path).resolve()

    def _run(self, index: int) -> Run:
        index = check_whole("index", index, 0)
        if not self.runs:
            raise UserInputError("nothing to save yet: press Paint first")
        if not 0 <= index < len(self.runs):
            raise UserInputError(f"run {index} does not exist: the gallery holds runs 0..{len(self.runs) - 1} (0 = newest)")
        return self.runs[index]

    def _on_save(self, slot: _Slot) -> None:
        try:
            index = next(i for i, run in enumerate(self.runs) if run is slot.run)
            paths = self.save(index)
        except Exception as exc:  # a read-only folder, a full disk: say so where the user clicked
            slot.saved.value = message_html(first_line(exc), "error", small=True)
            return
        more = f" (+{len(paths) - 1} more)" if len(paths) > 1 else ""
        slot.saved.value = message_html(f"saved {paths[0]}{more}", "ok", small=True)
