"""The Painter app driven like a notebook user would, without a browser: tiny random models,
schedules of a few steps."""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W
import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb.core import schedules
from ipainter_nb.core.composition import Composition, Layer
from ipainter_nb.core.models import load_model
from ipainter_nb.core.sampler import paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule
from ipainter_nb.errors import UserInputError
from ipainter_nb.widgets import Painter, painter_runs
from ipainter_nb.widgets import app as app_module
from ipainter_nb.widgets import draft as draft_module

SHORT = ScheduleConfig(t_T=8, jump_length=2, jump_n_sample=2, stop_resampling_at=4)
PLAIN5 = ScheduleConfig(t_T=5, jump_length=1, jump_n_sample=1, stop_resampling_at=None)
PAUSE_S = 0.05  # the edit pause of the test Painters: drafts follow edits quickly


@pytest.fixture(scope="module")
def model(plain_tiny_model_path):
    return load_model(plain_tiny_model_path, device="cpu")


class Hooked:
    """The tiny model with ``hook(output, calls)`` applied to every output (a stand-in for a
    slow or broken network); it counts calls and the most calls ever running at once."""

    def __init__(self, model, hook=lambda out, calls: out, delay_s: float = 0.0):
        self._model, self._hook, self._delay = model, hook, delay_s
        self.calls, self.active, self.most_active = 0, 0, 0
        self._lock = threading.Lock()
        self.called = threading.Event()

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, x, t, schedule):
        with self._lock:
            self.calls += 1
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            calls = self.calls
        self.called.set()
        try:
            if self._delay:
                time.sleep(self._delay)
            return self._hook(self._model(x, t, schedule), calls)
        finally:
            with self._lock:
                self.active -= 1


def half_kept() -> Composition:
    """A red cutout over the left half of a 32x32 canvas: the model paints the right half."""
    comp = Composition(32)
    comp.add(Layer(Image.new("RGBA", (16, 32), (200, 40, 40, 255)), name="red"))
    return comp


