"""Every figure and GIF of the project, one function each, drawn the same way everywhere.

- ``schedule_figure``: time against step index for a schedule;
- ``band_snr_figure``: the forward-process SNR per frequency band of a picture against t;
- ``spectrum_evolution_figure``: radial spectra of the predicted x0 as t falls;
- ``frequency_figure``: the last two side by side for a finished run (``ipainter demo``);
- ``timesteps_gif``: the one GIF writer (a run's kept frames, one grid of samples per frame);
- ``save_figure`` / ``figure_to_png``: writing figures (atomically) or encoding them.

Every range shaded as "resampling" is ``schedules.resampling_window(times)`` and every stop
line is the config's ``stop_resampling_at``: the figures of the CLI, the widgets and the
notebooks cannot disagree.

Figures are ``matplotlib.figure.Figure`` objects on their own Agg canvas, never pyplot:
nothing here touches pyplot's global state or the notebook's backend, figures are freed
with their last reference, and they may be drawn from any thread (the widgets draw on a
helper thread). Pass ``ax=`` to draw into an axes of your own figure instead (a notebook
laying several plots side by side); the figure returned is then that axes' figure.
``display(fig)`` shows a returned figure in a notebook.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatter, NullFormatter
from PIL import Image, ImageDraw

from ipainter_nb.checks import check_path, writable_file
from ipainter_nb.core.arguments import check_flag, check_keep, check_picture, check_real, check_whole
from ipainter_nb.core.frequency import band_snr, drowning_times, radial_power_spectrum
from ipainter_nb.core.paintable import check_model
from ipainter_nb.core.schedules import ScheduleConfig, count_nfe, resampling_window, validate_times
from ipainter_nb.core.steps import Frame, PaintResult
from ipainter_nb.errors import UserInputError
from ipainter_nb.file_kinds import GIF_FILE, PNG_FILE
from ipainter_nb.images import make_grid, uint8_to_tensor, upscale_nearest, write_bytes_atomic

from .public import public_names

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ScheduleMarks",
    "band_snr_figure",
    "figure_to_png",
    "frequency_figure",
    "new_figure",
    "save_figure",
    "schedule_figure",
    "schedule_marks",
    "spectrum_evolution_figure",
    "timesteps_gif",
]

Spectrum = tuple[int, Any, Any]
Schedule = ScheduleConfig | Sequence[int]

#: Largest figure side in inches, and largest resolution: beyond them a figure is gigapixels.
MAX_FIGURE_INCHES = 100.0
MAX_DPI = 1200.0
#: Largest enlargement of a GIF's pictures, and the longest a GIF frame may stay (its delay is 16 bits of 1/100 s).
MAX_GIF_SCALE = 64
MAX_GIF_HOLD_S = 600.0


# --------------------------------------------------------------------------- figures and files


def new_figure(figsize: tuple[float, float] = (4.6, 3.2)) -> Figure:
    """A figure on its own Agg canvas, outside pyplot (safe to draw from any thread).

    Args:
        figsize: width and height in inches.
    """
    fig = Figure(figsize=_check_figsize(figsize))
    FigureCanvasAgg(fig)
    return fig


def _check_figsize(figsize: Any) -> tuple[float, float]:
    if not isinstance(figsize, (tuple, list)) or len(figsize) != 2:
        raise UserInputError(f"figsize must be (width, height) in inches, got {type(figsize).__name__} {figsize!r}")
    return tuple(check_real(f"figsize[{i}]", side, 0.0, MAX_FIGURE_INCHES, low_open=True, hint="inches")
                 for i, side in enumerate(figsize))


def _check_figure(fig: Any, dpi: Any) -> float:
    if not isinstance(fig, Figure):
        raise UserInputError(f"fig must be a matplotlib Figure (viz.new_figure makes one), got {type(fig).__name__}")
    return check_real("dpi", dpi, 0.0, MAX_DPI, low_open=True, hint="dots per inch")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        from matplotlib.axes import Axes as AxesType

        if not isinstance(ax, AxesType):
            raise UserInputError(f"ax must be a matplotlib Axes to draw into (e.g. fig.add_subplot()) or None for a new "
                                 f"figure, got {type(ax).__name__}")
        return ax
    fig = new_figure(figsize)
    # fixed margins rather than a layout engine: constrained layout measures every tick
    # label and doubles the cost of a render, which the widgets pay during a run
    fig.subplots_adjust(left=0.21, right=0.96, bottom=0.15, top=0.84)
    return fig.add_subplot()


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """``fig`` as PNG bytes (Agg).

    Args:
        fig: the figure.
        dpi: resolution.
    """
    dpi = _check_figure(fig, dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (a crash never leaves half a file).

    Args:
        fig: the figure.
        path: the PNG file (written atomically; a symbolic link there is replaced, its target left as it was).
        dpi: resolution.
    """
    dpi = _check_figure(fig, dpi)
    path = writable_file(check_path("path", path), "path", PNG_FILE)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return write_bytes_atomic(path, buf.getvalue())


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class ScheduleMarks:
    """What the figures mark for a schedule: its times, the resampling window, the stop.

    Args:
        times: the schedule's times.
        window: the (low, high) resampling window, or None.
        stop: the stop of a truncated schedule, or None.
        label: the schedule's description for a legend.
    """

    times: list[int]
    window: tuple[int, int] | None  # schedules.resampling_window(times)
    stop: int | None  # stop_resampling_at, for schedules that stop resampling early
    label: str


