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
``worker.py`` describes how that thread, the timers and the kernel's thread interact.
Drafts: after each change of the composition or the seed (once the edits pause), a quick
draft of the scene with Paint's seed is shown beside the canvas, then refined to the
planner's draft plan while the edits stay paused; a newer change or Stop cancels a draft
that is still running, and a Paint cancels drafts (an edit during a paint drafts after it).

Errors of a run (a NaN model, a bad schedule, a composition of the wrong size) appear in
the widget's error line, with the core's message; Paint is enabled again.

Google Colab draws third-party widgets (ipycanvas) only with its custom widget manager
on; ``Painter()`` turns it on by calling
``google.colab.output.enable_custom_widget_manager()`` when ``google.colab`` is importable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as W
import torch
from traitlets import Bool, Dict, Instance, Int, Unicode, link, observe

from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import DiffusionModel
from ipainter_nb.core.sampler import PaintResult
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.errors import IPainterError
from ipainter_nb.widgets.colab import enable_colab_widgets
from ipainter_nb.widgets.composer import Composer
from ipainter_nb.widgets.draft import DRAFT_JUMP_N_SAMPLE, DRAFT_T_T, DraftPanel
from ipainter_nb.widgets.gallery import MAX_HISTORY, Gallery, Run, unique_path
from ipainter_nb.widgets.messages import error_html, first_line, message_html
from ipainter_nb.widgets.models_menu import ModelsMenu, available_models
from ipainter_nb.widgets.number_field import WholeNumberField
from ipainter_nb.widgets.painter_runs import PROGRESS_INTERVAL_S, PainterRuns
from ipainter_nb.widgets.plots import FrequencyPanel
from ipainter_nb.widgets.preview import LivePreview
from ipainter_nb.widgets.schedule_controls import ScheduleControls
from ipainter_nb.widgets.worker import Debouncer, Job, Worker

__all__ = ["Painter", "enable_colab_widgets", "available_models", "MAX_SAMPLES", "MAX_HISTORY", "DRAFT_T_T",
           "DRAFT_JUMP_N_SAMPLE", "PROGRESS_INTERVAL_S", "PREVIEW_SHARE", "PREVIEW_FRAME_COST_S", "PREVIEW_INTERVAL_S"]

MAX_SAMPLES = 8
MAX_SEED = 2**53 - 1  # what a browser's number holds exactly, and torch accepts
#: A gesture (a drag, wheel turns, a slider drag) must pause this long before a draft (and
#: the band-SNR plot) follows it; a single edit (a drop, Delete, a button) waits only
#: ``CLICK_PAUSE_S``, which merges the changes of one click.
EDIT_PAUSE_S = 0.2
CLICK_PAUSE_S = 0.02
#: The live preview's frame budget: share of a run's wall time its frames may cost, the
#: kernel's encoding and the browser's share (``PREVIEW_FRAME_COST_S``) together. The
#: budget is in time, so it holds on any device: a slow CPU run shows a frame every few
#: seconds, a fast GPU run a few frames; the final step is always shown.
PREVIEW_SHARE = 0.02
#: What one preview frame is taken to cost the browser (receiving the message, decoding
#: the pictures, laying out and redrawing the page), in seconds of CPU: when the notebook
#: runs locally that CPU is the model's.
PREVIEW_FRAME_COST_S = 0.03
#: At most one preview frame this often during a run, however cheap frames are.
PREVIEW_INTERVAL_S = 1.0
#: Spectrum plots drawn per second during a run, at most: each is a matplotlib render that
#: costs as much as a few model calls on a small CPU (the last one is always drawn).
SPECTRA_PER_S = 0.05
#: Width of the column beside the canvas: the draft, Paint/Stop, progress and the status line.
SIDE_WIDTH_PX = 200