def settle(painter: Painter, timeout: float = 300.0) -> None:
    """Wait until the edit pause has fired and the worker has nothing left to do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(painter.edit_pause_s + 0.02)
        if painter.worker.wait_idle(deadline - time.monotonic()) and not painter.edits_pending:
            return
    raise AssertionError("the Painter's worker did not settle")


def make_painter(model, tmp_path, composition=None, **kwargs) -> Painter:
    kwargs.setdefault("drafts", False)
    app = Painter(model, composition=composition if composition is not None else half_kept(), cutouts={},
                  out_dir=tmp_path / "out", edit_pause_s=PAUSE_S, **kwargs)
    settle(app)
    return app


@pytest.fixture
def painter(model, tmp_path):
    app = make_painter(model, tmp_path)
    yield app
    app.close()


# --------------------------------------------------------------------------- painting


def test_paint_keeps_the_known_pixels(painter):
    assert isinstance(painter, W.Widget)  # displays as a cell's last line
    painter.set_schedule(SHORT)
    painter.num_samples = 2
    assert painter.samples_input.value == "2"  # the control follows the trait
    result = painter.paint(wait=True)
    assert result is not None and not result.stopped and painter.result is result
    image, keep = painter.composition.render()
    assert result.samples.shape == (2, 3, 32, 32)
    kept = keep[0].bool()
    assert torch.allclose(result.samples[:, :, kept], image[:, kept].expand(2, -1, -1), atol=1e-6)
    assert result.nfe == SHORT.nfe
    # the widget shows the finished run: bar full, one gallery entry, replay enabled
    assert painter.progress.value == painter.progress.max == len(SHORT.times()) - 1
    assert len(painter.runs) == 1 and painter.runs[0].result is result
    assert [c.layout.display for c in painter.gallery.items.children[:2]] == ["flex", "none"]
    assert not painter.preview.slider.disabled
    assert "done" in painter.status_message
    assert not painter.busy and not painter.paint_button.disabled and painter.stop_button.disabled


def test_paint_returns_at_once_and_the_widget_shows_it_is_busy(model, tmp_path):
    slow = Hooked(model, delay_s=0.02)
    painter = make_painter(slow, tmp_path)
    painter.set_schedule(ScheduleConfig(t_T=20, jump_length=1, jump_n_sample=1, stop_resampling_at=None))
    heard = []
    painter.on_result(heard.append)
    tick = time.perf_counter()
    assert painter.paint() is None  # the default does not block the cell
    assert time.perf_counter() - tick < 0.5
    assert painter.busy and "ipainter-busy" in painter._dom_classes
    assert painter.paint_button.disabled and not painter.stop_button.disabled
    assert painter.paint() is None and "already in progress" in painter.error_message
    result = painter.wait(20)
    assert result is not None and heard == [result] and painter.result is result
    assert not painter.busy and "ipainter-busy" not in painter._dom_classes
    painter.close()


def test_stop_button_cancels_within_one_model_call(model, tmp_path):
    slow = Hooked(model, delay_s=0.05)
    painter = make_painter(slow, tmp_path)
    painter.set_schedule(ScheduleConfig(t_T=40, jump_length=1, jump_n_sample=1, stop_resampling_at=None))
    slow.called.clear()
    painter.paint()
    assert slow.called.wait(10) and painter.running
    painter.stop_button.click()
    calls_at_stop = slow.calls
    result = painter.wait(10)
    assert result is not None and result.stopped
    assert result.nfe <= calls_at_stop + 1 < 40
    assert "stopped" in painter.status_message
    assert not painter.paint_button.disabled and painter.stop_button.disabled
    painter.close()


def test_an_error_inside_the_run_is_shown_and_paint_works_again(model, painter):
    painter.load_model(Hooked(model, lambda out, calls: out * float("nan")))
    painter.set_schedule(PLAIN5)
    assert painter.paint(wait=True) is None
    assert "NonFiniteOutputError" in painter.error_message and "NaN" in painter.error_message
    assert "NaN" in painter.error.value  # visible in the widget, not only in a log
    assert not painter.paint_button.disabled and painter.progress.bar_style == "danger"
    assert painter.runs == []  # a failed run leaves nothing in the gallery
    painter.load_model(model)  # the widget stays usable: a good model paints again
    painter.set_schedule(PLAIN5)
    assert painter.paint(wait=True) is not None and painter.error_message == ""


def test_an_empty_canvas_warns_then_the_status_follows_the_edits(model, tmp_path):
    painter = make_painter(model, tmp_path, composition=Composition(32))
    painter.set_schedule(PLAIN5)
    result = painter.paint(wait=True)
    assert result is not None and torch.isfinite(result.samples).all()
    assert "no layers" in painter.status_message
    # an edit makes that message stale: the status follows the canvas
    painter.composition.add(Layer(Image.new("RGBA", (8, 8), (0, 0, 255, 255)), name="blue"))
    assert "no layers" not in painter.status_message and "1 cutout on the canvas" in painter.status_message
    assert "run #1" in painter.status_message  # and points at the finished run
    painter.composition.remove(0)
    assert "place cutouts" in painter.status_message
    painter.close()


def test_a_composition_of_the_wrong_size_shows_the_cores_message(model, tmp_path):
    painter = make_painter(model, tmp_path, composition=Composition(48))
    painter.set_schedule(PLAIN5)
    assert painter.paint(wait=True) is None
    assert "48x48" in painter.error_message and "32x32" in painter.error_message
    painter.close()


# --------------------------------------------------------------------------- state and controls


def test_state_lives_in_traits_linked_to_the_controls(painter):
    painter.seed_input.value = "11"
    assert painter.seed == 11
    painter.seed = 5
    assert painter.seed_input.value == "5"
    painter.set_schedule(SHORT)
    assert painter.schedule == SHORT.to_dict()
    assert (painter.schedule_controls.t_T.value, painter.schedule_controls.jump_length.value, painter.schedule_controls.jump_n_sample.value,
            painter.schedule_controls.stop_resampling_at.value) == (8, 2, 2, 4)
    assert painter.schedule_controls.mode.value == "truncated"
    painter.schedule_controls.t_T.value = 10  # a control writes the trait
    assert painter.schedule["t_T"] == 10 and painter.schedule_config.t_T == 10
    assert painter.model_name == "tiny"


def test_the_schedule_is_folded_under_a_title_that_says_its_cost(painter):
    assert painter.schedule_fold.selected_index is None  # folded: the canvas and Paint fit one screen
    painter.set_schedule(SHORT)
    assert painter.schedule_fold.titles[0] == f"schedule: {SHORT.nfe} model calls"
    painter.schedule_controls.jump_length.value = 10  # a jump cannot climb above t_T - 1
    assert "invalid" in painter.schedule_fold.titles[0]
    painter.schedule_controls.jump_length.value = 2
    assert painter.schedule_fold.titles[0] == f"schedule: {SHORT.nfe} model calls"


def test_invalid_schedule_controls_show_the_cores_message_not_an_exception(painter):
    fields = painter.schedule_controls
    fields.mode.value = "repaint"
    fields.t_T.value = 5
    fields.jump_length.value = 10  # a jump cannot climb above t_T - 1
    assert "jump_length=10 is invalid" in fields.info.value
    with pytest.raises(ValueError, match="jump_length"):
        painter.schedule_config
    painter.paint_button.click()
    assert not painter.running and "invalid schedule" in painter.error_message
    fields.jump_length.value = 2  # fixing the field clears the messages, the Painter's red line included
    assert "model calls" in fields.info.value
    assert painter.error_message == "" and painter.error.value == ""
    limit = painter.model.num_train_steps
    fields.t_T.value = limit + 1  # the model's rule, in the model's words
    assert "trained with" in fields.info.value and str(limit) in fields.info.value


def test_a_field_reset_is_said_in_the_status_line_and_cleared_when_fixed(painter):
    painter.samples_input.value = "99"  # above MAX_SAMPLES: the field shows the largest allowed
    assert painter.num_samples == app_module.MAX_SAMPLES and painter.samples_input.value == str(app_module.MAX_SAMPLES)
    assert painter.status_message == f"samples 99 is above the largest, {app_module.MAX_SAMPLES}: set to 8"
    painter.seed = 7
    painter.seed_input.value = ""  # emptied to type another: left as typed, the seed in use said
    assert painter.seed == 7 and painter.seed_input.value == ""
    assert painter.status_message.startswith("seed is empty: 7 is used")
    painter.seed_input.value = "-3"
    assert painter.seed == 0 and painter.seed_input.value == "0" and "below the smallest, 0" in painter.status_message
    painter.seed_input.value = "x"
    assert painter.seed == 0 and "'x' is not a whole number" in painter.status_message
    painter.seed_input.value = "12"  # a usable number again: the note goes
    assert painter.seed == 12 and "ready" in painter.status_message


def test_the_call_count_follows_every_keystroke(painter):
    fields = painter.schedule_controls
    assert all(c.continuous_update for c in (fields.t_T, fields.jump_length, fields.jump_n_sample,
                                             fields.stop_resampling_at, painter.seed_input, painter.samples_input))
    painter.set_schedule(SHORT)
    expected = schedules.count_nfe(schedules.repaint(8, 2, 2, stop_resampling_at=4))
    assert f"{expected} model calls" in painter.schedule_controls.info.value
    painter.schedule_controls.jump_n_sample.value = 3
    expected = schedules.count_nfe(schedules.repaint(8, 2, 3, stop_resampling_at=4))
    assert f"{expected} model calls" in painter.schedule_controls.info.value
    painter.schedule_controls.mode.value = "plain"
    assert "8 model calls" in painter.schedule_controls.info.value and painter.schedule_controls.jump_length.disabled
    # only the start field comes and goes with the mode; the others stay in place
    assert all(f.layout.display != "none" for f in fields.fields if f is not fields.start_resampling_at)
    assert fields.start_resampling_at.layout.display == "none"
    fields.mode.value = "window"
    assert all(f.layout.display != "none" for f in fields.fields)
    painter.schedule_controls.mode.value = "truncated"  # the jump count typed before comes back
    assert painter.schedule_controls.jump_n_sample.value == 3 and f"{expected} model calls" in painter.schedule_controls.info.value


def test_the_frequency_chosen_schedule_follows_the_mask(painter):
    fields = painter.schedule_controls
    fields.t_T.value = 50
    fields.mode.value = "frequency"
    _, keep = painter.composition.render()
    chosen = plan_schedule(painter.model, keep, t_T=50)
    assert painter.schedule_config == chosen and painter.schedule == chosen.to_dict()
    assert f"{chosen.nfe} model calls" in fields.info.value  # its cost shown like any other schedule's
    assert fields.stop_resampling_at.value == chosen.stop_resampling_at and fields.jump_length.disabled
    painter.composition.clear()  # another mask: a small cutout leaves a wider hole
    painter.composition.add(Layer(Image.new("RGBA", (4, 4), (0, 0, 255, 255)), name="dot"))
    settle(painter)
    _, keep = painter.composition.render()
    assert painter.schedule_config == plan_schedule(painter.model, keep, t_T=50) != chosen


def test_the_modes_say_what_they_cost_and_the_jump_field_what_it_counts(painter):
    fields = painter.schedule_controls
    fields.t_T.value = 50
    _, keep = painter.composition.render()
    plan = plan_schedule(painter.model, keep, t_T=50)
    names = {value: name for name, value in fields.mode.options}
    assert names["frequency"] == f"harmonised for this mask: {plan.nfe} calls"  # what it does, and its cost now
    assert names[fields.mode.value].endswith(f": {painter.schedule_config.nfe} calls")
    assert fields.jump_length.description == "jump (steps)"
    fields.mode.value = "frequency"
    assert plan.window_levels is not None and fields.jump_length.description == "jump (grid levels)"
    assert ">harmonised for this mask: t_T=50" in fields.info.value and ">window:" not in fields.info.value
    fields.mode.value = "plain"
    assert fields.jump_length.description == "jump (steps)"
    assert {value: name for name, value in fields.mode.options}["plain"] == "none (plain): 50 calls"


def test_a_shown_plan_keeps_its_window_grid_when_a_field_is_edited(painter):
    fields = painter.schedule_controls
    _, keep = painter.composition.render()
    plan = plan_schedule(painter.model, keep, t_T=50)
    assert plan.window_levels is not None
    painter.schedule = plan.to_dict()
    assert fields.mode.value == "window" and painter.schedule_config == plan
    fields.jump_n_sample.value = 3  # an edit in window mode: still walked on the plan's grid
    assert painter.schedule_config.window_levels == plan.window_levels and painter.schedule_config.jump_n_sample == 3
    assert "walked on" in fields.info.value
    fields.mode.value = "truncated"  # a truncated schedule has no window to put a grid on
    assert painter.schedule_config.window_levels is None


def test_eta_is_a_schedule_field_checked_by_the_core(painter):
    fields = painter.schedule_controls
    fields.mode.value = "truncated"
    fields.eta.value = 0.5
    assert painter.schedule_config.eta == 0.5 and painter.schedule["eta"] == 0.5
    fields.eta.value = 1.5  # nonsense: the core's message, naming the value and the range
    assert "eta=1.5" in fields.error and "0..1" in fields.error and "eta=1.5" in fields.info.value
    with pytest.raises(UserInputError, match="eta=1.5"):
        painter.schedule_config


def test_a_model_that_fails_to_load_keeps_the_previous_one(painter, model, tmp_path):
    assert painter.load_model(tmp_path / "missing.safetensors") is None
    assert painter.model is model and painter.model_name == "tiny"
    assert "could not load model" in painter.error_message and "keeping 'tiny'" in painter.error_message
    assert "\n" not in painter.error_message  # one line
    for wrong in (None, 3, b"demo", ["demo"]):  # not a model at all: refused by name, the model kept
        with pytest.raises(UserInputError, match="name_or_path must be a preset name"):
            painter.load_model(wrong)
        assert painter.model is model
    painter.model_name = str(tmp_path / "missing.safetensors")  # the trait loads too, and reverts on failure
    assert painter.model is model and painter.model_name == "tiny"
    # without any model the app still opens and says what to do
    empty = Painter(tmp_path / "missing.safetensors", cutouts={}, drafts=False)
    assert empty.model is None and "could not load model" in empty.error_message
    assert empty.paint() is None and "no model is loaded" in empty.error_message
    empty.close()


@pytest.mark.parametrize(("trait", "value", "message"), [
    ("seed", -1, r"seed=-1 is out of range: it must be in 0\.\.9007199254740991"),  # it failed only at Paint, in the status
    ("seed", True, "seed must be a whole number, got bool"), ("num_samples", 0, r"num_samples=0 is out of range"),
    ("num_samples", True, "num_samples must be a whole number, got bool"),
])
def test_a_seed_or_sample_count_set_from_code_is_checked_at_once(painter, trait, value, message):
    before = getattr(painter, trait)
    with pytest.raises(UserInputError, match=message):
        setattr(painter, trait, value)
    assert getattr(painter, trait) == before


def test_css_classes_for_the_browser_tests(painter):
    def classes(widget):
        found = set(widget._dom_classes)
        for child in getattr(widget, "children", ()):
            found |= classes(child)
        return found

    assert {"ipainter-painter", "ipainter-paint", "ipainter-stop", "ipainter-draft", "ipainter-draft-toggle",
            "ipainter-gallery", "ipainter-gallery-item", "ipainter-status", "ipainter-save",
            "ipainter-nfe"} <= classes(painter)


# --------------------------------------------------------------------------- runs to compare


def test_the_gallery_keeps_runs_and_marks_a_stopped_one(model, tmp_path):
    slow = Hooked(model, delay_s=0.03)
    painter = make_painter(slow, tmp_path)
    painter.set_schedule(PLAIN5)
    first = painter.paint(wait=True)
    painter.seed = 3
    second = painter.paint(wait=True)
    painter.set_schedule(ScheduleConfig(t_T=40, jump_length=1, jump_n_sample=1, stop_resampling_at=None))
    slow.called.clear()
    painter.paint()
    assert slow.called.wait(10)
    painter.stop()
    stopped = painter.wait(10)
    assert stopped.stopped
    assert [run.result for run in painter.runs] == [stopped, second, first]  # newest first, none hidden
    items = [c for c in painter.gallery.items.children if c.layout.display != "none"]
    assert len(items) == 3
    assert "ipainter-stopped" in items[0]._dom_classes and "stopped" in items[0].children[1].value
    assert not any("ipainter-stopped" in item._dom_classes for item in items[1:])
    # one short line under the picture (the call count said once), the details on hover
    shown = items[1].children[1].value
    assert painter.runs[1].summary() == f"#2 · seed 3 · 5 model calls · {second.elapsed_s:.1f} s"
    assert f">{painter.runs[1].summary()}<" in shown and len(painter.runs[1].summary()) <= 48
    assert f"title='{html.escape(painter.runs[1].caption(), quote=True)}'" in shown
    assert PLAIN5.describe() in painter.runs[1].caption()
    # a stopped run says how far it got
    assert f"stopped after {stopped.nfe} model calls" in painter.runs[0].summary()
    assert painter.runs[0].summary() in items[0].children[1].value
    painter.close()


def test_a_run_on_a_busy_cpu_takes_the_free_cores_and_says_so(model, tmp_path, monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert painter_runs.cpu_share(cores=2, load=0.2) == (2, "")  # idle: every thread torch has
        assert painter_runs.cpu_share(cores=16, load=3.0) == (2, "")  # cores to spare
        threads, note = painter_runs.cpu_share(cores=2, load=2.3)  # another run holds both cores
        assert threads == 1 and note.startswith("the machine is busy (other work keeps 2.3 of 2 cores busy): "
                                                "this run takes 1 thread")
        assert painter_runs.other_cpu_load(0.05) >= 0.0  # measured, this process left out
        seen = []
        hooked = Hooked(model, hook=lambda out, calls: (seen.append(torch.get_num_threads()), out)[1])
        painter = make_painter(hooked, tmp_path)
        monkeypatch.setattr(painter_runs, "cpu_share", lambda: (1, note))
        painter.set_schedule(PLAIN5)
        painter.paint()
        assert note in painter.status_message  # said while it paints
        assert painter.wait(60) is not None and set(seen) == {1}  # its calls kept to one thread
        assert torch.get_num_threads() == 2  # put back after the run
        painter.close()
    finally:
        torch.set_num_threads(before)


def test_the_gallery_is_bounded(painter, monkeypatch):
    painter.set_schedule(ScheduleConfig(t_T=1, jump_length=1, jump_n_sample=1, stop_resampling_at=None))
    for seed in range(app_module.MAX_HISTORY + 2):
        painter.seed = seed
        assert painter.paint(wait=True) is not None
    assert len(painter.runs) == app_module.MAX_HISTORY
    assert [run.seed for run in painter.runs[:2]] == [app_module.MAX_HISTORY + 1, app_module.MAX_HISTORY]
    shown = [c for c in painter.gallery.items.children if c.layout.display != "none"]
    assert len(shown) == app_module.MAX_HISTORY


def test_save_shows_the_full_path_beside_the_button(painter, tmp_path):
    painter.set_schedule(PLAIN5)
    painter.seed = 7
    painter.num_samples = 2
    result = painter.paint(wait=True)
    item = painter.gallery.items.children[0]
    save_button = item.children[2].children[0]
    save_button.click()
    out = (tmp_path / "out").resolve()
    pngs = sorted(out.glob("run1_seed7_*.png"))
    assert len(pngs) == 2
    assert str(pngs[0]) in item.children[2].children[1].value  # the absolute path, where the user clicked
    saved = np.asarray(Image.open(pngs[0]))
    expected = ((result.samples[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(saved, expected)
    painter.gallery.save_size.value = 4  # nearest-neighbour upscale: each pixel becomes a 4x4 block
    (big,) = painter.save_run(0, upscale=None)[:1]
    assert big.is_absolute() and "_x4" in big.name
    np.testing.assert_array_equal(np.asarray(Image.open(big))[::4, ::4], expected)
    painter.preview.save_gif_button.click()
    assert (tmp_path / "out" / "paint.gif").is_file()  # the replay goes where the pictures go


def test_a_saved_composition_reopens_with_its_settings(painter, tmp_path):
    painter.set_schedule(PLAIN5)
    painter.seed = 7
    painter.save_composition_button.click()
    (json_path,) = (tmp_path / "out").glob("composition_*.json")
    assert str(json_path.resolve()) in painter.composition_saved.value
    again = Composition.from_json(json_path)
    assert again.seed == 7 and len(again) == 1
    assert ScheduleConfig.from_dict(again.settings["schedule"]) == PLAIN5
    reopened = Painter(painter.model, composition=again, cutouts={}, out_dir=tmp_path, drafts=False)
    assert reopened.schedule_config == PLAIN5 and reopened.seed == 7
    reopened.close()


@pytest.mark.parametrize("save, message", [
    (lambda p: p.save_run("0"), "index must be a whole number, got str '0'"),  # a TypeError from a comparison
    (lambda p: p.save_run(True), "index must be a whole number, got bool True"),  # taken as run 1
    (lambda p: p.save_sample(1.5), "k must be a whole number, got float 1.5"),
    (lambda p: p.save_sample(0, upscale=2.5), "upscale must be a whole number, got float 2.5"),  # saved at x2
    (lambda p: p.save_sample(0, upscale="4"), "upscale must be a whole number, got str '4'"),  # saved at x4
    (lambda p: p.save_sample(0, upscale=0), "upscale=0 is out of range: it must be in 1..128"),  # a ValueError
    (lambda p: p.save_sample(0, upscale=10**6), "upscale=1000000 is out of range: it must be in 1..128"),  # a MemoryError
    (lambda p: p.save_sample(0, folder=1), "folder must be a folder path"),  # a TypeError
    (lambda p: p.save_sample(0, folder=""), "folder must be a folder path"),  # wrote into the current folder
    (lambda p: p.save_composition(1), "path must be a file path"),  # a TypeError
])
def test_a_save_with_a_bad_argument_is_one_error_naming_it_and_writes_nothing(painter, tmp_path, save, message):
    painter.set_schedule(PLAIN5)
    painter.paint(wait=True)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(UserInputError, match=message):
        save(painter)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_save_never_writes_through_a_link_that_leads_nowhere_nor_into_the_file_a_link_names(painter, tmp_path):
    painter.set_schedule(PLAIN5)
    painter.paint(wait=True)
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "cutout.png").write_bytes(b"the user's own file")
    (tmp_path / "to-cutout.json").symlink_to(tmp_path / "cutout.png")
    (tmp_path / "notes.txt").write_text("not a folder")
    for folder, said in (("gone", "gone is a symbolic link to .*missing, which does not exist"),  # it made missing/
                         ("loop", "loop is a symbolic link that leads back to itself"),  # a RuntimeError
                         ("notes.txt/sub", "notes.txt is a file, so .*sub cannot be created under it")):  # NotADirectoryError
        with pytest.raises(UserInputError, match=f"folder.*{said}"):
            painter.save_sample(0, folder=tmp_path / folder)
        with pytest.raises(UserInputError, match=said):
            painter.save_composition(tmp_path / folder / "c.json" if folder != "loop" else tmp_path / folder)
    assert not (tmp_path / "missing").exists()
    # a link to a file is the name written, as the command line writes it: the file it named stays
    saved = painter.save_composition(tmp_path / "to-cutout.json")
    assert saved == tmp_path / "to-cutout.json" and not saved.is_symlink()  # it replaced the user's file through the link
    assert (tmp_path / "cutout.png").read_bytes() == b"the user's own file"
    assert Composition.from_json(saved).seed == painter.seed


# --------------------------------------------------------------------------- drafts and edits


def nudge(painter: Painter, dx: int = 1) -> None:
    layer = painter.composition.layers[0]
    painter.composition.move(layer, dx, 0)


def plan_drafts(painter: Painter, drafts: list) -> list:
    """The last drafts of the current composition's pauses (one per pause): Paint's schedule, as set in
    the Painter, walked within the draft plan's calls."""
    full = painter.draft.refined_config(painter.model, painter.composition.render()[1], painter.drafts.paint_config)
    return [d for d in drafts if d.nfe == full.nfe]


