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

The Painter is composed of components, each owning its state in traits and reporting through
traits or callbacks, none reading the Painter: ``models`` (``ModelPicker``: the model in use),
``composer`` (``Composer``: the composition), ``drafts`` (``DraftController``: when and what to
draft), ``runner`` (``RunController``: the paint jobs, ``busy``, ``result``), ``lines``
(``StatusLines``: the status and error lines), the schedule controls, preview, plots and
gallery. The Painter links their traits to its own and wires their events.

All model calls and plot renders run on ONE worker thread per Painter, one at a time;
``worker.py`` describes how that thread, the timers and the kernel's thread interact.
Drafts: after each change of the composition or the seed (once the edits pause), a quick
draft of the scene with Paint's seed and noise is shown beside the canvas, then refined to
Paint's own schedule with fewer repeats while the edits stay paused; a newer change or Stop cancels a draft
that is still running, and a Paint cancels drafts (an edit during a paint drafts after it).

Errors of a run (a NaN model, a bad schedule, a composition of the wrong size) appear in
the widget's error line, with the core's message; Paint is enabled again.

Google Colab draws third-party widgets (ipycanvas) only with its custom widget manager
on; ``Painter()`` turns it on by calling
``google.colab.output.enable_custom_widget_manager()`` when ``google.colab`` is importable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as W
import torch
from traitlets import Bool, Dict, Instance, Int, Unicode, directional_link, link, observe, validate

from ipainter_nb.core.arguments import check_whole
from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import DiffusionModel
from ipainter_nb.core.sampler import PaintResult
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.errors import IPainterError
from ipainter_nb.widgets.arguments import check_model_choice, check_painter_arguments, save_file
from ipainter_nb.widgets.colab import enable_colab_widgets
from ipainter_nb.widgets.composer import Composer
from ipainter_nb.widgets.draft import CLICK_PAUSE_S, DRAFT_JUMP_N_SAMPLE, DRAFT_T_T, EDIT_PAUSE_S, DraftController, DraftPanel
from ipainter_nb.widgets.gallery import MAX_HISTORY, Gallery, Run, unique_path
from ipainter_nb.widgets.messages import StatusLines, first_line, message_html
from ipainter_nb.widgets.models_menu import ModelPicker, available_models
from ipainter_nb.widgets.number_field import WholeNumberField
from ipainter_nb.widgets.painter_runs import (
    PREVIEW_FRAME_COST_S,
    PREVIEW_INTERVAL_S,
    PREVIEW_SHARE,
    PROGRESS_INTERVAL_S,
    RunController,
    live_views,
    run_buttons,
)
from ipainter_nb.widgets.schedule_controls import ScheduleControls
from ipainter_nb.widgets.worker import Worker

__all__ = ["Painter", "enable_colab_widgets", "available_models", "MAX_SAMPLES", "MAX_HISTORY", "DRAFT_T_T",
           "DRAFT_JUMP_N_SAMPLE", "PROGRESS_INTERVAL_S", "PREVIEW_SHARE", "PREVIEW_FRAME_COST_S", "PREVIEW_INTERVAL_S",
           "EDIT_PAUSE_S", "CLICK_PAUSE_S"]

MAX_SAMPLES = 8
MAX_SEED = 2**53 - 1  # what a browser's number holds exactly, and torch accepts
#: Width of the column beside the canvas: the draft, Paint/Stop, progress and the status line.
SIDE_WIDTH_PX = 200
# "auto" in a column stretches a field to the column's width, margins included (100% + 2 px margins overflowed it)
_FIELD_LAYOUT = {"width": "auto", "min_width": "0", "max_width": "320px"}


