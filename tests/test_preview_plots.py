"""LivePreview, export_gif and the frequency plots, driven by a tiny random model (no browser)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb.core import schedules
from ipainter_nb.core.models import load_model
from ipainter_nb.core.sampler import Step, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.widgets import plots as plots_module
from ipainter_nb.widgets import preview as preview_module
from ipainter_nb.widgets.plots import FrequencyPanel
from ipainter_nb.widgets.preview import LivePreview, export_gif

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(plain_tiny_model_path):
    return load_model(plain_tiny_model_path, device="cpu")


@pytest.fixture
def scene():
    """A 32x32 picture whose left half is kept."""
    image = torch.linspace(-1, 1, 32).expand(3, 32, 32).clone()
    keep = torch.zeros(1, 32, 32)
    keep[..., :16] = 1
    return image, keep


class FakeClock:
    """Advances by ``dt`` seconds each time it is read: one read per on_step call."""

    def __init__(self, dt: float) -> None:
        self.now, self.dt = 0.0, dt

    def __call__(self) -> float:
        self.now += self.dt
        return self.now


def steps_of(times: list[int], n: int = 2, size: int = 8) -> list[Step]:
    gen = torch.Generator().manual_seed(0)
    total, nfe, out = len(times) - 1, 0, []
    for i, (a, b) in enumerate(zip(times[:-1], times[1:])):
        down = b < a
        nfe += down
        x = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
        out.append(Step(i, a, "down" if down else "up", x, x.flip(-1) if down else None, nfe, 0.01 * i,
                        total, schedules.count_nfe(times)))
    return out


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# --------------------------------------------------------------------------- LivePreview


def test_throttling_skips_frames_but_always_shows_the_last():
    steps = steps_of(schedules.plain(50))
    # 100 steps/s against 10 fps (max_overhead=None: the machine's speed must not matter here)
    preview = LivePreview(max_fps=10, max_overhead=None, display_size=16, clock=FakeClock(dt=0.01))
    for step in steps:
        assert preview.on_step(step) is None  # never False: the preview must not stop a run
    assert preview.steps_seen == 50
    assert 3 <= preview.frames_shown <= 7  # about one step in ten, plus the final one
    assert preview.frames_skipped == 50 - preview.frames_shown
    last = steps[-1]
    assert "t=0" in preview.label.value and f"NFE {last.nfe_so_far}/{last.total_nfe}" in preview.label.value
    # the shown x_t of sample 1 is the last step's, enlarged 2x (16 px display / 8 px image)
    expected = preview_module._as_uint8_hwc(last.x_t)[1].repeat(2, axis=0).repeat(2, axis=1)
    xt_widget, _ = preview._rows[1]
    np.testing.assert_array_equal(decode(xt_widget.value), expected)


def test_skipped_steps_encode_nothing(monkeypatch):
    calls = []
    real = preview_module.encode_png
    monkeypatch.setattr(preview_module, "encode_png", lambda rgb, scale=1: calls.append(1) or real(rgb, scale))
    preview = LivePreview(max_fps=10, clock=FakeClock(dt=0.001))
    for step in steps_of(schedules.plain(30), n=3):
        preview.on_step(step)
    # 2 PNGs (x_t and x0) per sample per shown frame, none for the skipped steps
    assert preview.frames_shown == 2  # the first and the final step
    assert len(calls) == 2 * 3 * preview.frames_shown


def test_slow_encoding_spaces_frames_further_apart(monkeypatch):
    real = preview_module.encode_png

    def slow(rgb, scale=1):
        time.sleep(0.01)  # a busy CPU
        return real(rgb, scale)

    monkeypatch.setattr(preview_module, "encode_png", slow)
    preview = LivePreview(max_fps=10, max_overhead=0.05, clock=FakeClock(dt=0.05))
    for step in steps_of(schedules.plain(40), n=1):  # 2 s of simulated run
        preview.on_step(step)
    # a frame costs >= 20 ms (two PNGs), so frames are >= 0.4 s apart instead of 0.1 s
    assert preview.interval_s >= 0.4
    assert preview.frames_shown <= 2 / 0.4 + 1 < 20


def test_up_steps_keep_showing_the_latest_prediction():
    preview = LivePreview(max_fps=1e6, clock=FakeClock(dt=1.0))
    steps = steps_of(schedules.repaint(6, 2, 2, stop_resampling_at=2))
    up = next(s for s in steps if s.direction == "up")
    for step in steps[: up.index + 1]:
        preview.on_step(step)
    assert "↑ up" in preview.label.value and "x0 from t=" in preview.label.value


def test_flush_shows_the_step_a_stopped_run_ended_on():
    preview = LivePreview(max_fps=1, clock=FakeClock(dt=0.001))
    steps = steps_of(schedules.plain(20))
    for step in steps[:7]:  # stopped before the final step: steps 1..6 were skipped
        preview.on_step(step)
    assert "step 1/" in preview.label.value
    preview.flush()
    assert "step 7/" in preview.label.value


def test_paint_with_preview_then_scrub_the_kept_frames(model, scene):
    image, keep = scene
    preview = LivePreview(max_fps=1000)
    result = paint(model, image, keep, times=schedules.plain(5), num_samples=2, callback=preview.on_step,
                   progress=False)
    assert not result.cancelled and preview.steps_seen == 5
    preview.show_result(result)
    assert not preview.slider.disabled and preview.slider.max == len(result.steps) - 1 == 4
    assert not preview.save_gif_button.disabled
    last_png = preview._rows[0][0].value
    preview.slider.value = 0  # scrub back to the first, noisiest frame
    assert "frame 1/5" in preview.label.value
    assert preview._rows[0][0].value != last_png


def test_export_gif_has_one_frame_per_kept_step(model, scene, tmp_path):
    image, keep = scene
    times = schedules.repaint(8, 2, 2, stop_resampling_at=4)
    result = paint(model, image, keep, times=times, num_samples=2, progress=False)
    path = export_gif(result, tmp_path / "sub" / "run.gif", which="x_t", scale=2)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.is_animated
        assert gif.n_frames == len(result.steps) == len(times) - 1
        assert gif.size == ((32 * 2 + 2) * 2, 32 * 2)  # two samples in a row, 2 px gap, scale 2
    with Image.open(export_gif(result, tmp_path / "x0.gif", which="x0", scale=1)) as gif:
        assert gif.n_frames == sum(f.x0_pred is not None for f in result.steps) == schedules.count_nfe(times)
    assert not list(tmp_path.glob("**/*.tmp"))  # written atomically: no temp file left behind


def test_save_gif_button_writes_the_file(model, scene, tmp_path):
    image, keep = scene
    preview = LivePreview(gif_path=tmp_path / "button.gif")
    preview.show_result(paint(model, image, keep, times=schedules.plain(5), progress=False))
    preview.save_gif_button.click()
    assert (tmp_path / "button.gif").is_file()
    assert "saved" in preview.message.value


# --------------------------------------------------------------------------- plots


def test_frequency_panel_follows_a_run(model, scene):
    image, keep = scene
    config = ScheduleConfig(t_T=8, jump_length=2, jump_n_sample=2, stop_resampling_at=4)
    panel = FrequencyPanel(max_fps=1, n_curves=4, clock=FakeClock(dt=0.01))
    panel.reset(image, config, model.alphas_cumprod(config.t_T))
    assert bytes(panel.snr_image.value).startswith(PNG_MAGIC)
    before = panel.spectrum_image.value
    result = paint(model, image, keep, times=config.times(), callback=panel.on_step, progress=False)
    panel.finish(result)
    assert bytes(panel.spectrum_image.value).startswith(PNG_MAGIC) and panel.spectrum_image.value != before
    assert [t for t, _, _ in panel.spectra] == [6, 4, 2, 0]  # every other level (8 // 4), high t first
    # throttled: at 0.01 s per recorded spectrum and 1 render/s, only the first and the final
    # step render (after the empty placeholder); finish() has nothing new to draw
    assert panel.renders == 1 + 2
    assert "non-DC energy" in panel.caption.value


def test_spectra_are_drawn_off_the_painting_thread(monkeypatch):
    real = plots_module.figure_to_png

    def slow_png(fig, dpi=80):
        time.sleep(0.3)  # a slow machine
        return real(fig, dpi)

    monkeypatch.setattr(plots_module, "figure_to_png", slow_png)
    panel = FrequencyPanel()
    drawn = panel.renders
    (final,) = [s for s in steps_of(schedules.plain(3)) if s.index == 2]
    tick = time.perf_counter()
    panel.on_step(final)  # records the spectrum and asks for a drawing...
    assert time.perf_counter() - tick < 0.25  # ...without waiting for it
    panel.wait_rendered(5)
    assert panel.renders == drawn + 1 and [t for t, _, _ in panel.spectra] == [0]