def test_edits_that_pause_make_a_quick_draft_then_the_last_draft(model, tmp_path):
    counted = Hooked(model)
    painter = make_painter(counted, tmp_path, drafts=True)
    painter.draft.budget_s = 0.0  # a slow machine: the quick draft gets the fewest steps
    drafts = []
    painter.on_draft(drafts.append)
    counted.calls = 0
    for _ in range(3):  # quick edits: one pause, drafted in two stages
        nudge(painter)
    settle(painter)
    keep = painter.composition.render()[1]
    # Paint's walk (the tiny model's 5 plain steps) fits in the draft plan's calls: the last draft walks it
    full = painter.draft.refined_config(model, keep)
    assert full == model.default_schedule and full.nfe <= plan_schedule(model, keep, target="draft").nfe
    quick, last = drafts
    assert quick.nfe == draft_module.draft_schedule(model, 1, keep).nfe < full.nfe == last.nfe
    assert counted.calls == quick.nfe + last.nfe
    assert "Paint schedule" in painter.draft_caption.value and "seed 0 as Paint" in painter.draft_caption.value
    assert painter.draft_image.value  # shown beside the canvas
    painter.close()


def test_the_last_draft_is_the_picture_paint_makes_when_paints_walk_fits(model, tmp_path):
    """Same seed, Paint's noise: when Paint's walk fits in the draft's calls, Paint paints the last draft's picture."""
    painter = make_painter(model, tmp_path, drafts=True)
    drafts = []
    painter.on_draft(drafts.append)
    painter.seed = 3  # a new seed is drafted again
    settle(painter)
    keep = painter.composition.render()[1]
    assert drafts and drafts[-1].nfe == painter.draft.refined_config(model, keep).nfe == model.default_schedule.nfe
    result = painter.paint(wait=True)
    assert torch.equal(result.samples[0], drafts[-1].samples[0])
    painter.close()