class Painter(W.VBox):
    """Compose, paint, watch, compare and save, in one widget.

    Args:
        model: a preset name (``"demo"``), a checkpoint path, or a loaded ``DiffusionModel``. A model that
            fails to load is reported in the widget (the Painter still opens; pick another in the dropdown).
        composition: the composition to edit (default: a new empty one at the model's
            size). Settings and seed saved in it (by "Save composition") are applied.
        cutouts: the Composer's palette: ``None``/``"demo"`` (shipped cutouts), a folder,
            or a mapping name -> path or PIL image.
        device: where models named in the dropdown are loaded.
        out_dir: default folder of the Save buttons.
        drafts: start with live drafts on (``draft_enabled``).
        edit_pause_s: how long the edits must pause before a draft and the band-SNR plot follow them.
        **kwargs: passed on to ``ipywidgets.VBox`` (e.g. ``layout``).

    Programmatic use (notebooks, tests): ``paint()``, ``wait()``, ``stop()``, ``result``, ``runs``, ``composition``,
    ``schedule_config``, ``set_schedule(config)``, ``load_model(name)``, ``save_run(i)``, ``save_sample(k)``, ``save_composition()``.
    """

    seed = Int(0, help=f"seed of the next paint, 0..{MAX_SEED} (picture k uses derive_seed(seed, k))")
    num_samples = Int(1, help=f"pictures per paint, 1..{MAX_SAMPLES}")
    schedule = Dict(help="the schedule of the next paint, as ScheduleConfig.to_dict()")
    result = Instance(PaintResult, allow_none=True, help="the latest finished or stopped run")
    busy = Bool(False, help="True while a paint is queued or running")
    draft_enabled = Bool(True, help="paint a quick draft after each change of the composition")
    model_name = Unicode("", help="name of the loaded model; assign a preset name or path to load another")

    @validate("seed", "num_samples")
    def _whole_in_range(self, proposal: Any) -> int:  # not Int(min=, max=): paint()'s UserInputError, and no bools
        name = proposal["trait"].name
        return check_whole(name, proposal["value"], *((0, MAX_SEED + 1) if name == "seed" else (1, MAX_SAMPLES + 1)))

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
        composition, out_dir, drafts, edit_pause_s = check_painter_arguments(  # before anything is built
            type(self), kwargs, model, composition, cutouts, device, out_dir, drafts, edit_pause_s)
        super().__init__(**kwargs)
        self.add_class("ipainter-painter")
        self.colab = enable_colab_widgets()
        self.worker = Worker()
        self._syncing = False  # True while the widget sets its own traits
        self._field_noted = False  # the status line shows a field's note

        # ---- messages first: loading the model may already have something to say
        self.lines = StatusLines()
        self.status, self.error = self.lines.status, self.lines.error

        # ---- model: the ModelPicker owns it
        self.models = ModelPicker(self.lines, device, dropdown_layout=_FIELD_LAYOUT)
        self.model_dropdown = self.models.dropdown
        self.models.observe(self._model_changed, names="model")
        if isinstance(model, (str, Path)):
            self.models.load(model, announce=False)
        elif model is not None:
            self.models.use(model)
        self.models.refresh_options()
        self.models.on_choice(self.load_model)

        # ---- composition: the Composer owns it
        size = self.model.image_size if self.model is not None else 64
        comp = composition if composition is not None else Composition(size)
        self.composer = Composer(comp, size=comp.size, cutouts="demo" if cutouts is None else cutouts)

        # ---- live draft: the DraftController owns it (when, what, where it is shown)
        self.draft = DraftPanel(enabled=drafts)
        self.draft_box, self.draft_image = self.draft, self.draft.image
        self.draft_caption, self.draft_toggle = self.draft.caption, self.draft.toggle
        self.drafts = DraftController(self.draft, self.worker, self.composer, edit_pause_s, enabled=drafts,
                                      model=self.model, seed=self.seed)
        link((self.drafts, "enabled"), (self, "draft_enabled"))
        directional_link((self, "seed"), (self.drafts, "seed"))
        directional_link((self.models, "model"), (self.drafts, "model"))
        self.drafts.on_edit(self._after_edit)
        self.drafts.on_pause(self._after_pause)

        # ---- sampling controls (continuous_update: the call count follows every keystroke)
        def field(description: str, lowest: int, highest: int) -> WholeNumberField:
            box = WholeNumberField(description, lowest, highest, value=lowest, layout=W.Layout(**_FIELD_LAYOUT),
                                   style={"description_width": "90px"})
            box.observe(self._on_field_note, names="note")  # a reset or an unusable text is said
            return box

        self.samples_input = field("samples", 1, MAX_SAMPLES)
        self.seed_input = field("seed", 0, MAX_SEED)
        link((self.samples_input, "number"), (self, "num_samples"))
        link((self.seed_input, "number"), (self, "seed"))
        default = self.model.default_schedule if self.model is not None else ScheduleConfig()
        self.schedule_controls = ScheduleControls(default, keep_mask=lambda: self.composition.render()[1],
                                                  field_layout=_FIELD_LAYOUT)
        self.schedule_controls.model = self.model
        link((self.schedule_controls, "config"), (self, "schedule"))

        # ---- run controls and live views, with budgets: a run must stay within a few percent of a bare paint()
        self.paint_button, self.stop_button, self.progress = run_buttons()
        self.paint_button.on_click(lambda _b: self.paint())
        self.stop_button.on_click(lambda _b: self.stop())
        self.preview, self.frequency = live_views(Path(out_dir) / "paint.gif")

        # ---- saving, and the runs to compare
        self.out_dir = W.Text(value=str(out_dir), description="save to",
                              layout=W.Layout(flex="1 1 240px", min_width="0", max_width="480px"))
        self.out_dir.observe(lambda c: setattr(self.preview.gif_path, "value", str(Path(c["new"]) / "paint.gif")),
                             names="value")  # the GIF goes where the pictures go
        self.save_composition_button = W.Button(description="Save composition", icon="save",
                                                layout=W.Layout(min_width="160px", width="auto"))
        self.save_composition_button.on_click(lambda _b: self._guarded(self.save_composition))
        self.composition_saved = W.HTML(layout=W.Layout(min_width="0", flex="1 1 200px"))
        self.gallery = Gallery(lambda: self.out_dir.value)

        # ---- runs: the RunController owns them (the jobs, busy, result)
        self.runner = RunController(self.worker, self.lines, self.schedule_controls, self.progress, self.preview,
                                  self.frequency, self.gallery)
        link((self.runner, "busy"), (self, "busy"))
        link((self.runner, "result"), (self, "result"))
        self._layout()
        self._apply_saved_settings(comp)
        if self.model is not None and self.lines.text == "":
            self._set_ready_status()
        self.drafts.start()  # the band-SNR plot (and a first draft) of the scene as opened

    def _layout(self) -> None:
        """Place the parts: the canvas with the run column and the controls, the live views, saving, the gallery."""
        wrap = dict(flex_flow="row wrap", align_items="flex-start", max_width="100%")
        line = dict(flex_flow="row wrap", align_items="center", max_width="100%")
        # One laptop screen (1280x720 with the file browser open) holds the canvas, the draft, Paint/Stop and the
        # status: they sit beside the canvas, and the schedule's fields fold under a title saying what it costs.
        self.schedule_fold = W.Accordion([self.schedule_controls], selected_index=None,
                                         layout=W.Layout(width="auto", min_width="0", max_width="340px"))
        self.schedule_fold.add_class("ipainter-schedule-fold")
        self.schedule_controls.observe(self._retitle_schedule_fold, names=["config", "error"])
        self.schedule_controls.observe(self._on_schedule_error, names="error")
        directional_link((self.schedule_controls, "config"), (self.drafts, "paint_schedule"))  # drafts walk Paint's
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
    def model(self) -> DiffusionModel | None:
        """The model in use (``models.model``), None when none could be loaded."""
        return self.models.model

    @property
    def last_error(self) -> BaseException | None:
        """The exception of the latest failed run (None after a success)."""
        return self.runner.last_error

    @property
    def edit_pause_s(self) -> float:
        """How long the edits must pause before a draft and the band-SNR plot follow them."""
        return self.drafts.pause_s

    @property
    def edits_pending(self) -> bool:
        """True while an edit waits for its pause (its draft is not queued yet)."""
        return self.drafts.pending

    @property
    def running(self) -> bool:
        """True while a paint is queued or running (the ``busy`` trait)."""
        return self.busy

    @property
    def status_message(self) -> str:
        """The status line as plain text."""
        return self.lines.text

    @property
    def error_message(self) -> str:
        """The error line as plain text ("" when there is no error)."""
        return self.lines.error_text

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
        self.runner.on_result(callback, remove)

    def on_draft(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each draft that was shown (on the worker thread).

        Args:
            callback: takes the draft's ``PaintResult``.
            remove: unregister ``callback`` instead.
        """
        self.drafts.on_draft(callback, remove)

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
        out = unique_path(self.out_dir.value, "composition", ".json") if path is None else save_file(path)
        self.composition.to_json(out, settings=self._current_settings(), seed=int(self.seed))
        self.composition_saved.value = message_html(f"saved {out}", "ok", small=True)
        return out

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

        Args:
            wait: block until the run ends and return its result.

        Returns:
            None at once, or with ``wait=True`` the run's ``PaintResult`` (None if it failed).
        """
        if self.runner.start(self.model, self.composition, int(self.num_samples), int(self.seed)) is None:
            return None
        return self.wait() if wait else None

    def wait(self, timeout: float | None = None) -> PaintResult | None:
        """Block until the current paint (if any) ends.

        Args:
            timeout: seconds to wait at most (None: no limit).

        Returns:
            The run's ``PaintResult`` (the latest ``result`` when none is running), or None
            when it failed or the timeout passed.
        """
        return self.runner.wait(timeout)

    def stop(self) -> None:
        """Cancel the paint and any draft: each ends within one model call; a stopped paint
        shows what it has, marked "stopped" in the gallery."""
        self.drafts.cancel()
        self.runner.stop()

    def load_model(self, name_or_path: str | Path | DiffusionModel) -> DiffusionModel | None:
        """Switch models (a preset name, a path or a loaded model); the schedule controls
        take its default schedule. On failure the one-line reason is shown, the previous
        model is kept, and None is returned.

        Args:
            name_or_path: a preset name, a checkpoint path or a loaded ``DiffusionModel``.

        Returns:
            The model now in use, or None when it could not be loaded.

        Raises:
            UserInputError: ``name_or_path`` is no name, path or paintable model (the model in use is kept).
        """
        check_model_choice(name_or_path, "name_or_path", none=False)
        if self.busy:
            self.lines.fail("stop the run before switching models")
            self.models.refresh_options()
            return None
        if isinstance(name_or_path, (str, Path)):
            if not self.models.load(name_or_path):
                self._set_ready_status()  # the "loading …" line is over
                return None
        else:
            self.models.use(name_or_path)
        self.set_schedule(self.model.default_schedule)
        self._set_ready_status()
        self.drafts.redraft()
        return self.model

    def draft_config(self, model: DiffusionModel | None = None, keep: torch.Tensor | None = None) -> ScheduleConfig:
        """The schedule of the next quick draft (``DraftPanel.config``: ``plan_schedule``'s draft plan
        for the mask, with as many model calls as fit in the draft's time budget on this machine);
        a pause of the edits then refines it to ``draft.refined_config``: Paint's schedule with the most
        repeats within the draft plan's calls, carrying Paint's noise.

        Args:
            model: the model of the draft (default: the loaded one).
            keep: the keep mask (default: the composition's).

        Returns:
            The draft's ``ScheduleConfig``.
        """
        if keep is None:
            keep = self.composition.render()[1]
        return self.drafts.config(model if model is not None else self.model, keep)

    def close(self) -> None:
        """Stop all work, end the edit pause's call and the worker thread, and close the widget."""
        if not hasattr(self, "runner"):  # a constructor that refused its arguments built nothing to stop
            return super().close()
        self.stop()
        self.drafts.close()  # a pause call under way may still queue a draft: it ends first
        self.worker.close(join_timeout=10.0)
        super().close()

    # ================================================================= wiring the components' events

    def _after_edit(self) -> None:
        """The composition changed (``drafts.on_edit``)."""
        if not self.busy:  # a status about the canvas as it was (e.g. "no layers") would be stale now
            self._set_ready_status()

    def _after_pause(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor) -> None:
        """The edits paused (``drafts.on_pause``, timer thread): the schedule and the band-SNR plot follow."""
        if not self.busy:  # the planned mode follows the mask, and every mode's name says its cost for it
            self.schedule_controls.refresh(keep)
            self.worker.submit(partial(self._draw_band_snr, model, image), "plot", replaces=("plot",))

    def _model_changed(self, change: Mapping[str, Any]) -> None:
        """The picker's model changed: plots of the old one are stale; the fields and ``model_name`` follow."""
        model = change["new"]
        self.worker.cancel(["plot"])
        self._show_model_name(model)
        if hasattr(self, "schedule_controls"):  # not yet built while the first model loads
            self.schedule_controls.model = model

    def _draw_band_snr(self, model: DiffusionModel, image: torch.Tensor, cancel: Any) -> None:
        """The band-SNR plot job (worker thread): the picture under the chosen schedule."""
        if cancel.is_set():
            return
        try:
            config = self.schedule_config
        except (IPainterError, ValueError, TypeError):
            return  # the schedule message already says what is wrong
        self.frequency.show_band_snr(image, config, model.schedule(config.t_T).alphas_cumprod)

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
        if not change["new"] and self.lines.error_field == "schedule":
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
        self.drafts.touch()  # the band-SNR plot marks the new window

    @observe("model_name")
    def _model_name_changed(self, change: Mapping[str, Any]) -> None:
        if self._syncing or not change["new"] or (self.model is not None and change["new"] == self.model.name):
            return
        if self.load_model(change["new"]) is None:  # keep the trait true to the model in use
            self._show_model_name(self.model)

    def _show_model_name(self, model: DiffusionModel | None) -> None:
        self._syncing = True
        try:
            self.model_name = model.name if model is not None else ""
        finally:
            self._syncing = False

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
        self.lines.say(text, level)

    def _set_error(self, text: str, details: str | None = None, field: str = "") -> None:
        self.lines.fail(text, details, field)

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run a button's action; an exception goes to the error line, not the log."""
        try:
            self._set_error("")
            action()
        except Exception as exc:
            self._set_error(f"{type(exc).__name__}: {first_line(exc)}")
