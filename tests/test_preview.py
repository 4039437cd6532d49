"""LivePreview driven by hand-made steps and by real runs of a tiny random model (no browser)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from step_fakes import FakeClock, steps_of

from ipainter_nb.core import schedules
from ipainter_nb.core.sampler import CancelToken, paint
from ipainter_nb.images import tensor_to_uint8
from ipainter_nb.widgets import preview as preview_module
from ipainter_nb.widgets.preview import PIXELATED_CLASS, LivePreview


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def count_calls(monkeypatch, name: str) -> list[int]:
    """Count the calls the preview makes to one of the functions it uses."""
    calls: list[int] = []
    real = getattr(preview_module, name)
    monkeypatch.setattr(preview_module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


# --------------------------------------------------------------------------- throttling


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
    # the shown x_t of sample 1 is the last step's, sent at 8 px and shown at 16 px with pixels repeated
    xt_widget, _ = preview._rows[1]
    np.testing.assert_array_equal(decode(xt_widget.value), tensor_to_uint8(last.x_t)[1])
    assert (xt_widget.width, xt_widget.height) == ("16", "16") and PIXELATED_CLASS in xt_widget._dom_classes
    assert any(f".{PIXELATED_CLASS}" in child.value for child in preview.children if hasattr(child, "value"))


def test_skipped_steps_convert_and_encode_nothing(monkeypatch):
    pngs = count_calls(monkeypatch, "encode_png")
    conversions = count_calls(monkeypatch, "tensor_to_uint8")
    preview = LivePreview(max_fps=10, clock=FakeClock(dt=0.001))
    for step in steps_of(schedules.plain(30), n=3):
        preview.on_step(step)
    # 2 PNGs (x_t and x0) per sample per shown frame, none for the 28 skipped steps
    assert preview.frames_shown == 2  # the first and the final step
    assert len(pngs) == 2 * 3 * preview.frames_shown
    assert len(conversions) == 2 * preview.frames_shown  # one per batch tensor shown, none per skipped step


def test_a_prediction_already_on_screen_is_not_encoded_again(monkeypatch):
    pngs = count_calls(monkeypatch, "encode_png")
    preview = LivePreview(max_fps=1e6, clock=FakeClock(dt=1.0))  # every step shown
    steps = steps_of(schedules.repaint(6, 2, 2, stop_resampling_at=2), n=1)
    for step in steps:
        preview.on_step(step)
    downs = sum(s.x0_pred is not None for s in steps)
    assert len(pngs) == len(steps) + downs  # x_t every step, x0 only when the model made a new one


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


def test_the_frame_budget_counts_the_browsers_cost_and_still_shows_the_last_frame():
    steps = steps_of(schedules.plain(100), n=1)  # 10 s of simulated run: a step every 0.1 s
    shown = {}
    for cost in (0.0, 0.05):
        preview = LivePreview(max_fps=10, max_overhead=0.02, frame_cost_s=cost, clock=FakeClock(dt=0.1))
        for step in steps:
            preview.on_step(step)
        shown[cost] = preview.frames_shown
        assert f"step {len(steps)}/{len(steps)}" in preview.label.value  # the final step is always shown
    # each frame costs 50 ms in the browser: 2.5 s apart at a 2% share, so the first, 4 in the run, the last
    assert preview.interval_s >= 0.05 / 0.02
    assert shown[0.05] <= 1 + 10 / 2.5 + 1 < shown[0.0]


def test_a_negative_browser_cost_is_refused():
    with pytest.raises(ValueError, match="frame_cost_s"):
        LivePreview(frame_cost_s=-1)


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


def test_micro_batches_update_their_own_rows():
    preview = LivePreview(max_fps=1e6, display_size=8, clock=FakeClock(dt=1.0))
    preview.reset(num_samples=4)
    rows = list(preview._rows)
    first, second = steps_of(schedules.plain(3), n=2), steps_of(schedules.plain(3), n=2, first_sample=2)
    for step in first:
        preview.on_step(step)
    shown = [xt.value for xt, _ in preview._rows]
    for step in second:
        preview.on_step(step)
    assert preview._rows == rows  # built once by reset, on the caller's thread
    assert [xt.value for xt, _ in preview._rows[:2]] == shown[:2]  # pictures 0-1 keep their last frame
    np.testing.assert_array_equal(decode(preview._rows[3][0].value), tensor_to_uint8(second[-1].x_t)[1])


# --------------------------------------------------------------------------- after a run


def test_paint_with_preview_then_scrub_the_kept_frames(plain_tiny_model, half_kept_scene):
    image, keep = half_kept_scene
    preview = LivePreview(max_fps=1000)
    preview.reset(num_samples=2)
    result = paint(plain_tiny_model, image, keep, times=schedules.plain(5), num_samples=2, callback=preview.on_step,
                   progress=False)
    assert not result.stopped and preview.steps_seen == 5
    preview.show_result(result)
    assert not preview.slider.disabled and preview.slider.max == len(result.frames) - 1 == 4
    assert not preview.save_gif_button.disabled and preview.message.value.startswith("done")
    last_png = preview._rows[0][0].value
    preview.slider.value = 0  # scrub back to the first, noisiest frame
    assert "frame 1/5" in preview.label.value
    assert preview._rows[0][0].value != last_png


def test_a_stopped_run_shows_where_it_stopped(plain_tiny_model, half_kept_scene):
    image, keep = half_kept_scene
    token = CancelToken()
    preview = LivePreview(max_fps=1e-3)  # nothing after the first step unless flushed

    def stop_after_three(step):
        preview.on_step(step)
        if step.index == 2:
            token.set()

    result = paint(plain_tiny_model, image, keep, times=schedules.plain(8), callback=stop_after_three, cancel=token,
                   progress=False)
    assert result.stopped
    preview.show_result(result)
    assert preview.message.value.startswith("stopped") and "step 3" in preview.label.value


def test_save_gif_button_writes_the_kept_frames_through_the_one_gif_writer(plain_tiny_model, half_kept_scene, tmp_path):
    image, keep = half_kept_scene
    preview = LivePreview(gif_path=tmp_path / "button.gif")
    assert preview.save_gif() is None and "paint first" in preview.message.value
    result = paint(plain_tiny_model, image, keep, times=schedules.plain(5), progress=False)
    preview.show_result(result)
    preview.which.value = "x_t"
    preview.save_gif_button.click()
    with Image.open(tmp_path / "button.gif") as gif:
        assert gif.n_frames == len(result.frames)
    assert str((tmp_path / "button.gif").resolve()) in preview.message.value  # the full path, where it was clicked
    assert preview.save_gif(tmp_path / "missing" / "\0bad.gif") is None and "could not save" in preview.message.value