def test_the_last_draft_walks_the_schedule_set_in_the_painter(model, tmp_path):
    """The user's schedule, not the model's default, is the one drafts follow: Paint then paints the draft."""
    painter = make_painter(model, tmp_path, drafts=True)
    drafts = []
    painter.on_draft(drafts.append)
    mine = ScheduleConfig(t_T=8, jump_length=1, jump_n_sample=1, stop_resampling_at=None)
    painter.set_schedule(mine)
    painter.seed = 5  # a new seed is drafted again, after the schedule is set
    settle(painter)
    assert drafts and drafts[-1].nfe == mine.nfe != model.default_schedule.nfe
    result = painter.paint(wait=True)
    assert torch.equal(result.samples[0], drafts[-1].samples[0])
    painter.close()


def test_a_draft_carries_the_noise_of_the_schedule_paint_runs(model, tmp_path):
    """A draft's schedule painted with Paint's noise carried (``noise_like``) is the draft's picture."""
    painter = make_painter(model, tmp_path, drafts=True)
    painter.draft.budget_s = 0.0  # the quick draft: fewer steps than Paint's
    drafts = []
    painter.on_draft(drafts.append)
    painter.seed = 4
    settle(painter)
    image, keep = painter.composition.render()
    quick = draft_module.draft_schedule(model, 1, keep)
    assert drafts[0].nfe == quick.nfe < model.default_schedule.nfe
    again = paint(model, image, keep, times=quick, seed=4, noise_like=model.default_schedule, progress=False)
    assert torch.equal(again.samples[0], drafts[0].samples[0])
    painter.close()


