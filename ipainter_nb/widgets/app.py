"""``Painter``: the whole Intelligent Painter in one notebook widget.

Composer (place cutouts) + a live draft + controls (model, samples, seed, schedule with its
call count) + Paint / Stop + progress + live previews + frequency plots + a gallery of
past runs::

    from ipainter_nb.widgets import Painter
    painter = Painter("demo")
    painter                        # last line of a cell: shows the widget
    painter.paint()                # returns at once; the widget shows the run (or press Paint)
    result = painter.wait()        # blocks this cell until the run ends (the widget stays live)

State lives in traitlets (``seed``, ``num_samples``, ``schedule`` as a ``ScheduleConfig``
dict, ``result``, ``busy``, ``draft_enabled``, ``model_name``); the controls are linked to
them, so ``painter.seed = 7`` and typing 7 in the seed field are the same thing. Finished
runs are announced through ``on_result(callback)``, drafts through ``on_draft(callback)``.

All model calls and plot renders run on ONE worker thread per Painter, one at a time;
``worker.py`` describes how that thread, the frequency panel's drawing thread and the
edit debouncer interact. Drafts: after each change of the composition (once the edits
pause), a quick low-step paint of the scene is shown beside the canvas; a newer change or
Stop cancels a draft that is still running, and a Paint cancels drafts.

Errors of a run (a NaN model, a bad schedule, a composition of the wrong size) appear in
the widget's error line, with the core's message; Paint is enabled again.

Google Colab draws third-party widgets (ipycanvas) only with its custom widget manager
on; ``Painter()`` turns it on by calling
``google.colab.output.enable_custom_widget_manager()`` when ``google.colab`` is importable.
"""

from __future__ import annotations

import html
import io
import math
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as W
import torch
from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Int, Unicode, link, observe

from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import DiffusionModel, load_model
from ipainter_nb.core.presets import PRESETS, find_weights
from ipainter_nb.core.sampler import PaintResult, Step, auto_batch_size, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.errors import IPainterError, UserInputError
from ipainter_nb.images import make_grid, save_png_atomic, upscale_nearest
from ipainter_nb.widgets.composer import Composer
from ipainter_nb.widgets.plots import FrequencyPanel
from ipainter_nb.widgets.preview import LivePreview
from ipainter_nb.widgets.worker import Debouncer, Job, Worker

__all__ = ["Painter", "enable_colab_widgets", "available_models", "MAX_SAMPLES", "MAX_HISTORY"]

MAX_SAMPLES = 8
#: Past runs kept in the gallery (the oldest goes when a new one arrives).
MAX_HISTORY = 12
#: Drafts walk this many respaced steps (the model's default schedule scaled down) and
#: denoise each resampled stretch at most this many times: tens of model calls.
DRAFT_T_T = 16
DRAFT_JUMP_N_SAMPLE = 2
#: Edits must pause this long before a draft (and the band-SNR plot) follows them.
EDIT_PAUSE_S = 0.25
_MODES = [("truncated", "truncated"), ("RePaint (everywhere)", "repaint"), ("none (plain)", "plain"),
          ("window", "window"), ("frequency-chosen", "frequency")]
