"""viz: every figure and the GIF, headless, with the schedule marks all figures share."""

from __future__ import annotations

import os
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb.core.frequency import radial_power_spectrum
from ipainter_nb.core.sampler import Frame, PaintResult
from ipainter_nb.core.schedules import ScheduleConfig, plain, resampling_window
from ipainter_nb.errors import UserInputError
from ipainter_nb.images import quantize_uint8
from ipainter_nb.viz import (
    band_snr_figure,
    figure_to_png,
    frequency_figure,
    new_figure,
    save_figure,
    schedule_figure,
    schedule_marks,
    spectrum_evolution_figure,
    timesteps_gif,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAPER = ScheduleConfig()  # 250 steps, jumps of 10 repeated 10 times, no resampling below t=100


def linear_alphas_cumprod(n: int) -> np.ndarray:
    return np.cumprod(1.0 - np.linspace(1e-4, 0.02, n))


def textured_picture(size: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    noise = torch.randn(3, size, size, generator=torch.Generator().manual_seed(0))
    return (0.6 * xx + 0.3 * yy + 0.1 * noise).clamp(-1, 1).expand(3, size, size).clone()


def span_of(patch) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of an axhspan/axvspan in its own (data or axes) coordinates."""
    verts = patch.get_patch_transform().transform(patch.get_path().vertices)
    return verts[:, 0].min(), verts[:, 0].max(), verts[:, 1].min(), verts[:, 1].max()


def dashed_at(ax, value: float, axis: str) -> bool:
    data = "get_ydata" if axis == "y" else "get_xdata"
    return any(line.get_linestyle() == "--" and list(getattr(line, data)()) == [value, value] for line in ax.lines)


@pytest.fixture(autouse=True)
def no_pyplot_figures_left():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before  # viz never registers figures with pyplot


# --------------------------------------------------------------------------- the marks every figure shares


def test_the_paper_schedule_is_shaded_exactly_over_its_resampling_window():
    marks = schedule_marks(PAPER)
    assert marks.window == resampling_window(PAPER.times()) and marks.stop == 100
    schedule_ax = schedule_figure(PAPER).axes[0]
    snr_ax = band_snr_figure(textured_picture(), linear_alphas_cumprod(250), PAPER).axes[0]
    (band,) = schedule_ax.patches
    assert span_of(band)[2:] == pytest.approx(marks.window)  # horizontal band over t
    (band,) = snr_ax.patches
    assert span_of(band)[:2] == pytest.approx(marks.window)  # vertical band over t
    assert dashed_at(schedule_ax, 100, "y") and dashed_at(snr_ax, 100, "x")
    lo, hi = marks.window
    assert f"resampling t={lo}..{hi}" in [t.get_text() for t in snr_ax.get_legend().get_texts()]


def test_a_plain_schedule_or_a_bare_times_list_has_no_stop_line():
    plain_ax = schedule_figure(plain(30)).axes[0]
    assert not plain_ax.patches and not any(line.get_linestyle() == "--" for line in plain_ax.lines)
    times_ax = band_snr_figure(textured_picture(), linear_alphas_cumprod(250), PAPER.times()).axes[0]
    assert len(times_ax.patches) == 1  # the window still comes from the times
    assert not any("stop" in t.get_text() for t in times_ax.get_legend().get_texts())


def test_schedule_figure_says_the_model_calls():
    ax = schedule_figure(PAPER).axes[0]
    assert f"schedule (NFE={PAPER.nfe})" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert str(PAPER.nfe) in ax.get_title()


# --------------------------------------------------------------------------- frequency figures


def test_band_snr_figure_has_a_curve_per_band_on_a_log_axis_and_names_drowning_times():
    ax = band_snr_figure(textured_picture(), linear_alphas_cumprod(250), n_bands=3).axes[0]
    assert ax.get_yscale() == "log"
    assert len([line for line in ax.lines if line.get_label().startswith("band")]) == 3
    assert "drown at t =" in ax.get_title()


def test_band_snr_figure_of_a_flat_picture_says_so():
    fig = band_snr_figure(torch.zeros(3, 16, 16), linear_alphas_cumprod(50))
    assert "flat" in fig.axes[0].texts[0].get_text()
    assert figure_to_png(fig).startswith(PNG_MAGIC)


def test_figures_draw_into_the_axes_they_are_given():
    fig = new_figure((9, 3))
    left, right = fig.subplots(1, 2)
    assert band_snr_figure(textured_picture(), linear_alphas_cumprod(100), ax=left) is fig
    assert schedule_figure(plain(10), ax=right) is fig
    assert len(left.lines) > 0 and len(right.lines) > 0


def test_spectrum_evolution_colours_each_t_and_adds_a_colourbar():
    rng = np.random.default_rng(5)
    spectra = [(t, *radial_power_spectrum(rng.standard_normal((3, 32, 32)) / (1 + t))) for t in (200, 100, 0)]
    fig = spectrum_evolution_figure(spectra)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len({tuple(line.get_color()) for line in ax.lines}) == 3
    assert len(fig.axes) == 2 and ax.get_xscale() == "log"  # the plot and its colourbar
    empty = spectrum_evolution_figure([])
    assert "appear while painting" in empty.axes[0].texts[0].get_text()


class NoiseScheduleOnly:
    """What frequency_figure needs from a model: its respaced noise schedule."""

    def schedule(self, t_T: int) -> SimpleNamespace:
        return SimpleNamespace(alphas_cumprod=linear_alphas_cumprod(t_T))


def fake_run(times: list[int], n: int = 2, size: int = 16) -> PaintResult:
    gen = torch.Generator().manual_seed(1)
    frames, nfe = [], 0
    for i, (a, b) in enumerate(zip(times[:-1], times[1:])):
        x = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
        nfe += b < a
        x0 = quantize_uint8(x.flip(-1)) if b < a else None
        frames.append(Frame(i, a, "down" if b < a else "up", nfe, 0.0, quantize_uint8(x), x0))
    samples = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
    return PaintResult(samples=samples, frames=frames, times=times, nfe=nfe, elapsed_s=0.0, seed=0)


def test_frequency_figure_shows_the_snr_and_the_spectra_of_a_run():
    config = ScheduleConfig(t_T=20, jump_length=2, jump_n_sample=2, stop_resampling_at=8)
    fig = frequency_figure(NoiseScheduleOnly(), config, textured_picture(16), fake_run(config.times()), max_curves=5)
    snr_ax, spectrum_ax = fig.axes[:2]
    (band,) = snr_ax.patches
    assert span_of(band)[:2] == pytest.approx(resampling_window(config.times()))
    assert len(spectrum_ax.lines) == 5


def test_every_figure_at_its_own_size_is_legible_in_a_notebook():
    # shown inline in JupyterLab at a laptop's width (figure_text explains the measure)
    import figure_text

    config = ScheduleConfig(t_T=20, jump_length=2, jump_n_sample=2, stop_resampling_at=8)
    picture = textured_picture(16)
    spectra = [(t, *radial_power_spectrum(picture.numpy())) for t in (0, 10, 19)]
    figures = {
        "schedule_figure": schedule_figure(PAPER),
        "band_snr_figure": band_snr_figure(picture, linear_alphas_cumprod(20), config),
        "spectrum_evolution_figure": spectrum_evolution_figure(spectra),
        "frequency_figure": frequency_figure(NoiseScheduleOnly(), config, picture, fake_run(config.times()), max_curves=5),
    }
    small = {name: figure_text.too_small(figure_text.record(fig)) for name, fig in figures.items()}
    assert not {name: found for name, found in small.items() if found}


# --------------------------------------------------------------------------- files


def test_save_figure_writes_a_png_atomically(tmp_path, monkeypatch):
    target = tmp_path / "schedule.png"
    assert save_figure(schedule_figure(plain(10)), target) == target
    before = target.read_bytes()
    assert before.startswith(PNG_MAGIC)
    fig = schedule_figure(PAPER)

    def broken(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="no space"):
        save_figure(fig, target)
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["schedule.png"]


def test_timesteps_gif_has_a_frame_per_prediction_and_the_finished_samples(tmp_path):
    times = ScheduleConfig(t_T=6, jump_length=2, jump_n_sample=2, stop_resampling_at=2).times()
    run = fake_run(times, n=2, size=16)
    predictions = sum(f.x0_pred is not None for f in run.frames)
    path = timesteps_gif(run, tmp_path / "run.gif", final=run.samples, nrow=2, scale=3)
    with Image.open(path) as gif:
        assert gif.n_frames == predictions + 1
        assert gif.size == (3 * (2 * 16 + 2), 3 * 16)  # two samples and a 2 px gap, 3x nearest
    noisy = timesteps_gif(run.frames, tmp_path / "x_t.gif", which="x_t", captions=True)
    with Image.open(noisy) as gif:
        assert gif.n_frames == len(run.frames)
        assert gif.size == (8 * (2 * 16 + 2), 8 * 16 + 14)  # default scale: a short side of 128 px; a caption strip
    assert sorted(os.listdir(tmp_path)) == ["run.gif", "x_t.gif"]  # no temp files left


def test_timesteps_gif_pastes_the_known_pixels(tmp_path):
    run = fake_run(plain(3), n=1, size=8)
    image, keep = torch.ones(3, 8, 8), torch.zeros(1, 8, 8)
    keep[..., :4] = 1  # the left half is kept: white
    path = timesteps_gif(run, tmp_path / "known.gif", known=(image, keep), scale=1)
    with Image.open(path) as gif:
        for k in range(gif.n_frames):
            gif.seek(k)
            left = np.asarray(gif.convert("RGB"))[:, :4]
            assert (left == 255).all()


def test_timesteps_gif_without_frames_says_why(tmp_path):
    with pytest.raises(ValueError, match="max_frames=0"):
        timesteps_gif([], tmp_path / "empty.gif")
    assert not os.listdir(tmp_path)


def test_frequency_figure_draws_a_run_of_the_exact_model(tmp_path):
    import ipainter_nb as ip

    model = ip.exact.ExactDiffusionModel.create(size=8)
    config = ScheduleConfig(t_T=6, jump_length=2, jump_n_sample=2, stop_resampling_at=2)
    image, keep = torch.zeros(3, 8, 8), ip.exact.centre_hole_keep(8, 4)
    result = ip.paint(model, image, keep, times=config, progress=False)
    fig = frequency_figure(model, config, image, result, n_bands=2)
    assert len(fig.axes[1].lines) == sum(f.x0_pred is not None for f in result.frames)


RUN = fake_run(plain(3), n=1, size=8)

BAD_FIGURE_ARGUMENTS = {
    "figsize of one number": (lambda p: new_figure(5), "figsize must be (width, height) in inches"),
    "figsize of NaN": (lambda p: new_figure((float("nan"), 3)), "figsize[0]=nan is out of range"),
    "figsize of a mile": (lambda p: schedule_figure(PAPER, figsize=(1e6, 3)), "figsize[0]=1000000.0 is out of range"),
    "dpi as text": (lambda p: figure_to_png(new_figure(), "80"), "dpi must be a number, got str '80'"),
    "dpi of zero": (lambda p: save_figure(new_figure(), p / "a.png", dpi=0), "dpi=0 is out of range"),
    "no figure": (lambda p: figure_to_png("fig"), "fig must be a matplotlib Figure"),
    "a path that is a file descriptor": (lambda p: save_figure(new_figure(), 1), "path must be a file path"),
    "a path that is a folder": (lambda p: save_figure(new_figure(), p), "is a folder: name a file in it"),
    "which in capitals": (lambda p: timesteps_gif(RUN, p / "a.gif", which="X0"), "which must be 'x0' or 'x_t'"),
    "fps as text": (lambda p: timesteps_gif(RUN, p / "a.gif", fps="10"), "fps must be a number"),
    "a frame held a day": (lambda p: timesteps_gif(RUN, p / "a.gif", hold_last_s=86400), "hold_last_s=86400 is out of range"),
    "nrow of zero": (lambda p: timesteps_gif(RUN, p / "a.gif", nrow=0), "nrow=0 is out of range"),
    "scale of 2.5": (lambda p: timesteps_gif(RUN, p / "a.gif", scale=2.5), "scale must be a whole number"),
    "captions as text": (lambda p: timesteps_gif(RUN, p / "a.gif", captions="yes"), "captions must be True or False"),
    "known without its mask": (lambda p: timesteps_gif(RUN, p / "a.gif", known=torch.zeros(3, 8, 8)),
                               "known must be (image, keep)"),
    "a soft known mask": (lambda p: timesteps_gif(RUN, p / "a.gif", known=(torch.zeros(3, 8, 8), torch.full((1, 8, 8), 0.5))),
                          "known[1] mask must hold only 0 (generate) and 1 (keep)"),
    "final of another size": (lambda p: timesteps_gif(RUN, p / "a.gif", final=torch.zeros(1, 3, 4, 4)),
                              "final is 4x4 but it must be 8x8"),
    "frames that are no frames": (lambda p: timesteps_gif("frames", p / "a.gif"), "frames must be a PaintResult"),
    "spectra that are no triples": (lambda p: spectrum_evolution_figure([1, 2]), "spectra must be a list of (t, freqs, power)"),
    "an unknown colour map": (lambda p: spectrum_evolution_figure([], cmap="viridian"), "cmap='viridian' is not a matplotlib"),
    "a config that is a list": (lambda p: frequency_figure(NoiseScheduleOnly(), plain(4), textured_picture(16), RUN),
                                "config must be the ScheduleConfig that ran"),
}


@pytest.mark.parametrize("case", sorted(BAD_FIGURE_ARGUMENTS))
def test_a_bad_figure_or_gif_argument_is_one_user_input_error_and_writes_nothing(case, tmp_path):
    from ipainter_nb.errors import UserInputError

    call, said = BAD_FIGURE_ARGUMENTS[case]
    with pytest.raises(UserInputError) as caught:
        call(tmp_path)
    assert said in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_a_figure_or_gif_written_over_a_symbolic_link_replaces_the_link_not_its_target(tmp_path):
    from ipainter_nb.errors import UserInputError

    kept = tmp_path / "kept.png"
    kept.write_bytes(b"the file the link names")
    for name, write in {"figure.png": lambda p: save_figure(schedule_figure(plain(10)), p),
                        "run.gif": lambda p: timesteps_gif(RUN, p)}.items():
        link = tmp_path / name
        link.symlink_to(kept)
        write(link)
        assert not link.is_symlink() and link.stat().st_size > 0
        assert kept.read_bytes() == b"the file the link names"
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "missing" / "f.png")
    with pytest.raises(UserInputError, match="is a symbolic link to .*which does not exist"):
        save_figure(new_figure(), dangling)
    assert not (tmp_path / "missing").exists()


def test_a_figure_asked_to_draw_into_something_that_is_no_axes_says_so():
    with pytest.raises(UserInputError, match="ax must be a matplotlib Axes"):
        schedule_figure([3, 2, 1, 0, -1], ax="left")