def schedule_marks(schedule: Schedule) -> ScheduleMarks:
    """The marks of a ``ScheduleConfig`` or a times list (a list has no stop line).

    Args:
        schedule: a ``ScheduleConfig`` or a list of times.
    """
    if isinstance(schedule, ScheduleConfig):
        times = schedule.times()
        stop = schedule.stop_resampling_at if schedule.kind in ("truncated", "window") else None
        return ScheduleMarks(times, resampling_window(times), stop, f"{schedule.kind}, t_T={schedule.t_T}")
    times = validate_times(schedule)
    return ScheduleMarks(times, resampling_window(times), None, f"t_T={times[0] + 1}")


def _mark_stop(ax: Axes, stop: int | None, vertical: bool) -> None:
    if stop is None:
        return
    line = ax.axvline if vertical else ax.axhline
    line(stop, color="C3", ls="--", lw=1, label=f"stop at t={stop}")


def _shade_window(ax: Axes, window: tuple[int, int] | None, vertical: bool) -> None:
    if window is None:
        return
    span = ax.axvspan if vertical else ax.axhspan
    span(window[0], window[1], color="C1", alpha=0.15, label=f"resampling t={window[0]}..{window[1]}")


def schedule_figure(
    schedule: Schedule,
    *,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (8, 3),
) -> Figure:
    """Time against step index; the resampling window shaded, the stop dashed, the NFE in the legend.

    Args:
        schedule: a ``ScheduleConfig`` or a list of times.
        title: the title (None: the schedule's description).
        ax: an axes to draw into (None: a new figure).
        figsize: the new figure's size in inches.
    """
    marks = schedule_marks(schedule)
    ax = _axes(ax, figsize)
    nfe = count_nfe(marks.times)
    ax.plot(range(len(marks.times)), marks.times, lw=0.8, color="C0", label=f"schedule (NFE={nfe})")
    _shade_window(ax, marks.window, vertical=False)
    _mark_stop(ax, marks.stop, vertical=False)
    ax.set_xlabel("step")
    ax.set_ylabel("t")
    default = schedule.describe() if isinstance(schedule, ScheduleConfig) else f"{len(marks.times) - 1} steps, {nfe} model calls"
    ax.set_title(title if title is not None else default, fontsize="medium")
    ax.legend(loc="upper right", fontsize="small")
    return ax.figure


# --------------------------------------------------------------------------- frequency


def _band_labels(n_bands: int) -> list[str]:
    labels = [f"band {b}" for b in range(n_bands)]
    labels[0] += " (low)"
    if n_bands > 1:
        labels[-1] += " (high)"
    return labels


