"""The Painter app driven like a notebook user would, without a browser: tiny random models,
schedules of a few steps."""

from __future__ import annotations

import asyncio
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
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.widgets import Painter

SHORT = ScheduleConfig(kind="truncated", t_T=8, jump_length=2, jump_n_sample=2, stop_resampling_at=4)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(plain_tiny_model_path):
    return load_model(plain_tiny_model_path, device="cpu")


class Hooked:
    """The tiny model with ``hook(output, calls)`` applied to every output (a stand-in for a
    slow or broken network); everything else is the real model's."""

    def __init__(self, model, hook):
        self._model, self._hook, self.calls = model, hook, 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, x, t, schedule):
        self.calls += 1
        return self._hook(self._model(x, t, schedule), self.calls)


def half_kept() -> Composition:
    """A red cutout over the left half of a 32x32 canvas: the model paints the right half."""
    comp = Composition(32)
    comp.add(Layer(Image.new("RGBA", (16, 32), (200, 40, 40, 255)), name="red"))
    return comp


@pytest.fixture
def painter(model, tmp_path):
    app = Painter(model, composition=half_kept(), cutouts={}, out_dir=tmp_path / "out")
    yield app
    app.stop()
    app.wait(10)


def test_paint_keeps_the_known_pixels(painter):
    assert isinstance(painter, W.Widget)  # displays as a cell's last line
    painter.set_schedule(SHORT)
    painter.samples.value = 2
    result = painter.paint(wait=True)
    assert result is not None and not result.cancelled and painter.result is result
    image, keep = painter.composition.render()
    assert result.samples.shape == (2, 3, 32, 32)
    kept = keep[0].bool()
    assert torch.allclose(result.samples[:, :, kept], image[:, kept].expand(2, -1, -1), atol=1e-6)
    assert result.nfe == SHORT.nfe
    # the widget shows the finished run: bar full, two gallery cells, replay enabled
    assert painter.progress.value == painter.progress.max == len(SHORT.times()) - 1
    assert [c.layout.display for c in painter.gallery.children[:3]] == ["flex", "flex", "none"]
    assert not painter.preview.slider.disabled
    assert "done" in painter.status_message
    assert not painter.paint_button.disabled and painter.stop_button.disabled


def test_stop_button_cancels_within_one_model_call(model, tmp_path):
    started = threading.Event()

    def slow(out, calls):
        if calls == 3:
            started.set()
        time.sleep(0.05)
        return out

    slow_model = Hooked(model, slow)
    painter = Painter(slow_model, composition=half_kept(), cutouts={}, out_dir=tmp_path)
    painter.set_schedule(ScheduleConfig(kind="plain", t_T=40))
    assert painter.paint(wait=False) is None  # returns at once; the run goes on in a thread
    assert started.wait(10) and painter.running and painter.paint_button.disabled
    painter.stop_button.click()
    calls_at_stop = slow_model.calls
    result = painter.wait(10)
    assert result is not None and result.cancelled
    assert result.nfe <= calls_at_stop + 1 < 40
    assert "stopped" in painter.status_message
    assert not painter.paint_button.disabled and painter.stop_button.disabled


def test_an_error_inside_the_run_is_shown_and_paint_works_again(model, painter):
    painter.load_model(Hooked(model, lambda out, calls: out * float("nan")))
    painter.set_schedule(ScheduleConfig(kind="plain", t_T=5))
    assert painter.paint(wait=True) is None
    assert "NonFiniteOutputError" in painter.error_message and "NaN" in painter.error_message
    assert "NaN" in painter.error.value  # visible in the widget, not only in a log
    assert not painter.paint_button.disabled and painter.progress.bar_style == "danger"
    painter.load_model(model)  # the widget stays usable: a good model paints again
    painter.set_schedule(ScheduleConfig(kind="plain", t_T=5))
    assert painter.paint(wait=True) is not None and painter.error_message == ""