class Painter(ModelsMenu, PainterRuns, W.VBox):
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
        **kwargs: passed on to ``ipywidgets.VBox`` (e.g. ``layout``).

    Programmatic use (notebooks, tests): ``paint()``, ``wait()``, ``stop()``, ``result``,
    ``runs``, ``composition``, ``schedule_config``, ``set_schedule(config)``,
    ``load_model(name)``, ``save_run(i)``, ``save_sample(k)``, ``save_composition()``.
    """

    seed = Int(0, help="seed of the next paint (picture k uses derive_seed(seed, k))")
    num_samples = Int(1, min=1, max=MAX_SAMPLES, help="pictures per paint")
    schedule = Dict(help="the schedule of the next paint, as ScheduleConfig.to_dict()")
    result = Instance(PaintResult, allow_none=True, help="the latest finished or stopped run")
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
        self._edit_pause = Debouncer(edit_pause_s, self._after_edit_pause)
        self._result_handlers = W.CallbackDispatcher()
        self._draft_handlers = W.CallbackDispatcher()
        self._lock = threading.Lock()
        self._syncing = False  # True while the widget sets its own traits
        self._status_text = ""
        self._error_text = ""
        self._error_field = ""  # the field whose fixing clears the error line ("" when none)
        self._field_noted = False  # the status line shows a field's note
        self._warning = self._painting = ""  # the run's warning, and its "painting …" status
        self._progress_shown_at = 0.0  # time.monotonic() of the last progress message
        self._steps_per_batch = self._batch_size = 1
        self._draft_wanted = True  # an edit since the last draft (the scene as opened counts as one)

        # ---- messages first: loading the model may already have something to say
        self.status = W.HTML(layout=W.Layout(min_height="1.5em", min_width="0", width="auto"))
        self.status.add_class("ipainter-status")
        self.error = W.HTML(layout=W.Layout(min_height="0", max_width="100%"))

        # ---- model
        # "auto" in a column stretches a field to the column's width, margins included
        # (100% plus the fields' 2 px margins overflowed it)
        field_layout = {"width": "auto", "min_width": "0", "max_width": "320px"}
        self.model_dropdown = W.Dropdown(description="model", layout=W.Layout(**field_layout),
                                         style={"description_width": "90px"})
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
        self.composer.on_gesture_end(self._after_gesture)
        self._observed: Composition | None = None
        self._observe_composition()
        self.composer.observe(self._on_composition_replaced, names="composition")

        # ---- live draft
        self.draft = DraftPanel(enabled=drafts)
        self.draft_box, self.draft_image = self.draft, self.draft.image
        self.draft_caption, self.draft_toggle = self.draft.caption, self.draft.toggle
        self.draft_enabled = drafts
        link((self.draft_toggle, "value"), (self, "draft_enabled"))

        # ---- sampling controls (continuous_update: the call count follows every keystroke)
        def field(description: str, lowest: int, highest: int) -> WholeNumberField:
            box = WholeNumberField(description, lowest, highest, value=lowest, layout=W.Layout(**field_layout),
                                   style={"description_width": "90px"})
            box.observe(self._on_field_note, names="note")  # a reset or an unusable text is said
            return box

        self.samples_input = field("samples", 1, MAX_SAMPLES)
        self.seed_input = field("seed", 0, MAX_SEED)
        link((self.samples_input, "number"), (self, "num_samples"))
        link((self.seed_input, "number"), (self, "seed"))
        default = self.model.default_schedule if self.model is not None else ScheduleConfig()
        self.schedule_controls = ScheduleControls(default, keep_mask=lambda: self.composition.render()[1],
                                                  field_layout=field_layout)
        self.schedule_controls.model = self.model
        link((self.schedule_controls, "config"), (self, "schedule"))

        # ---- run controls
        self.paint_button = W.Button(description="Paint", button_style="primary", icon="paint-brush",
                                     layout=W.Layout(min_width="90px", width="auto"))
        self.paint_button.add_class("ipainter-paint")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                    layout=W.Layout(min_width="90px", width="auto"))
        self.stop_button.add_class("ipainter-stop")
        self.paint_button.on_click(lambda _b: self.paint())
        self.stop_button.on_click(lambda _b: self.stop())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="steps",
                                      layout=W.Layout(width="auto", min_width="0", max_width="100%"))

        # ---- live views, with budgets: a run must stay within a few percent of a bare paint()
        self.preview = LivePreview(max_fps=1 / PREVIEW_INTERVAL_S, max_overhead=PREVIEW_SHARE,
                                   frame_cost_s=PREVIEW_FRAME_COST_S, gif_path=Path(out_dir) / "paint.gif")
        self.frequency = FrequencyPanel(max_fps=SPECTRA_PER_S, render_thread=False)  # drawn between model calls
        # the two plots sit side by side when there is room and under each other when not
        for plot in (self.frequency.spectrum_image, self.frequency.snr_image):
            plot.layout.max_width = "100%"
            plot.layout.object_fit = "contain"
        self.frequency.children[0].layout.flex_flow = "row wrap"
        for view in (self.preview, self.frequency):  # side by side when there is room, never wider than the cell
            view.layout.flex = "1 1 380px"
            view.layout.min_width = "0"
            view.layout.max_width = "100%"

        # ---- saving, and the runs to compare
        self.out_dir = W.Text(value=str(out_dir), description="save to",
                              layout=W.Layout(flex="1 1 240px", min_width="0", max_width="480px"))
        # the GIF goes where the pictures go
        self.out_dir.observe(lambda c: setattr(self.preview.gif_path, "value", str(Path(c["new"]) / "paint.gif")),
                             names="value")
        self.save_composition_button = W.Button(description="Save composition", icon="save",
                                                layout=W.Layout(min_width="160px", width="auto"))
        self.save_composition_button.on_click(lambda _b: self._guarded(self.save_composition))
        self.composition_saved = W.HTML(layout=W.Layout(min_width="0", flex="1 1 200px"))
        self.gallery = Gallery(lambda: self.out_dir.value)

        wrap = dict(flex_flow="row wrap", align_items="flex-start", max_width="100%")
        line = dict(flex_flow="row wrap", align_items="center", max_width="100%")
        # One laptop screen (1280x720 with the file browser open) holds the canvas, the draft,
        # Paint/Stop and the status: they sit beside the canvas, and the schedule's fields are
        # folded under a title that says what the schedule costs.
        self.schedule_fold = W.Accordion([self.schedule_controls], selected_index=None,
                                         layout=W.Layout(width="auto", min_width="0", max_width="340px"))
        self.schedule_fold.add_class("ipainter-schedule-fold")
        self.schedule_controls.observe(self._retitle_schedule_fold, names=["config", "error"])
        self.schedule_controls.observe(self._on_schedule_error, names="error")
        self._retitle_schedule_fold()
        self.draft_box.layout.margin = "0"
        run_row = W.HBox([self.paint_button, self.stop_button], layout=W.Layout(**line))
        side = W.VBox([self.draft_box, run_row, self.progress, self.status, self.error],
                      layout=W.Layout(flex="0 0 auto", width=f"{SIDE_WIDTH_PX}px", margin="0 8px"))
        side.add_class("ipainter-side")
        controls = W.VBox([self.model_dropdown, self.samples_input, self.seed_input, self.schedule_fold],
                          layout=W.Layout(flex="1 1 240px", min_width="240px", max_width="340px"))
        self.children = [
            W.HBox([self.composer, side, controls], layout=W.Layout(**wrap)),
            W.HBox([self.preview, self.frequency], layout=W.Layout(**wrap)),
            W.HBox([self.out_dir, self.save_composition_button, self.composition_saved], layout=W.Layout(**line)),
            self.gallery,
        ]

        self._apply_saved_settings(comp)
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
    def runs(self) -> list[Run]:
        """Finished and stopped runs of this Painter, newest first (at most ``MAX_HISTORY``)."""
        return self.gallery.runs

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
        return self.schedule_controls.current()

    def set_schedule(self, config: ScheduleConfig) -> None:
        """Use ``config`` for the next paint (the controls show it).

        Args:
            config: the schedule.

        Raises:
            TypeError: ``config`` is not a ``ScheduleConfig``.
        """
        if not isinstance(config, ScheduleConfig):
            raise TypeError(f"expected a ScheduleConfig, got {type(config).__name__}")
        self.schedule_controls.show(config)

    def on_result(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each finished or stopped paint (on the worker thread).

        Args:
            callback: takes the run's ``PaintResult``.
            remove: unregister ``callback`` instead.
        """
        self._result_handlers.register_callback(callback, remove=remove)

    def on_draft(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each draft that was shown (on the worker thread).

        Args:
            callback: takes the draft's ``PaintResult``.
            remove: unregister ``callback`` instead.
        """
        self._draft_handlers.register_callback(callback, remove=remove)

    def save_run(self, index: int = 0, folder: str | Path | None = None, upscale: int | None = None) -> list[Path]:
        """Write every picture of run ``index`` (0 = newest, as in the gallery) as PNG,
        ``upscale`` times larger with nearest neighbour (default: the gallery's choice).

        Args:
            index: which run (0 = newest).
            folder: where to write (default: the "save to" field).
            upscale: enlargement factor (default: the gallery's choice).

        Returns:
            The absolute paths written.
        """
        return self.gallery.save(index, folder, upscale)

    def save_sample(self, k: int, folder: str | Path | None = None, upscale: int = 1) -> Path:
        """Write picture ``k`` of the latest run as a PNG (atomically).

        Args:
            k: which picture of the run.
            folder: where to write (default: the "save to" field).
            upscale: enlargement factor (nearest neighbour).

        Returns:
            The absolute path written.
        """
        return self.gallery.save_picture(0, k, folder, upscale)

    def save_composition(self, path: str | Path | None = None) -> Path:
        """Write the composition JSON with the paint settings and seed of the controls;
        return its absolute path (shown next to the button).

        Args:
            path: the JSON file (default: a new dated name in the "save to" folder).

        Returns:
            The absolute path written.
        """
        out = Path(path) if path is not None else unique_path(self.out_dir.value, "composition", ".json")
        out = out.expanduser().resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        self.composition.to_json(out, settings=self._current_settings(), seed=int(self.seed))
        self.composition_saved.value = message_html(f"saved {out}", "ok", small=True)
        return out

    def close(self) -> None:
        """Stop all work, end the edit pause's call and the worker thread, and close the widget."""
        self.stop()
        self._edit_pause.close()  # a pause call under way may still queue a draft: it ends first
        self.worker.close(join_timeout=10.0)
        if self._observed is not None:
            self._observed.unobserve(self._on_composition_changed)
            self._observed = None
        super().close()

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
        self._draft_wanted = True
        # a gesture sends edits many times a second: wait for it to pause; a click is one edit
        self._edit_pause.trigger(None if self.composer.in_gesture else CLICK_PAUSE_S)

    def _after_gesture(self) -> None:
        """A drag ended (mouse-up): its draft need not wait for the rest of the pause."""
        if self._edit_pause.waiting:  # a call already running has no pause left to shorten
            self._edit_pause.trigger(CLICK_PAUSE_S)

    def _after_edit_pause(self) -> None:
        """The edits paused (timer thread): queue a draft of the scene and its band-SNR plot."""
        model = self.model
        if model is None or self.worker.closed:
            return
        try:
            image, keep = self.composition.render()
        except Exception:  # e.g. an edit landing mid-render: the next pause renders again
            self._edit_pause.trigger()
            return
        if not self.busy:  # the planned mode follows the mask, and every mode's name says its cost for it
            self.schedule_controls.refresh(keep)
        if self.draft_enabled and self._draft_wanted:  # a schedule change alone leaves the draft as it is
            self._draft_wanted = False
            self._submit_draft(model, image, keep)
        if not self.busy:
            self.worker.submit(partial(self._draw_band_snr, model, image), "plot", replaces=("plot",))

    def draft_config(self, model: DiffusionModel | None = None, keep: torch.Tensor | None = None) -> ScheduleConfig:
        """The schedule of the next quick draft (``DraftPanel.config``: ``plan_schedule``'s draft plan
        for the mask, with as many model calls as fit in the draft's time budget on this machine);
        a pause of the edits then refines it to ``draft.refined_config``.

        Args:
            model: the model of the draft (default: the loaded one).
            keep: the keep mask (default: the composition's).

        Returns:
            The draft's ``ScheduleConfig``.
        """
        if keep is None:
            keep = self.composition.render()[1]
        return self.draft.config(model if model is not None else self.model, keep)

    def _submit_draft(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor) -> Job:
        # one torch thread fewer than the machine has: the kernel keeps a core for the canvas
        threads = max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1))
        draft = partial(self.draft.run_stages, model, image, keep, int(self.seed), shown=self._draft_handlers)
        # a queued band-SNR plot would make the draft wait: it is queued again after the draft
        return self.worker.submit(draft, "draft", replaces=("draft", "plot"), threads=threads)

    def _draw_band_snr(self, model: DiffusionModel, image: torch.Tensor, cancel: Any) -> None:
        """The band-SNR plot job (worker thread): the picture under the chosen schedule."""
        if cancel.is_set():
            return
        try:
            config = self.schedule_config
        except (IPainterError, ValueError, TypeError):
            return  # the schedule message already says what is wrong
        self.frequency.show_band_snr(image, config, model.alphas_cumprod(config.t_T))

    def _retitle_schedule_fold(self, _change: Mapping[str, Any] | None = None) -> None:
        """The folded schedule's title: its cost, or that its fields are wrong."""
        controls = self.schedule_controls
        if controls.error:
            title = "schedule: ⚠ invalid (open to fix)"
        else:
            config = ScheduleConfig.from_dict(controls.config)
            title = f"schedule: {config.nfe} model calls"
        self.schedule_fold.set_title(0, title)

    def _on_schedule_error(self, change: Mapping[str, Any]) -> None:
        """A refused Paint's "invalid schedule" line goes as soon as the fields make a schedule."""
        if not change["new"] and self._error_field == "schedule":
            self._set_error("")

    def _on_field_note(self, change: Mapping[str, Any]) -> None:
        """Say a field's reset or unusable text in the status line; the ready line once it is fixed."""
        if change["new"]:
            self._set_status(change["new"], "warning")
            self._field_noted = True
        elif self._field_noted and not self.busy:
            self._field_noted = False
            self._set_ready_status()

    # ================================================================= state reactions

    @observe("seed")
    def _seed_changed(self, _change: Mapping[str, Any]) -> None:
        self._draft_wanted = True  # the draft paints with Paint's seed
        self._edit_pause.trigger()

    @observe("draft_enabled")
    def _draft_toggled(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self._draft_wanted = True
            self._edit_pause.trigger()
        else:
            self.worker.cancel(["draft"])
            if hasattr(self, "draft"):
                self.draft.show_off()

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
    def _schedule_changed(self, _change: Mapping[str, Any]) -> None:
        self._edit_pause.trigger()  # the band-SNR plot marks the new window

    @observe("model_name")
    def _model_name_changed(self, change: Mapping[str, Any]) -> None:
        if self._syncing or not change["new"] or (self.model is not None and change["new"] == self.model.name):
            return
        if self.load_model(change["new"]) is None:  # keep the trait true to the model in use
            self._set_model_name()

    # ================================================================= settings

    def _current_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {"num_samples": int(self.num_samples)}
        if self.model is not None:
            settings["model"] = self.model.name
        if not self.schedule_controls.error:
            settings["schedule"] = dict(self.schedule)
        return settings

    def _apply_saved_settings(self, comp: Composition) -> None:
        saved = comp.settings or {}
        try:
            if isinstance(saved.get("schedule"), Mapping):
                self.set_schedule(ScheduleConfig.from_dict(saved["schedule"]))
            if isinstance(saved.get("num_samples"), int):
                self.num_samples = min(MAX_SAMPLES, max(1, saved["num_samples"]))
        except (IPainterError, ValueError, TypeError) as exc:
            self._set_error(f"the composition's saved settings were not applied: {first_line(exc)}")
        if comp.seed is not None and 0 <= comp.seed <= MAX_SEED:
            self.seed = int(comp.seed)

    # ================================================================= messages

    def _set_ready_status(self) -> None:
        if self.model is None:
            return
        n = len(self.composition)
        what = f"{n} cutout{'s' * (n != 1)} on the canvas" if n else "place cutouts on the canvas"
        last = f"; run #{self.runs[0].number} is in the gallery below" if self.runs else ""
        self._set_status(f"model {self.model.name!r} ready: {what}, then press Paint{last}")

    def _set_status(self, text: str, level: str = "info") -> None:
        self._status_text = text
        self.status.value = message_html(text, level)

    def _set_error(self, text: str, details: str | None = None, field: str = "") -> None:
        self._error_text, self._error_field = text, field if text else ""
        self.error.value = error_html(text, details)

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run a button's action; an exception goes to the error line, not the log."""
        try:
            self._set_error("")
            action()
        except Exception as exc:
            self._set_error(f"{type(exc).__name__}: {first_line(exc)}")