def band_snr_figure(
    image: Any,
    alphas_cumprod: Any,
    schedule: Schedule | None = None,
    n_bands: int = 4,
    *,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (4.6, 3.2),
) -> Figure:
    """Forward-process SNR per frequency band of ``image`` against t (log scale), schedule marked.

    ``alphas_cumprod`` must be in the schedule's units: the respaced noise schedule of
    ``t_T`` steps (``model.alphas_cumprod(t_T)``), so that t on the x axis is the t the
    schedule visits. Low bands blue, high bands red; SNR = 1 dotted; with a schedule its
    resampling window is shaded and its stop (if any) dashed. The title says when each band
    drowns (its SNR falls below 1).

    Args:
        image: the picture whose spectrum sets the SNR, (3, H, W).
        alphas_cumprod: ᾱ of each level.
        schedule: the schedule whose resampling window is shaded, or None.
        n_bands: how many frequency bands.
        title: the title.
        ax: an axes to draw into (None: a new figure).
        figsize: the new figure's size in inches.
    """
    snr = band_snr(image, alphas_cumprod, n_bands=n_bands)
    ax = _axes(ax, figsize)
    if not np.any(snr > 0):
        # a flat picture (an empty canvas is uniform grey) has no signal in any band
        ax.text(0.5, 0.5, "the picture is flat (no cutouts?):\nno band carries any signal", ha="center",
                va="center", transform=ax.transAxes, color="0.4")
        ax.set_axis_off()
        ax.set_title("forward SNR per band" if title is None else title, fontsize="medium")
        return ax.figure
    colours = _colormap("coolwarm")
    for b, label in enumerate(_band_labels(n_bands)):
        ax.plot(np.arange(snr.shape[0]), snr[:, b], color=colours(b / max(n_bands - 1, 1)), label=label)
    ax.set_yscale("log")
    ax.axhline(1.0, color="k", lw=0.8, ls=":", label="SNR = 1")
    what = ""
    if schedule is not None:
        marks = schedule_marks(schedule)
        _shade_window(ax, marks.window, vertical=True)
        _mark_stop(ax, marks.stop, vertical=True)
        what = f" ({marks.label})"
    ax.set_xlabel("t")
    ax.set_ylabel("forward SNR per band")
    ax.legend(fontsize="small")
    drown = ", ".join(str(int(t)) for t in drowning_times(snr))
    ax.set_title(title if title is not None else f"forward SNR per band{what}\nbands low→high drown at t = {drown}",
                 fontsize="medium")
    return ax.figure


def _colormap(name: str) -> Colormap:
    if not isinstance(name, str) or name not in colormaps:
        raise UserInputError(f"cmap={name!r} is not a matplotlib colour map: use one of matplotlib.colormaps, e.g. 'viridis'")
    return colormaps[name]


def _check_spectra(spectra: Any) -> list[Spectrum]:
    if not isinstance(spectra, Sequence) or isinstance(spectra, (str, bytes)) or not all(
            isinstance(s, (tuple, list)) and len(s) == 3 for s in spectra):
        raise UserInputError(f"spectra must be a list of (t, freqs, power) triples "
                             f"(frequency.radial_power_spectrum gives freqs, power), got {type(spectra).__name__}")
    for t, _, _ in spectra:
        check_real("the t of a spectrum", t, 0.0)
    return list(spectra)