def test_invalid_schedule_controls_show_a_message_not_an_exception(painter):
    painter.kind.value = "repaint"
    painter.t_T.value = 5
    painter.jump_length.value = 10  # a jump cannot climb above t_T - 1
    assert "jump_length=10 is invalid" in painter.schedule_info.value
    with pytest.raises(ValueError, match="jump_length"):
        painter.schedule_config
    painter.paint_button.click()
    assert not painter.running and "invalid schedule" in painter.error_message
    painter.jump_length.value = 2  # fixing the field clears the message
    assert "model calls" in painter.schedule_info.value


def test_nfe_label_follows_the_controls(painter):
    painter.set_schedule(SHORT)
    expected = schedules.count_nfe(schedules.repaint(8, 2, 2, stop_resampling_at=4))
    assert f"; {expected} model calls" in painter.schedule_info.value
    painter.jump_n_sample.value = 3
    expected = schedules.count_nfe(schedules.repaint(8, 2, 3, stop_resampling_at=4))
    assert f"; {expected} model calls" in painter.schedule_info.value
    painter.kind.value = "plain"
    assert "8 model calls" in painter.schedule_info.value and painter.jump_length.disabled


def test_an_empty_canvas_warns_and_paints_an_unconditional_sample(model, tmp_path):
    painter = Painter(model, composition=Composition(32), cutouts={}, out_dir=tmp_path)
    painter.set_schedule(ScheduleConfig(kind="plain", t_T=5))
    result = painter.paint()
    assert result is not None and torch.isfinite(result.samples).all()
    assert "no layers" in painter.status_message


def test_save_buttons_write_png_and_composition_json(painter, tmp_path):
    painter.set_schedule(SHORT)
    painter.kind.value = "plain"
    painter.t_T.value = 5
    painter.seed.value = 7
    result = painter.paint()
    painter.save_buttons[0].click()
    painter.save_composition_button.click()
    painter.preview.save_gif_button.click()
    out = tmp_path / "out"
    assert (out / "paint.gif").is_file()  # the replay goes where the pictures go
    (png,) = out.glob("sample_seed7_0_*.png")
    saved = np.asarray(Image.open(png))
    expected = ((result.samples[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(saved, expected)
    (json_path,) = out.glob("composition_*.json")
    again = Composition.from_json(json_path)
    assert again.seed == 7 and len(again) == 1
    assert again.settings["schedule"]["kind"] == "plain" and again.settings["schedule"]["t_T"] == 5
    # opening the saved scene restores the controls
    reopened = Painter(painter.model, composition=again, cutouts={}, out_dir=tmp_path)
    assert reopened.schedule_config == painter.schedule_config and reopened.schedule_config.t_T == 5
    assert reopened.seed.value == 7


def test_a_model_that_fails_to_load_keeps_the_previous_one(painter, model, tmp_path):
    assert painter.load_model(tmp_path / "missing.safetensors") is None
    assert painter.model is model
    assert "could not load model" in painter.error_message and "keeping 'tiny'" in painter.error_message
    # without any model the app still opens and says what to do
    empty = Painter(tmp_path / "missing.safetensors", cutouts={})
    assert empty.model is None and "could not load model" in empty.error_message
    assert empty.paint() is None and "no model is loaded" in empty.error_message


def test_a_composition_of_the_wrong_size_is_reported(model, tmp_path):
    painter = Painter(model, composition=Composition(48), cutouts={}, out_dir=tmp_path)
    assert painter.paint() is None
    assert "48x48" in painter.error_message and "32x32" in painter.error_message


def test_the_band_snr_plot_follows_the_composition_once_editing_pauses(model, tmp_path):
    async def edit_then_pause():
        # inside a running event loop, as in a Jupyter kernel
        comp = Composition(32)
        painter = Painter(model, composition=comp, cutouts={}, out_dir=tmp_path)
        flat = bytes(painter.frequency.snr_image.value)  # empty canvas: the "flat picture" placeholder
        comp.add(Layer(Image.new("RGBA", (16, 32), (200, 40, 40, 255)), name="red"))
        comp.update(comp.layers[0], x=4)  # a second edit restarts the half-second wait
        assert bytes(painter.frequency.snr_image.value) == flat  # nothing redrawn mid-edit
        await asyncio.sleep(0.8)
        return flat, bytes(painter.frequency.snr_image.value)

    flat, after = asyncio.run(edit_then_pause())
    assert after != flat