def test_a_newer_edit_cancels_the_stale_draft(model, tmp_path):
    slow = Hooked(model, delay_s=0.03)
    painter = make_painter(slow, tmp_path, drafts=True)
    drafts = []
    painter.on_draft(drafts.append)
    slow.calls = 0
    slow.called.clear()
    nudge(painter)
    assert slow.called.wait(10)  # the first draft is running
    nudge(painter)
    settle(painter)
    assert len(drafts) <= 2 and len(plan_drafts(painter, drafts)) == 1  # only the fresh edit's drafts were shown
    # the stale one stopped within its quick stage
    assert slow.calls - sum(d.nfe for d in drafts) < draft_module.DRAFT_MAX_CALLS
    painter.close()


def test_stop_leaves_no_draft_running(model, tmp_path):
    slow = Hooked(model, delay_s=0.03)
    painter = make_painter(slow, tmp_path, drafts=True)
    drafts = []
    painter.on_draft(drafts.append)
    slow.called.clear()
    nudge(painter)
    assert slow.called.wait(10)
    painter.stop()
    assert painter.worker.wait_idle(2)  # within a model call or two
    calls = slow.calls
    time.sleep(3 * PAUSE_S)
    assert drafts == [] and slow.calls == calls and not painter.worker.busy
    painter.close()