_CURRENT = "__current__"  # dropdown value of a model that is not a found preset (a path)
#: Share of a run's wall time the live preview may spend showing frames.
PREVIEW_SHARE = 0.02
#: Spectrum plots drawn per second during a run, at most (each is a matplotlib render of a
#: good fraction of a second on a small CPU; the last one is always drawn).
SPECTRA_PER_S = 0.2
_COLORS = {"info": "#555", "ok": "#2e7d32", "warning": "#b26a00", "error": "#c62828"}
_THUMB_PX = 256  # widest gallery picture, CSS pixels
_SAVE_SIZES = [("native size", 1), ("×4 (nearest)", 4)]


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager (needed for ipycanvas); False outside Colab."""
    try:
        from google.colab import output  # type: ignore[import-not-found]
    except ImportError:
        return False
    try:
        output.enable_custom_widget_manager()
    except Exception:  # an old Colab runtime without it: widgets may still partly work
        return False
    return True


def available_models() -> list[str]:
    """Presets whose weights are on this machine (shipped, or found by ``find_weights``)."""
    found = []
    for name in PRESETS:
        try:
            find_weights(name)
        except Exception:  # missing weights are the normal case for the big presets
            continue
        found.append(name)
    return found


def _frequency_rule() -> Callable[..., ScheduleConfig] | None:
    """The frequency-chosen schedule rule, when this version of the core has it."""
    try:
        from ipainter_nb.core.schedule_rule import frequency_schedule
    except ImportError:
        return None
    return frequency_schedule


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # shown once and dropped: speed over size
    return buf.getvalue()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass
class Run:
    """One finished or stopped paint, as the gallery keeps it."""

    number: int
    result: PaintResult
    schedule: ScheduleConfig
    seed: int
    model_name: str

    @property
    def stopped(self) -> bool:
        return bool(self.result.stopped)

    def caption(self) -> str:
        r = self.result
        n = r.samples.shape[0]
        return (f"#{self.number} · {self.schedule.describe()} · seed {self.seed} · {n} picture{'s' * (n > 1)} · "
                f"{r.nfe} model calls · {r.elapsed_s:.1f} s")


class _GallerySlot:
    """The widgets of one gallery entry, built once on the main thread and refilled."""

    def __init__(self, on_save: Callable[[_GallerySlot], None]) -> None:
        self.run: Run | None = None
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", object_fit="contain"))
        self.caption = W.HTML(layout=W.Layout(max_width="100%"))
        self.save_button = W.Button(description="Save", icon="download", tooltip="write the pictures as PNG",
                                    layout=W.Layout(min_width="80px", width="auto"))
        self.save_button.add_class("ipainter-save")
        self.save_button.on_click(lambda _b: on_save(self))
        self.saved = W.HTML(layout=W.Layout(min_width="0", flex="1 1 120px"))
        self.box = W.VBox(
            [self.image, self.caption, W.HBox([self.save_button, self.saved], layout=W.Layout(flex_flow="row wrap",
                                                                                            align_items="center"))],
            layout=W.Layout(display="none", max_width=f"{_THUMB_PX + 12}px", padding="4px", margin="2px",
                            border="1px solid #ddd"),
        )
        self.box.add_class("ipainter-gallery-item")

    def show(self, run: Run) -> None:
        self.run = run
        samples = run.result.samples
        n = samples.shape[0]
        grid = make_grid(samples, nrow=min(n, 4))
        self.image.value = _png(upscale_nearest(grid, max(1, _THUMB_PX // grid.width)))
        badge = "<b style='color:#b26a00'>stopped</b> · " if run.stopped else ""
        self.caption.value = f"<small>{badge}{html.escape(run.caption())}</small>"
        self.saved.value = ""
        if run.stopped:
            self.box.add_class("ipainter-stopped")
        else:
            self.box.remove_class("ipainter-stopped")
        self.box.layout.display = "flex"


class Painter(W.VBox):
    """Compose, paint, watch, compare and save, in one widget.

    Args:
        model: a preset name (``"demo"``), a checkpoint path, or a loaded
            ``DiffusionModel``. A model that fails to load is reported in the widget
            (the Painter still opens; pick another model in the dropdown).
        composition: the composition to edit (default: a new empty one at the model's
            size). Settings and seed saved in it (by "Save composition") are applied.
        cutouts: the Composer's palette: ``None``/``"demo"`` (shipped cutouts), a folder,
            or a mapping name -> path or PIL image.
        device: where models named in the dropdown are loaded.
        out_dir: default folder of the Save buttons.
        drafts: start with live drafts on (``draft_enabled``).
        edit_pause_s: how long the edits must pause before a draft and the band-SNR plot
            follow them.

    Programmatic use (notebooks, tests): ``paint(wait=False)``, ``stop()``, ``wait()``,
    ``result``, ``runs``, ``composition``, ``schedule_config``, ``set_schedule(config)``,
    ``load_model(name)``, ``save_run(i)``, ``save_sample(k)``, ``save_composition()``.
    """

    seed = Int(0, help="seed of the next paint (sample k uses derive_seed(seed, k))")
    num_samples = Int(1, min=1, max=MAX_SAMPLES, help="pictures per paint")
    schedule = Dict(help="the schedule of the next paint, as ScheduleConfig.to_dict()")
    result = AnyTrait(None, allow_none=True, help="the latest finished or stopped PaintResult")
    busy = Bool(False, help="True while a paint is queued or running")
    draft_enabled = Bool(True, help="paint a quick draft after each change of the composition")
    model_name = Unicode("", help="name of the loaded model; assign a preset name or path to load another")

    def __init__(
        self,
        model: str | Path | DiffusionModel | None = "demo",
        composition: Composition | None = None,
        cutouts: Any = None,
        device: Any = None,
        out_dir: str | Path = "ipainter_out",
        drafts: bool = True,
        edit_pause_s: float = EDIT_PAUSE_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.add_class("ipainter-painter")
        self.colab = enable_colab_widgets()
        self._device = device
        self.model: DiffusionModel | None = None
        self.last_error: BaseException | None = None
        self.worker = Worker()
        self._paint_job: Job | None = None
        self._draft_job: Job | None = None
        self._edit_pause = Debouncer(edit_pause_s, self._after_edit_pause)
        self._result_handlers = W.CallbackDispatcher()
        self._draft_handlers = W.CallbackDispatcher()
        self._lock = threading.Lock()
        self._syncing = False  # True while the widget sets its own controls
        self._schedule_error = ""
        self._status_text = ""
        self._error_text = ""
        self._warning = ""
        self._progress_every = 1
        self._steps_per_batch = self._batch_size = 1
        self.runs: list[Run] = []  # newest first, at most MAX_HISTORY
        self._run_count = 0

        # ---- messages first: loading the model may already have something to say
        self.status = W.HTML(layout=W.Layout(min_height="1.5em", min_width="0", flex="1 1 240px"))
        self.status.add_class("ipainter-status")
        self.error = W.HTML(layout=W.Layout(min_height="0", max_width="100%"))

        # ---- model
        self.model_dropdown = W.Dropdown(description="model", layout=W.Layout(width="100%", max_width="320px"))
        self.model_dropdown.style.description_width = "90px"
        if isinstance(model, (str, Path)):
            self._load(model, announce=False)
        elif model is not None:
            self._use_model(model)
        self._refresh_model_options()
        self.model_dropdown.observe(self._on_model_choice, names="value")

        # ---- composition: the Composer owns it
        size = self.model.image_size if self.model is not None else 64
        comp = composition if composition is not None else Composition(size)
        self.composer = Composer(comp, size=comp.size, cutouts="demo" if cutouts is None else cutouts)
        self._observed: Composition | None = None
        self._observe_composition()
        self.composer.observe(self._on_composition_replaced, names="composition")

        # ---- live draft
        self.draft_image = W.Image(format="png", layout=W.Layout(width="160px", height="160px", object_fit="contain"))
        self.draft_caption = W.HTML("<small>a quick draft appears here after each change</small>",
                                    layout=W.Layout(max_width="160px"))
        self.draft_toggle = W.ToggleButton(value=drafts, description="live draft", icon="bolt",
                                           tooltip="paint a quick draft after each change of the canvas",
                                           layout=W.Layout(width="160px"))
        self.draft_toggle.add_class("ipainter-draft-toggle")
        self.draft_box = W.VBox([self.draft_image, self.draft_caption, self.draft_toggle],
                                layout=W.Layout(margin="0 8px", min_width="160px"))
        self.draft_box.add_class("ipainter-draft")
        self.draft_enabled = drafts
        link((self.draft_toggle, "value"), (self, "draft_enabled"))

        # ---- sampling controls (continuous_update: the call count follows every keystroke)
        field = dict(layout=W.Layout(width="100%", max_width="320px"), continuous_update=True)
        self.samples_input = W.BoundedIntText(value=1, min=1, max=MAX_SAMPLES, description="samples", **field)
        # 0..2**53-1: what a browser's number holds exactly, and torch seeds accept
        self.seed_input = W.BoundedIntText(value=0, min=0, max=2**53 - 1, description="seed", **field)
        link((self.samples_input, "value"), (self, "num_samples"))
        link((self.seed_input, "value"), (self, "seed"))
        default = self.model.default_schedule if self.model is not None else ScheduleConfig()
        modes = [m for m in _MODES if m[1] != "frequency" or _frequency_rule() is not None]
        self.schedule_mode = W.Dropdown(options=modes, value="truncated", description="resampling",
                                        layout=field["layout"])
        self.t_T = W.IntText(value=default.t_T, description="t_T", **field)
        self.jump_length = W.IntText(value=default.jump_length, description="jump length", **field)
        self.jump_n_sample = W.IntText(value=default.jump_n_sample, description="jump count", **field)
        self.stop_resampling_at = W.IntText(value=default.stop_resampling_at or 0, description="stop at t", **field)
        self.start_resampling_at = W.IntText(value=default.t_T, description="start at t", **field)
        for control in [self.samples_input, self.seed_input, *self._schedule_controls]:
            control.style.description_width = "90px"
        for control in self._schedule_controls:
            control.observe(self._on_schedule_control, names="value")
        self.schedule_info = W.HTML(layout=W.Layout(max_width="320px", min_width="0"))
        self.schedule_info.add_class("ipainter-nfe")

        # ---- run controls
        self.paint_button = W.Button(description="Paint", button_style="primary", icon="paint-brush",
                                     layout=W.Layout(min_width="90px", width="auto"))
        self.paint_button.add_class("ipainter-paint")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                    layout=W.Layout(min_width="90px", width="auto"))
        self.stop_button.add_class("ipainter-stop")
        self.paint_button.on_click(lambda _b: self.paint(wait=False))
        self.stop_button.on_click(lambda _b: self.stop())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="steps",
                                      layout=W.Layout(flex="1 1 200px", min_width="160px", max_width="420px"))

        # ---- live outputs
        # budgets of the live views: the run must stay within a few percent of a bare paint()
        self.preview = LivePreview(max_overhead=PREVIEW_SHARE, gif_path=Path(out_dir) / "paint.gif")
        self.frequency = FrequencyPanel(max_fps=SPECTRA_PER_S)
        # the two plots sit side by side when there is room and under each other when not
        for plot in (self.frequency.spectrum_image, self.frequency.snr_image):
            plot.layout.max_width = "100%"
            plot.layout.object_fit = "contain"
        self.frequency.children[0].layout.flex_flow = "row wrap"
        self.out_dir = W.Text(value=str(out_dir), description="save to",
                              layout=W.Layout(flex="1 1 240px", min_width="0", max_width="480px"))
        # the GIF goes where the pictures go
        self.out_dir.observe(lambda c: setattr(self.preview.gif_path, "value", str(Path(c["new"]) / "paint.gif")),
                             names="value")
        self.save_composition_button = W.Button(description="Save composition", icon="save",
                                                layout=W.Layout(min_width="160px", width="auto"))
        self.save_composition_button.on_click(lambda _b: self._guarded(self.save_composition))
        self.composition_saved = W.HTML(layout=W.Layout(min_width="0", flex="1 1 200px"))

        # ---- gallery of past runs: every slot built now, so a run's thread only fills one in
        self.save_size = W.ToggleButtons(options=_SAVE_SIZES, value=1, description="save at",
                                         style={"button_width": "auto"})
        self._slots = [_GallerySlot(self._on_save_slot) for _ in range(MAX_HISTORY)]
        self.gallery = W.Box([s.box for s in self._slots], layout=W.Layout(flex_flow="row wrap",
                                                                           align_items="flex-start"))
        self.gallery.add_class("ipainter-gallery")

        wrap = dict(flex_flow="row wrap", align_items="flex-start", max_width="100%")
        controls = W.VBox(
            [self.model_dropdown, self.samples_input, self.seed_input, self.schedule_mode, self.t_T,
             self.jump_length, self.jump_n_sample, self.stop_resampling_at, self.start_resampling_at,
             self.schedule_info],
            layout=W.Layout(flex="1 1 260px", min_width="240px", max_width="340px"),
        )
        self.children = [
            W.HBox([self.composer, self.draft_box, controls], layout=W.Layout(**wrap)),
            W.HBox([self.paint_button, self.stop_button, self.progress, self.status],
                   layout=W.Layout(flex_flow="row wrap", align_items="center", max_width="100%")),
            self.error,
            W.HBox([self.preview, self.frequency], layout=W.Layout(**wrap)),
            W.HBox([self.out_dir, self.save_composition_button, self.composition_saved],
                   layout=W.Layout(flex_flow="row wrap", align_items="center", max_width="100%")),
            W.HBox([W.HTML("<b>runs</b> (newest first)"), self.save_size],
                   layout=W.Layout(flex_flow="row wrap", align_items="center", max_width="100%")),
            self.gallery,
        ]

        self._set_schedule_controls(default)
        self._apply_saved_settings(comp)
        self._on_schedule_control()
        if self.model is not None and self._status_text == "":
            self._set_ready_status()
        self._edit_pause.trigger()  # the band-SNR plot (and a first draft) of the scene as opened

    # ================================================================= public API

    @property
    def composition(self) -> Composition:
        """The composition being painted (the Composer's current one)."""
        return self.composer.composition

    @composition.setter
    def composition(self, composition: Composition) -> None:
        self.composer.composition = composition  # the Composer tells us: _on_composition_replaced

    @property
    def edit_pause_s(self) -> float:
        """How long the edits must pause before a draft and the band-SNR plot follow them."""
        return self._edit_pause.delay_s

    @property
    def edits_pending(self) -> bool:
        """True while an edit waits for its pause (its draft is not queued yet)."""
        return self._edit_pause.pending

    @property
    def running(self) -> bool:
        """True while a paint is queued or running (the ``busy`` trait)."""
        return self.busy

    @property
    def status_message(self) -> str:
        """The status line as plain text."""
        return self._status_text

    @property
    def error_message(self) -> str:
        """The error line as plain text ("" when there is no error)."""
        return self._error_text

    @property
    def schedule_config(self) -> ScheduleConfig:
        """The schedule of the next paint; raises UserInputError when the controls do not make one."""
        if self._schedule_error:
            raise UserInputError(self._schedule_error)
        return ScheduleConfig.from_dict(self.schedule)

    def set_schedule(self, config: ScheduleConfig) -> None:
        """Use ``config`` for the next paint (the controls show it)."""
        if not isinstance(config, ScheduleConfig):
            raise TypeError(f"expected a ScheduleConfig, got {type(config).__name__}")
        self.schedule = config.to_dict()

    def on_result(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each finished or stopped paint (on the worker thread)."""
        self._result_handlers.register_callback(callback, remove=remove)

    def on_draft(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each draft that was shown (on the worker thread)."""
        self._draft_handlers.register_callback(callback, remove=remove)

    def load_model(self, name_or_path: str | Path | DiffusionModel) -> DiffusionModel | None:
        """Switch models (a preset name, a path or a loaded model); the schedule controls
        take its default schedule. On failure the one-line reason is shown, the previous
        model is kept, and None is returned."""
        if self.busy:
            self._set_error("stop the run before switching models")
            self._refresh_model_options()
            return None
        if isinstance(name_or_path, (str, Path)):
            if not self._load(name_or_path):
                self._refresh_model_options()
                return None
        else:
            self._use_model(name_or_path)
            self._set_ready_status()
        self._refresh_model_options()
        assert self.model is not None
        self.set_schedule(self.model.default_schedule)
        self._after_edit()
        return self.model

    def paint(self, wait: bool = False) -> PaintResult | None:
        """Paint the composition with the chosen settings on the worker thread.

        Returns at once (None) and the widget shows the run: Paint is disabled, Stop
        enabled, the progress bar moves, ``busy`` is True. ``wait=True`` blocks the
        calling cell until the run ends and returns its ``PaintResult``
        (``result.stopped`` if stopped), or None if it could not start or failed: the
        reason is in the widget's error line, ``error_message`` and ``last_error``. The
        progress keeps moving while a cell waits, but clicks on the widget are handled
        only after the cell ends: in a notebook prefer ``paint()`` and read ``result``
        (or call ``wait()``) in a later cell.
        """
        job = self._start()
        if job is None:
            return None
        return self.wait() if wait else None

    def wait(self, timeout: float | None = None) -> PaintResult | None:
        """Block until the current paint (if any) ends; return its result (None if it failed)."""
        job = self._paint_job
        if job is None:
            return self.result
        job.wait(timeout)
        return job.result if job.done.is_set() else None

    def stop(self) -> None:
        """Cancel the paint and any draft: each ends within one model call; a stopped paint
        shows what it has, marked "stopped" in the gallery."""
        self._edit_pause.cancel()
        self.worker.cancel()
        if self.busy:
            self._set_status("stopping after the current model call…", "warning")

    def save_run(self, index: int = 0, folder: str | Path | None = None, upscale: int | None = None) -> list[Path]:
        """Write every picture of run ``index`` (0 = newest, as in the gallery) as PNG,
        ``upscale`` times larger with nearest neighbour (default: the gallery's choice)."""
        if not self.runs:
            raise UserInputError("nothing to save yet: press Paint first")
        if not 0 <= index < len(self.runs):
            raise UserInputError(f"run {index} does not exist: the gallery holds runs 0..{len(self.runs) - 1}")
        run = self.runs[index]
        factor = int(self.save_size.value if upscale is None else upscale)
        return [self._save_picture(run, k, folder, factor) for k in range(run.result.samples.shape[0])]

    def save_sample(self, k: int, folder: str | Path | None = None, upscale: int = 1) -> Path:
        """Write picture ``k`` of the latest run as a PNG (atomically); return its absolute path."""
        if not self.runs:
            raise UserInputError("nothing to save yet: press Paint first")
        run = self.runs[0]
        n = run.result.samples.shape[0]
        if not 0 <= k < n:
            raise UserInputError(f"picture {k} does not exist: the latest run has pictures 0..{n - 1}")
        return self._save_picture(run, k, folder, upscale)

    def save_composition(self, path: str | Path | None = None) -> Path:
        """Write the composition JSON with the paint settings and seed of the controls;
        return its absolute path (shown next to the button)."""
        settings = self._current_settings()
        out = Path(path) if path is not None else self._new_path(None, "composition", ".json")
        out = out.expanduser().resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        self.composition.to_json(out, settings=settings, seed=int(self.seed))
        self.composition_saved.value = f"<small style='word-break:break-all'>saved {html.escape(str(out))}</small>"
        return out

    def close(self) -> None:
        """Stop all work, end the worker thread and close the widget."""
        self.stop()
        self.worker.close()
        if self._observed is not None:
            self._observed.unobserve(self._on_composition_changed)
            self._observed = None
        super().close()

    # ================================================================= painting

    def _start(self) -> Job | None:
        with self._lock:  # two fast clicks must not start two runs
            if self.busy:
                self._set_error("a run is already in progress: press Stop first")
                return None
            self._set_error("")
            if self.model is None:
                self._set_error("no model is loaded: pick one in the model dropdown")
                return None
            model = self.model
            try:
                self.composition.check_size(model.image_size, f"model {model.name!r}")
            except IPainterError as exc:
                self._set_error(str(exc))
                return None
            try:
                image, keep = self.composition.render()
                if self.schedule_mode.value == "frequency":
                    self._on_schedule_control(keep=keep)  # the rule follows the current mask
                config = self.schedule_config
            except (IPainterError, ValueError, TypeError) as exc:
                self._set_error(f"invalid schedule: {_first_line(exc)}")
                return None
            warning = ""
            if keep.sum() == 0:
                warning = "no layers on the canvas: painting an unconditional sample. "
            elif keep.min() == 1:
                warning = "the cutouts cover the whole canvas: nothing is left to paint. "
            n, seed = int(self.num_samples), int(self.seed)
            times = config.times()
            self.last_error = None
            self._warning = warning
            # pictures go through the model in micro-batches; the preview watches the first one
            batch = min(n, auto_batch_size(model))
            self.preview.reset(num_samples=batch)  # builds its image rows here, on the main thread
            total = len(times) - 1
            self._steps_per_batch, self._batch_size = total, batch
            self._progress_every = max(1, total // 100)  # about 100 progress messages per batch
            self.progress.max, self.progress.value, self.progress.bar_style = total * math.ceil(n / batch), 0, "info"
            self.busy = True
            self._set_status(f"{warning}painting {n} picture{'s' * (n > 1)}: {total} steps, "
                             f"{config.nfe} model calls…", "warning" if warning else "info")
            run = partial(self._run_paint, model, image, keep, config, times, n, batch, seed)
            self._paint_job = self.worker.submit(run, "paint", replaces=("draft", "plot"))
            return self._paint_job

    def _run_paint(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, config: ScheduleConfig,
                   times: list[int], n: int, batch: int, seed: int, cancel: Any) -> PaintResult | None:
        result = None
        try:
            self.frequency.reset(image, config, model.alphas_cumprod(config.t_T))
            result = paint(model, image, keep, times=times, num_samples=n, seed=seed, batch_size=batch,
                           callback=self._on_step, cancel=cancel, progress=False)
            self._show_result(Run(self._next_run_number(), result, config, seed, model.name))
        except Exception as exc:  # shown in the widget, not lost in a log: the widget stays usable
            result = None
            self.last_error = exc
            self.progress.bar_style = "danger"
            self._set_error(f"{type(exc).__name__}: {_first_line(exc)}", traceback.format_exc())
            self._set_status(f"{self._warning}the run failed (see below); change the settings and press Paint again",
                             "error")
        finally:
            self.busy = False
        return result

    def _on_step(self, step: Step) -> None:
        done = step.index + 1
        if done == step.total_steps or done % self._progress_every == 0:
            self.progress.value = step.first_sample // self._batch_size * self._steps_per_batch + done
        if step.first_sample == 0:  # the preview and the spectra follow the first micro-batch
            self.preview.on_step(step)
            self.frequency.on_step(step)
        return None

    def _next_run_number(self) -> int:
        self._run_count += 1
        return self._run_count

    def _show_result(self, run: Run) -> None:
        result = run.result
        if result.samples.shape[0] == 0:  # stopped before the first step: nothing to show or keep
            self.progress.bar_style = "warning"
            self._set_status("stopped before the first step: nothing was painted", "warning")
            return
        self.preview.show_result(result)
        self.frequency.finish(result)
        self.runs.insert(0, run)
        del self.runs[MAX_HISTORY:]
        self._refresh_gallery()
        steps = len(result.times) - 1
        took = f"{result.nfe} model calls in {result.elapsed_s:.1f} s"
        if result.stopped:
            self.progress.bar_style = "warning"
            self._set_status(f"{self._warning}run #{run.number} stopped after {self.progress.value} of {steps} steps, "
                             f"{took}: the gallery shows its latest prediction, marked stopped", "warning")
        else:
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            n = result.samples.shape[0]
            self._set_status(f"{self._warning}run #{run.number} done: {n} picture{'s' * (n > 1)}, {took}",
                             "warning" if self._warning else "ok")
        self.result = result
        self._result_handlers(result)

    def _refresh_gallery(self) -> None:
        # slots keep their widgets; newest first means rotating which slot shows which run
        shown = {slot.run.number: slot for slot in self._slots if slot.run is not None}
        keep_numbers = {run.number for run in self.runs}
        free = [s for s in self._slots if s.run is None or s.run.number not in keep_numbers]
        order = []
        for run in self.runs:
            slot = shown.get(run.number)
            if slot is None:
                slot = free.pop(0)
                slot.show(run)
            order.append(slot)
        for slot in free:
            slot.run = None
            slot.box.layout.display = "none"
        self.gallery.children = [s.box for s in order] + [s.box for s in free]

    # ================================================================= drafts and edits

    def _observe_composition(self) -> None:
        comp = self.composer.composition
        if comp is self._observed:
            return
        if self._observed is not None:
            self._observed.unobserve(self._on_composition_changed)
        comp.observe(self._on_composition_changed)
        self._observed = comp

    def _on_composition_changed(self, _composition: Composition) -> None:
        self._after_edit()

    def _on_composition_replaced(self, _change: Mapping[str, Any]) -> None:
        self._observe_composition()
        self._after_edit()

    def _after_edit(self) -> None:
        if not self.busy:  # a status about the canvas as it was (e.g. "no layers") would be stale now
            self._set_ready_status()
        self._edit_pause.trigger()

    def _after_edit_pause(self) -> None:
        """The edits paused (timer thread): queue the band-SNR plot and a draft of the scene."""
        model = self.model
        if model is None:
            return
        try:
            image, keep = self.composition.render()
        except Exception:  # e.g. an edit landing mid-render: the next pause renders again
            self._edit_pause.trigger()
            return
        if self.schedule_mode.value == "frequency" and not self.busy:
            self._on_schedule_control(keep=keep)
        if self.draft_enabled:
            self._submit_draft(model, image, keep)
        if not self.busy:
            self.worker.submit(partial(self._draw_band_snr, model, image), "plot", replaces=("plot",))

    def draft_config(self, model: DiffusionModel | None = None) -> ScheduleConfig:
        """The drafts' short schedule: the model's default one scaled to ``DRAFT_T_T`` steps."""
        model = model if model is not None else self.model
        like = model.default_schedule if model is not None else ScheduleConfig()
        short = ScheduleConfig.for_t_T(min(DRAFT_T_T, like.t_T), like=like)
        return ScheduleConfig(t_T=short.t_T, jump_length=short.jump_length,
                              jump_n_sample=min(short.jump_n_sample, DRAFT_JUMP_N_SAMPLE),
                              stop_resampling_at=short.stop_resampling_at, start_resampling_at=short.start_resampling_at)

    def _submit_draft(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor) -> Job:
        # one torch thread fewer than the machine has: the kernel keeps a core for the canvas
        threads = max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1))
        draft = partial(self._run_draft, model, image, keep, self.draft_config(model), int(self.seed))
        self._draft_job = self.worker.submit(draft, "draft", replaces=("draft",), threads=threads)
        return self._draft_job

    def _run_draft(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, config: ScheduleConfig,
                   seed: int, cancel: Any) -> PaintResult | None:
        try:
            result = paint(model, image, keep, times=config.times(), num_samples=1, seed=seed, cancel=cancel,
                           progress=False, max_frames=0)
        except Exception as exc:  # e.g. a canvas of the wrong size: the draft says why, Paint will too
            self.draft_caption.value = f"<small style='color:{_COLORS['error']}'>no draft: {html.escape(_first_line(exc))}</small>"
            return None
        if result.stopped or cancel.is_set():
            return None  # stale: a newer edit, a Paint or Stop; the previous draft stays
        picture = make_grid(result.samples, nrow=1)
        self.draft_image.value = _png(upscale_nearest(picture, max(1, 160 // picture.width)))
        self.draft_caption.value = (f"<small>draft: {result.nfe} model calls, {result.elapsed_s:.1f} s "
                                    f"(Paint runs the full schedule)</small>")
        self._draft_handlers(result)
        return result

    @observe("draft_enabled")
    def _draft_toggled(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self._edit_pause.trigger()
        else:
            self.worker.cancel(["draft"])
            if hasattr(self, "draft_caption"):
                self.draft_caption.value = "<small>live draft off</small>"

    def _draw_band_snr(self, model: DiffusionModel, image: torch.Tensor, cancel: Any) -> None:
        try:
            config = self.schedule_config
        except (IPainterError, ValueError, TypeError):
            return  # the schedule message already says what is wrong
        self.frequency.show_band_snr(image, config, model.alphas_cumprod(config.t_T))

    # ================================================================= state reactions

    @observe("busy")
    def _busy_changed(self, change: Mapping[str, Any]) -> None:
        busy = bool(change["new"])
        self.paint_button.disabled = busy
        self.stop_button.disabled = not busy
        if busy:
            self.add_class("ipainter-busy")
        else:
            self.remove_class("ipainter-busy")

    @observe("schedule")
    def _schedule_changed(self, change: Mapping[str, Any]) -> None:
        if self._syncing or not hasattr(self, "schedule_info"):
            return
        config = ScheduleConfig.from_dict(change["new"])
        self._set_schedule_controls(config)
        self._schedule_error = ""
        self._show_schedule_info(config)
        self._edit_pause.trigger()

    @observe("model_name")
    def _model_name_changed(self, change: Mapping[str, Any]) -> None:
        if self._syncing or not change["new"] or (self.model is not None and change["new"] == self.model.name):
            return
        if self.load_model(change["new"]) is None:  # keep the trait true to the model in use
            self._syncing = True
            try:
                self.model_name = self.model.name if self.model is not None else ""
            finally:
                self._syncing = False

    # ================================================================= schedule controls

    @property
    def _schedule_controls(self) -> list[W.ValueWidget]:
        return [self.schedule_mode, self.t_T, self.jump_length, self.jump_n_sample, self.stop_resampling_at,
                self.start_resampling_at]

    def _set_schedule_controls(self, config: ScheduleConfig) -> None:
        self._syncing = True
        try:
            self.schedule_mode.value = config.kind
            self.t_T.value = config.t_T
            self.jump_length.value = config.jump_length
            if config.kind != "plain":  # keep the user's jump count for when resampling is turned back on
                self.jump_n_sample.value = config.jump_n_sample
            if config.stop_resampling_at is not None:
                self.stop_resampling_at.value = config.stop_resampling_at
            self.start_resampling_at.value = config.t_T if config.start_resampling_at is None else config.start_resampling_at
            self._enable_schedule_fields()
        finally:
            self._syncing = False

    def _enable_schedule_fields(self) -> None:
        mode = self.schedule_mode.value
        # fields the mode ignores are greyed out rather than hidden: the layout stays put
        chosen = mode == "frequency"
        self.jump_length.disabled = self.jump_n_sample.disabled = mode == "plain" or chosen
        self.stop_resampling_at.disabled = mode not in ("truncated", "window") or chosen
        self.start_resampling_at.disabled = mode != "window"
        self.start_resampling_at.layout.display = None if mode in ("window", "frequency") else "none"

    def _config_from_controls(self, keep: torch.Tensor | None = None) -> ScheduleConfig:
        mode, t_T = self.schedule_mode.value, int(self.t_T.value)
        if self.model is not None:
            self.model.check_t_T(t_T)  # the core's rule and message
        if mode == "frequency":
            rule = _frequency_rule()
            if rule is None:
                raise UserInputError("the frequency-chosen schedule needs ipainter_nb.core.schedule_rule: "
                                     "pick another resampling mode")
            if keep is None:
                _, keep = self.composition.render()
            return rule(self.model, keep=keep, t_T=t_T)
        if mode == "plain":  # one pass per stretch: no resampling, whatever the jump fields say
            return ScheduleConfig(t_T=t_T, jump_length=int(self.jump_length.value), jump_n_sample=1,
                                  stop_resampling_at=None)
        stop = int(self.stop_resampling_at.value) if mode in ("truncated", "window") else None
        start = int(self.start_resampling_at.value) if mode == "window" else None
        return ScheduleConfig(t_T=t_T, jump_length=int(self.jump_length.value), jump_n_sample=int(self.jump_n_sample.value),
                              stop_resampling_at=stop, start_resampling_at=start)

    def _on_schedule_control(self, change: Mapping[str, Any] | None = None, keep: torch.Tensor | None = None) -> None:
        if self._syncing:
            return
        if change is not None and change["owner"] is self.schedule_mode and change["new"] not in ("plain", "frequency") \
                and self.jump_n_sample.value < 2:
            self._syncing = True  # choosing a resampling mode must resample: one pass per stretch would be plain
            try:
                self.jump_n_sample.value = 2
            finally:
                self._syncing = False
        self._enable_schedule_fields()
        try:
            config = self._config_from_controls(keep)
        except (IPainterError, ValueError, TypeError) as exc:
            self._schedule_error = _first_line(exc)
            self.schedule_info.value = f"<span style='color:{_COLORS['error']}'>⚠ {html.escape(self._schedule_error)}</span>"
            return
        self._schedule_error = ""
        self._syncing = True
        try:
            self.schedule = config.to_dict()
            if self.schedule_mode.value == "frequency":  # show what the rule chose
                self.jump_length.value, self.jump_n_sample.value = config.jump_length, config.jump_n_sample
                self.stop_resampling_at.value = config.stop_resampling_at or 0
                self.start_resampling_at.value = config.start_resampling_at or config.t_T
        finally:
            self._syncing = False
        self._show_schedule_info(config)
        if change is not None:
            self._edit_pause.trigger()  # the band-SNR plot marks the new window

    def _show_schedule_info(self, config: ScheduleConfig) -> None:
        self.schedule_info.value = (f"<span style='color:{_COLORS['info']}'><b>{config.nfe} model calls</b> · "
                                    f"{html.escape(config.describe())}</span>")

    def _current_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"num_samples": int(self.num_samples)}
        if self.model is not None:
            settings["model"] = self.model.name
        if not self._schedule_error:
            settings["schedule"] = dict(self.schedule)
        return settings

    def _apply_saved_settings(self, comp: Composition) -> None:
        saved = comp.settings or {}
        try:
            if isinstance(saved.get("schedule"), Mapping):
                self._set_schedule_controls(ScheduleConfig.from_dict(saved["schedule"]))
            if isinstance(saved.get("num_samples"), int):
                self.num_samples = min(MAX_SAMPLES, max(1, saved["num_samples"]))
        except (IPainterError, ValueError, TypeError) as exc:
            self._set_error(f"the composition's saved settings were not applied: {_first_line(exc)}")
        if comp.seed is not None and 0 <= comp.seed <= self.seed_input.max:
            self.seed = int(comp.seed)

    # ================================================================= models

    def _use_model(self, model: DiffusionModel) -> None:
        self.worker.cancel(["draft", "plot"])  # drafts of the previous model are stale
        self.model = model
        self._syncing = True
        try:
            self.model_name = model.name
        finally:
            self._syncing = False

    def _load(self, name: str | Path, announce: bool = True) -> bool:
        if announce:
            self._set_status(f"loading {name}…")
        try:
            model = load_model(name, device=self._device)
        except Exception as exc:  # missing or broken weights: say why in one line, keep what we had
            kept = f"; keeping {self.model.name!r}" if self.model is not None else ""
            self._set_error(f"could not load model {str(name)!r}{kept}: {_first_line(exc)}")
            if announce and self.model is not None:
                self._set_ready_status()
            return False
        self._use_model(model)
        self._set_error("")
        self._set_status(f"model {model.name!r} loaded ({model.image_size}x{model.image_size}, "
                         f"{model.num_train_steps} training steps)", "ok")
        return True

    def _refresh_model_options(self) -> None:
        names = available_models()
        options: list[tuple[str, str]] = [(name, name) for name in names]
        current = None
        if self.model is not None:
            current = self.model.name if self.model.name in names else _CURRENT
            if current == _CURRENT:
                options.append((f"{self.model.name} (current)", _CURRENT))
        self._syncing = True
        try:
            self.model_dropdown.options = options
            self.model_dropdown.value = current if options else None
        finally:
            self._syncing = False

    def _on_model_choice(self, change: Mapping[str, Any]) -> None:
        if self._syncing or change["new"] in (None, _CURRENT):
            return
        if self.model is not None and change["new"] == self.model.name:
            return
        self.load_model(change["new"])

    # ================================================================= messages and files

    def _set_ready_status(self) -> None:
        if self.model is None:
            return
        n = len(self.composition)
        what = f"{n} cutout{'s' * (n != 1)} on the canvas" if n else "place cutouts on the canvas"
        last = f"; run #{self.runs[0].number} is in the gallery below" if self.runs else ""
        self._set_status(f"model {self.model.name!r} ready: {what}, then press Paint{last}")

    def _set_status(self, text: str, level: str = "info") -> None:
        self._status_text = text
        self.status.value = f"<span style='color:{_COLORS[level]}'>{html.escape(text)}</span>"

    def _set_error(self, text: str, details: str | None = None) -> None:
        self._error_text = text
        if not text:
            self.error.value = ""
            return
        body = f"<b style='color:{_COLORS['error']}'>{html.escape(text)}</b>"
        if details:
            pre = "<pre style='white-space:pre-wrap;word-break:break-all'>"  # a long line must not widen the cell
            body += f"<details><summary>details</summary>{pre}{html.escape(details)}</pre></details>"
        self.error.value = body

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run a button's action; an exception goes to the error line, not the log."""
        try:
            self._set_error("")
            action()
        except Exception as exc:
            self._set_error(f"{type(exc).__name__}: {_first_line(exc)}")

    def _on_save_slot(self, slot: _GallerySlot) -> None:
        if slot.run is None:
            return
        try:
            index = next(i for i, run in enumerate(self.runs) if run is slot.run)
            paths = self.save_run(index)
        except Exception as exc:  # a read-only folder, a full disk: say so where the user clicked
            slot.saved.value = f"<small style='color:{_COLORS['error']}'>{html.escape(_first_line(exc))}</small>"
            return
        names = html.escape(str(paths[0])) + (f" (+{len(paths) - 1} more)" if len(paths) > 1 else "")
        slot.saved.value = f"<small style='word-break:break-all'>saved {names}</small>"

    def _save_picture(self, run: Run, k: int, folder: str | Path | None, upscale: int) -> Path:
        picture = make_grid(run.result.samples[k:k + 1], nrow=1)
        if upscale > 1:
            picture = upscale_nearest(picture, upscale)
        size = "" if upscale == 1 else f"_x{upscale}"
        path = self._new_path(folder, f"run{run.number}_seed{run.seed}_{k}{size}", ".png")
        return save_png_atomic(picture, path).resolve()

    def _new_path(self, folder: str | Path | None, stem: str, suffix: str) -> Path:
        directory = Path(folder if folder is not None else self.out_dir.value).expanduser().resolve()
        directory.mkdir(parents=True, exist_ok=True)
        base = f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}"
        path, k = directory / f"{base}{suffix}", 2
        while path.exists():  # two saves in the same second: never overwrite
            path, k = directory / f"{base}-{k}{suffix}", k + 1
        return path
