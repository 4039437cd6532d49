"""The Painter's and the Composer's components used on their own, without a Painter or a
Composer around them: each is built from what it is given, owns its state in traits and
reports through traits and callbacks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ipywidgets as W
import pytest
import torch
from PIL import Image

from ipainter_nb.core.composition import Composition, Layer
from ipainter_nb.core.models import load_model
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.widgets.composer import Composer
from ipainter_nb.widgets.composer_edits import LayerEditor
from ipainter_nb.widgets.draft import DraftController, DraftPanel
from ipainter_nb.widgets.gallery import Gallery
from ipainter_nb.widgets.messages import StatusLines
from ipainter_nb.widgets.models_menu import ModelPicker
from ipainter_nb.widgets.painter_runs import RunController, live_views, run_buttons
from ipainter_nb.widgets.palette import Palette
from ipainter_nb.widgets.schedule_controls import ScheduleControls
from ipainter_nb.widgets.worker import Worker

SHORT = ScheduleConfig(t_T=5, jump_length=1, jump_n_sample=1, stop_resampling_at=None)


@pytest.fixture(scope="module")
def model(plain_tiny_model_path):
    return load_model(plain_tiny_model_path, device="cpu")


@pytest.fixture
def worker():
    worker = Worker()
    yield worker
    worker.close(join_timeout=10.0)


def half_kept() -> Composition:
    """A red cutout over the left half of a 32x32 canvas: the model paints the right half."""
    comp = Composition(32)
    comp.add(Layer(Image.new("RGBA", (16, 32), (200, 40, 40, 255)), name="red"))
    return comp


# --------------------------------------------------------------------------- RunController


def make_runs(worker: Worker, tmp_path: Path, comp: Composition) -> tuple[RunController, StatusLines]:
    lines = StatusLines()
    controls = ScheduleControls(SHORT, keep_mask=lambda: comp.render()[1])
    _paint, _stop, progress = run_buttons()
    preview, frequency = live_views(tmp_path / "paint.gif")
    return RunController(worker, lines, controls, progress, preview, frequency, Gallery(lambda: tmp_path)), lines


def test_a_run_controller_paints_reports_its_status_and_announces_the_result(model, worker, tmp_path):
    comp = half_kept()
    runs, lines = make_runs(worker, tmp_path, comp)
    busy, statuses, results = [], [], []
    runs.observe(lambda change: busy.append(change["new"]), names="busy")
    lines.observe(lambda change: statuses.append(change["new"]), names="text")
    runs.on_result(results.append)

    job = runs.start(model, comp, num_samples=2, seed=3)
    assert job is not None and runs.busy  # returns at once, the run queued on the worker
    result = runs.wait(timeout=120)

    assert result is not None and runs.result is result and results == [result]
    assert busy == [True, False]
    assert statuses[0].endswith("painting 2 pictures: 5 steps, 5 model calls…")  # after a busy machine's note, if any
    assert "run #1 done: 2 pictures" in lines.text
    assert result.samples.shape == (2, 3, 32, 32) and runs.gallery.runs[0].result is result
    assert runs.progress.value == runs.progress.max and runs.progress.bar_style == "success"


def test_a_run_controller_refuses_what_cannot_start_in_its_error_line(model, worker, tmp_path):
    comp = half_kept()
    runs, lines = make_runs(worker, tmp_path, comp)
    assert runs.start(None, comp, 1, 0) is None
    assert lines.error_text == "no model is loaded: pick one in the model dropdown"
    assert runs.start(model, Composition(16), 1, 0) is None  # the tiny model paints 32x32
    assert "16" in lines.error_text and not runs.busy and runs.result is None


def test_stopping_a_run_controller_keeps_a_stopped_result(model, worker, tmp_path):
    comp = half_kept()
    runs, lines = make_runs(worker, tmp_path, comp)
    runs.schedule.show(ScheduleConfig(t_T=200, jump_length=1, jump_n_sample=1, stop_resampling_at=None))
    first_step = threading.Event()
    runs.preview.on_step = lambda step: first_step.set()  # the preview follows the first micro-batch
    runs.start(model, comp, 1, 0)
    assert first_step.wait(60)
    runs.stop()
    result = runs.wait(timeout=60)
    assert result is not None and result.stopped and not runs.busy
    assert "stopped after" in lines.text


# --------------------------------------------------------------------------- ModelPicker


def test_a_model_picker_owns_the_model_and_says_why_a_load_failed(model, tmp_path):
    lines = StatusLines()
    picker = ModelPicker(lines)
    names = []
    picker.observe(lambda change: names.append(change["new"]), names="model_name")
    picker.use(model)
    assert picker.model is model and names == ["tiny"]
    assert ("tiny (current)", "__current__") in picker.dropdown.options  # a path, not a preset

    assert not picker.load(tmp_path / "missing.safetensors")
    assert picker.model is model and "could not load model" in lines.error_text and "keeping 'tiny'" in lines.error_text


def test_a_model_picker_tells_its_owner_which_model_the_user_chose(model):
    picker = ModelPicker(StatusLines())
    picker.use(model)
    chosen = []
    picker.on_choice(chosen.append)
    picker.dropdown.options = [("tiny (current)", "__current__"), ("demo", "demo")]  # as if demo's weights were found
    picker.dropdown.value = "demo"
    assert chosen == ["demo"] and picker.model is model  # the owner decides whether to switch


# --------------------------------------------------------------------------- DraftController


def test_a_draft_controller_drafts_each_pause_of_a_composers_edits(model, worker):
    composer = Composer(half_kept(), cutouts={})
    drafts = DraftController(DraftPanel(), worker, composer, edit_pause_s=0.05, model=model, seed=4)
    shown, pauses, edits = [], [], []
    drafted = threading.Event()
    drafts.on_draft(lambda result: (shown.append(result), drafted.set()))
    drafts.on_pause(lambda m, image, keep: pauses.append(keep.shape))
    drafts.on_edit(lambda: edits.append(len(composer.composition)))
    try:
        drafts.start()  # the scene as it is
        assert drafted.wait(120)
        worker.wait_idle(120)
        assert pauses and pauses[0] == (1, 32, 32) and shown[-1].samples.shape == (1, 3, 32, 32)
        assert "seed 4 as Paint" in drafts.panel.caption.value

        drafted.clear()
        before = len(shown)
        composer.composition.move(composer.composition.layers[0], 2, 0)  # an edit: a new draft follows it
        assert edits == [1] and drafted.wait(120)
        assert len(shown) > before

        drafts.enabled = False  # the panel's toggle follows, and no draft is wanted any more
        assert not drafts.panel.toggle.value and "off" in drafts.panel.caption.value
    finally:
        drafts.close()


def test_a_draft_controller_does_nothing_before_it_starts(model, worker):
    composer = Composer(half_kept(), cutouts={})
    drafts = DraftController(DraftPanel(), worker, composer, edit_pause_s=0.01, model=model)
    try:
        drafts.seed = 9
        composer.composition.move(composer.composition.layers[0], 1, 0)
        time.sleep(0.1)
        assert not drafts.pending and worker.wait_idle(1) and drafts.panel.caption.value.startswith("<small>a quick")
    finally:
        drafts.close()


# --------------------------------------------------------------------------- LayerEditor


def test_a_layer_editor_edits_a_composition_with_undo_and_no_canvas():
    palette = Palette({"block": Image.new("RGBA", (8, 8), (0, 0, 255, 255))})
    editor = LayerEditor(Composition(32), palette)
    history = []
    editor.observe(lambda change: history.append((change["name"], change["new"])), names=["can_undo", "can_redo"])

    block = editor.add_cutout("block", x=4, y=4, scale=1.0)
    assert editor.selected is block and editor.composition.layers == [block]
    assert editor.nudge(2, 0) and editor.nudge(2, 0) and block.x == 8  # a run of nudges: one undo step
    assert editor.undo() and block.x == 4
    assert editor.undo() and len(editor.composition) == 0 and editor.selected is None
    assert not editor.undo()
    assert editor.redo() and editor.composition.layers == [block] and editor.selected is block
    assert ("can_undo", True) in history and ("can_redo", True) in history

    with pytest.raises(ValueError, match="not in the composition"):
        editor.selected = Layer(Image.new("RGBA", (4, 4), (9, 9, 9, 255)), name="stranger")
    editor.composition = Composition(32)  # another composition: selection and history are cleared
    assert editor.selected is None and not editor.can_undo and not editor.can_redo


def test_a_composers_traits_follow_its_editor():
    composer = Composer(size=64)
    sun = composer.add_cutout("sun")
    assert composer.selected is composer.editor.selected is sun
    composer.editor.select(None)
    assert composer.selected is None
    other = Composition(64)
    composer.editor.composition = other  # the composer's canvas and trait follow
    assert composer.composition is other and not composer.can_undo
    assert isinstance(composer.tools, W.Box) and composer.undo_button.disabled
    assert torch.equal(torch.as_tensor(composer.picture()[..., :3]), torch.full((64, 64, 3), 128, dtype=torch.uint8))