def test_with_drafts_off_an_edit_paints_nothing(model, tmp_path):
    counted = Hooked(model)
    painter = make_painter(counted, tmp_path, drafts=True)
    painter.draft_toggle.value = False
    assert painter.draft_enabled is False
    counted.calls = 0
    nudge(painter)
    settle(painter)
    assert counted.calls == 0 and "off" in painter.draft_caption.value
    painter.close()


def test_stop_while_the_paint_waits_for_a_draft_leaves_the_painter_ready(model, tmp_path):
    slow = Hooked(model, delay_s=0.2)  # a draft's model call takes a while to end
    painter = make_painter(slow, tmp_path, drafts=True)
    slow.called.clear()
    nudge(painter)
    assert slow.called.wait(10)  # a draft is inside a model call
    painter.paint()  # queued: it starts once that call ends
    painter.stop()
    assert not painter.busy and not painter.paint_button.disabled and "nothing was painted" in painter.status_message
    assert painter.wait(10) is None and painter.worker.wait_idle(10) and painter.runs == []
    painter.close()


def test_a_paint_and_a_draft_never_run_at_once(model, tmp_path):
    slow = Hooked(model, delay_s=0.01)
    painter = make_painter(slow, tmp_path, drafts=True)
    drafts = []
    painter.on_draft(drafts.append)
    painter.set_schedule(ScheduleConfig(t_T=30, jump_length=1, jump_n_sample=1, stop_resampling_at=None))
    slow.called.clear()
    nudge(painter)
    assert slow.called.wait(10)  # a draft is running
    painter.paint()  # cancels it
    nudge(painter)  # an edit during the paint: its draft waits for the paint
    result = painter.wait(300)  # a bound against a hang only: a loaded machine paints slowly
    settle(painter)
    assert result is not None and not result.stopped
    assert slow.most_active == 1
    assert len(plan_drafts(painter, drafts)) == 1  # the draft queued behind the paint ran after it
    painter.close()