def spectrum_evolution_figure(
    spectra: Sequence[Spectrum],
    *,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (4.6, 3.2),
    cmap: str = "viridis",
) -> Figure:
    """Radial spectra, one curve per ``(t, freqs, power)`` (as ``radial_power_spectrum`` gives
    them), coloured by t, on log-log axes with frequencies written as 1/period. No spectra
    gives a placeholder saying they appear while painting.

    Args:
        spectra: ``(t, freqs, power)`` triples, one per curve.
        title: the title.
        ax: an axes to draw into (None: a new figure).
        figsize: the new figure's size in inches.
        cmap: the colour map from early to late steps.
    """
    spectra, colours = _check_spectra(spectra), _colormap(cmap)
    ax = _axes(ax, figsize)
    if not spectra:
        ax.text(0.5, 0.5, "spectra of the predicted x0\nappear while painting", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        ax.set_axis_off()
        ax.set_title("predicted x0: radial power spectrum" if title is None else title, fontsize="medium")
        return ax.figure
    ts = [float(t) for t, _, _ in spectra]
    lo, hi = min(ts), max(ts)
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
    lowest = 0.5
    for t, freqs, power in spectra:
        f, p = np.asarray(freqs, dtype=np.float64).reshape(-1), np.asarray(power, dtype=np.float64).reshape(-1)
        pos = f > 0  # the DC bin has no place on a log axis
        ax.plot(f[pos], p[pos], color=colours(norm(float(t))), lw=1)
        lowest = min(lowest, float(f[pos].min(initial=0.5)))
    ax.set_xscale("log")
    ax.set_yscale("log")
    # plain-text tick labels ("0.001", not mathtext) draw faster; this plot is redrawn during a run
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))
    ax.yaxis.set_minor_formatter(NullFormatter())
    octaves = [2.0 ** -k for k in range(1, int(np.ceil(-np.log2(lowest))) + 1)]
    ax.xaxis.set_major_locator(FixedLocator(octaves))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"1/{round(1 / v)}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("frequency (cycles/pixel)")
    ax.set_ylabel("power")
    ax.figure.colorbar(ScalarMappable(norm=norm, cmap=colours), ax=ax, label="t")
    ax.set_title("predicted x0: radial power spectrum" if title is None else title, fontsize="medium")
    return ax.figure


def _prediction_frames(frames: Sequence[Frame]) -> list[Frame]:
    return [f for f in frames if f.x0_pred is not None]


def frequency_figure(
    model: Any,
    config: ScheduleConfig,
    image: torch.Tensor,
    result: PaintResult,
    max_curves: int = 10,
    n_bands: int = 4,
) -> Figure:
    """A finished run's Fourier story. Left: the forward SNR per band of the composition under
    the model's noise schedule (resampling window shaded, stop marked). Right: the radial
    spectrum of the predicted x0 at up to ``max_curves`` kept steps as t falls.

    Args:
        model: the model that painted.
        config: the schedule that ran.
        image: the composed picture.
        result: the run's ``PaintResult`` (its frames).
        max_curves: at most this many spectra drawn.
        n_bands: how many frequency bands in the SNR panel.
    """
    model = check_model(model, members=("schedule",))
    if not isinstance(config, ScheduleConfig):
        raise UserInputError(f"config must be the ScheduleConfig that ran, got {type(config).__name__}")
    frames = _check_frames(result, "result")
    max_curves = check_whole("max_curves", max_curves, 1)
    fig = new_figure((11, 3.8))
    left, right = fig.subplots(1, 2)
    # the protocol's schedule(), not DiffusionModel.alphas_cumprod: the exact model paints too
    alphas_cumprod = np.asarray(model.schedule(config.t_T).alphas_cumprod, dtype=np.float64)
    band_snr_figure(image, alphas_cumprod, config, n_bands=n_bands, ax=left,
                    title=f"composition: forward SNR per band (t_T={config.t_T})")
    down = _prediction_frames(frames)
    picks = sorted({round(i) for i in np.linspace(0, len(down) - 1, min(max_curves, len(down)))}) if down else []
    spectra = [(down[i].t, *radial_power_spectrum(uint8_to_tensor(down[i].x0_pred).numpy())) for i in picks]
    spectrum_evolution_figure(spectra, ax=right, title="spectrum of the predicted x0 as t falls")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- GIF


def _check_frames(frames: Any, name: str = "frames") -> list[Frame]:
    kept = frames.frames if isinstance(frames, PaintResult) else frames
    if not isinstance(kept, Sequence) or isinstance(kept, (str, bytes)) or not all(isinstance(f, Frame) for f in kept):
        raise UserInputError(f"{name} must be a PaintResult or a list of its frames, got {type(frames).__name__}")
    return list(kept)


def _captioned(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 14), (255, 255, 255))
    out.paste(img, (0, 0))
    ImageDraw.Draw(out).text((3, img.height + 2), text, fill=(0, 0, 0))
    return out


