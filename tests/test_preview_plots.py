"""The frequency plots, driven by a tiny random model (no browser). LivePreview: test_preview.py."""

from __future__ import annotations

import time

from step_fakes import FakeClock, steps_of

from ipainter_nb.core import schedules
from ipainter_nb.core.sampler import paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.widgets import plots as plots_module
from ipainter_nb.widgets.plots import FrequencyPanel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- plots


def test_frequency_panel_follows_a_run(plain_tiny_model, half_kept_scene):
    image, keep = half_kept_scene
    config = ScheduleConfig(t_T=8, jump_length=2, jump_n_sample=2, stop_resampling_at=4)
    panel = FrequencyPanel(max_fps=1, n_curves=4, clock=FakeClock(dt=0.01))
    panel.reset(image, config, plain_tiny_model.alphas_cumprod(config.t_T))
    assert bytes(panel.snr_image.value).startswith(PNG_MAGIC)
    before = panel.spectrum_image.value
    result = paint(plain_tiny_model, image, keep, times=config.times(), callback=panel.on_step, progress=False)
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