def test_a_replaced_composition_is_followed(model, tmp_path):
    counted = Hooked(model)
    painter = make_painter(counted, tmp_path, drafts=True)
    drafts = []
    painter.on_draft(drafts.append)
    other = half_kept()
    painter.composition = other
    settle(painter)
    assert painter.composer.composition is other and len(plan_drafts(painter, drafts)) == 1
    shown = len(drafts)
    nudge(painter)  # edits of the new composition are heard: a new pause, drafted up to its plan
    settle(painter)
    assert len(drafts) > shown and plan_drafts(painter, drafts[shown:]) == [drafts[-1]]
    painter.close()


def test_the_band_snr_plot_follows_the_composition_once_editing_pauses(model, tmp_path):
    comp = Composition(32)
    painter = make_painter(model, tmp_path, composition=comp)
    flat = bytes(painter.frequency.snr_image.value)  # empty canvas: the "flat picture" placeholder
    comp.add(Layer(Image.new("RGBA", (16, 32), (200, 40, 40, 255)), name="red"))
    assert bytes(painter.frequency.snr_image.value) == flat  # nothing redrawn mid-edit
    settle(painter)
    assert bytes(painter.frequency.snr_image.value) != flat
    painter.close()


def test_pictures_beyond_one_micro_batch_follow_in_the_progress_and_the_gallery(painter, monkeypatch):
    monkeypatch.setattr(painter_runs, "auto_batch_size", lambda model: 2)  # as a big model on a small device
    painter.set_schedule(PLAIN5)
    painter.num_samples = 3
    result = painter.paint(wait=True)
    assert result.samples.shape[0] == 3 and not result.stopped
    assert painter.progress.value == painter.progress.max == 2 * 5  # two batches of five steps
    assert len(painter.preview.grid.children) == 2  # the preview watches the first batch