def timesteps_gif(
    frames: PaintResult | Sequence[Frame],
    path: str | Path,
    *,
    which: Literal["x0", "x_t"] = "x0",
    known: tuple[torch.Tensor, torch.Tensor] | None = None,
    final: torch.Tensor | None = None,
    nrow: int | None = None,
    scale: int | None = None,
    fps: float = 10.0,
    hold_last_s: float = 1.0,
    captions: bool = False,
) -> Path:
    """Write a run's kept frames as a looping animated GIF, atomically; return its path.

    ``frames``: a ``PaintResult`` (its ``frames``) or the frames themselves. Each GIF frame is
    a grid of all samples (``nrow`` per row, default all in one row), enlarged ``scale`` times
    with nearest neighbour (default: enough for a short side of 128 px). ``which="x0"``
    animates the model's clean-image predictions (up steps make none and are skipped);
    ``"x_t"`` the noisy samples. ``known=(image, keep)`` pastes the kept pixels over each
    frame; ``final`` (e.g. ``result.samples``) is appended as the last frame; ``captions``
    writes "t=..." under each frame. The last frame stays ``hold_last_s`` seconds. GIF
    writers merge identical consecutive frames, so a run that stops changing gives fewer.

    Args:
        frames: a ``PaintResult`` or its frames.
        path: the GIF file (written atomically; a symbolic link there is replaced, its target left as it was).
        which: ``x0`` (the clean-image predictions) or ``x_t`` (the noisy samples).
        known: (image, keep) to paste the known pixels, or None.
        final: the finished samples, shown as the last frame, or None.
        nrow: pictures per row of the grid.
        scale: nearest-neighbour enlargement.
        fps: frames per second.
        hold_last_s: seconds the last frame stays.
        captions: write t and the model calls on each frame.
    """
    kept = _check_frames(frames)
    path = writable_file(check_path("path", path), "path", GIF_FILE)
    if which not in ("x0", "x_t"):
        raise UserInputError(f"which must be 'x0' or 'x_t', got {which!r}")
    # every frame's delay has the limit of the last one's (1/fps past it overflows the GIF's field)
    fps = check_real("fps", fps, 1 / MAX_GIF_HOLD_S, hint=f"frames per second: a frame shows at most {MAX_GIF_HOLD_S:g} s")
    hold_last_s = check_real("hold_last_s", hold_last_s, 0.0, MAX_GIF_HOLD_S, hint="seconds")
    captions = check_flag("captions", captions)
    nrow = None if nrow is None else check_whole("nrow", nrow, 1)
    scale = None if scale is None else check_whole("scale", scale, 1, MAX_GIF_SCALE + 1)
    what = "predicted x0" if which == "x0" else "x_t"
    batches: list[tuple[str, torch.Tensor]] = []
    for f in kept:
        pictures_u8 = f.x0_pred if which == "x0" else f.x_t
        if pictures_u8 is not None:
            batches.append((f"t={f.t}  {what}", uint8_to_tensor(pictures_u8)))
    if final is not None:
        side = batches[0][1].shape[-1] if batches else getattr(final, "shape", (1,))[-1]
        batches.append(("finished", check_picture(final, side, "final", batched=True).cpu()))
    if not batches:
        raise UserInputError(f"no kept frames with {which} to animate (was paint() called with max_frames=0?)")
    first = batches[0][1]
    nrow = nrow or first.shape[0]
    if scale is None:
        scale = max(1, 128 // max(1, min(first.shape[-2:])))
    if known is not None:
        if not isinstance(known, (tuple, list)) or len(known) != 2:
            raise UserInputError(f"known must be (image, keep), got {type(known).__name__}")
        image = check_picture(known[0], first.shape[-1], "known[0]").cpu()
        keep = check_keep(known[1], first.shape[-1], "known[1]").cpu()
        batches = [(caption, keep * image + (1 - keep) * batch) for caption, batch in batches]
    pictures = []
    for caption, batch in batches:
        picture = upscale_nearest(make_grid(batch, nrow=nrow), scale)
        pictures.append(_captioned(picture, caption) if captions else picture)
    frame_ms = max(20, round(1000 / fps))  # most viewers treat < 20 ms as 100 ms
    durations = [frame_ms] * len(pictures)
    durations[-1] = max(frame_ms, round(1000 * hold_last_s))
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return write_bytes_atomic(path, buf.getvalue())


public_names(globals())  # after every public definition