def test_a_schedule_change_redraws_the_band_snr_plot_but_paints_no_draft(model, tmp_path):
    counted = Hooked(model)
    painter = make_painter(counted, tmp_path, drafts=True)
    before = bytes(painter.frequency.snr_image.value)
    counted.calls = 0
    painter.set_schedule(SHORT)
    settle(painter)
    assert counted.calls == 0  # the draft's schedule does not depend on the paint's
    assert bytes(painter.frequency.snr_image.value) != before  # the plot marks the new window
    painter.close()


def test_plots_are_drawn_on_the_worker_between_model_calls(painter, monkeypatch):
    from ipainter_nb.widgets import plots

    drawn_on = []
    render = plots.figure_to_png

    def spy(fig, dpi=80):
        drawn_on.append(threading.current_thread().name)
        return render(fig, dpi)

    monkeypatch.setattr(plots, "figure_to_png", spy)
    painter.set_schedule(SHORT)
    assert painter.paint(wait=True) is not None
    # the spectra and the band SNR: never on a thread of their own, beside a model call
    assert drawn_on and set(drawn_on) == {painter.worker.name}


# --------------------------------------------------------------------------- the worker


def test_the_worker_runs_one_job_at_a_time_and_a_newer_draft_replaces_older_ones():
    from ipainter_nb.widgets.worker import Worker

    worker = Worker()
    running, most, lock = [0], [0], threading.Lock()

    def job(cancel, steps=20):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            for _ in range(steps):
                if cancel.is_set():
                    return "stopped"
                time.sleep(0.005)
            return "done"
        finally:
            with lock:
                running[0] -= 1

    first = worker.submit(job, "draft")
    assert first.started.wait(5)
    queued = worker.submit(job, "draft", replaces=["draft"])  # cancels the first, queues itself
    paint = worker.submit(job, "paint", replaces=["draft"])  # drops the queued draft before it starts
    assert paint.wait(10) and worker.wait_idle(10)
    assert first.result == "stopped" and queued.dropped and queued.result is None and paint.result == "done"
    assert most[0] == 1
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(job, "draft")


def test_a_job_keeps_its_error_and_its_thread_count_is_put_back():
    from ipainter_nb.widgets.worker import Worker

    worker = Worker()
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    seen = worker.submit(lambda cancel: torch.get_num_threads(), "draft", threads=wanted)
    failed = worker.submit(lambda cancel: 1 / 0, "plot")
    after = worker.submit(lambda cancel: torch.get_num_threads(), "plot")
    assert after.wait(10)
    assert seen.result == wanted and isinstance(failed.error, ZeroDivisionError) and after.result == before
    worker.close()


def test_an_edit_pause_counts_as_pending_until_its_call_has_queued_its_work():
    # settle() and edits_pending rely on it: while the pause's call renders and plans, nothing is queued yet
    from ipainter_nb.widgets.worker import Debouncer

    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def call() -> None:
        started.set()
        release.wait(10)
        done.set()

    pause = Debouncer(0.01, call)
    pause.trigger()
    assert pause.pending and started.wait(10)
    assert pause.pending  # the call runs: its draft is not queued yet
    release.set()
    assert done.wait(10)
    deadline = time.monotonic() + 10
    while pause.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pause.pending


def test_the_exact_model_paints_in_the_painter_and_its_frequency_panel_follows(tmp_path):
    from ipainter_nb.core.exact import ExactDiffusionModel

    app = make_painter(ExactDiffusionModel.create(size=32), tmp_path)
    try:
        app.set_schedule(SHORT)
        result = app.paint(wait=True)  # the panel asked the model for alphas_cumprod, which only DiffusionModel has
        assert result is not None and not result.stopped, app.status_message
        assert result.samples.shape == (1, 3, 32, 32) and app.runner.last_error is None
    finally:
        app.close()
