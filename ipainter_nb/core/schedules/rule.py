"""The resampling window chosen from the frequency argument instead of a fixed number.

The paper stops resampling at t = 100 of 250 whatever the picture and the mask. The
argument behind it says *which* t matter: the forward process adds white noise, so each
spatial frequency f of the picture is drowned (signal-to-noise ratio below 1) from some
t on, the fine ones first. A band is decided by the sampler while its SNR climbs through
1, and resampling can only harmonise what is still being decided. Two bands bound what
has to agree across a hole:

* the hole's own scale, ``f_hole ≈ 1 / (hole diameter)``: coarser structure is pinned by
  the kept pixels around it; this band is decided last going up in t;
* the seam: a pixel-scale step at the boundary, the finest band (Nyquist), decided at the
  very end of the run.

So the window runs from where the seam band settles to where the hole band drowns:

    SNR(f, t) = a_t / (1 - a_t) · P(f)
    stop  = the t where SNR(0.5 cycles/pixel, t) falls below margin   (≈ 0: the end)
    start = the t where SNR(f_hole, t) falls below 1 / margin

with ``a_t`` the respaced ``alphas_cumprod`` and ``P(f)`` the data's power per Fourier
coefficient (orthonormal DFT, the convention of :mod:`.frequency`): ``pixel_var`` times a
spectrum ``(f0² + f²)^(-β/2)`` normalised to mean 1 over the picture's frequency grid.
This is the opposite of the paper's truncation, which keeps the high t and drops the low
ones; on the exact Gaussian model (``benchmarks/exact_schedules.py``) the low window keeps
RePaint's accuracy and the truncation loses most of it. The margin (4) and the hole's
scale (radius of the disc of the hole's area) were chosen on 16² exact laws; the 32²
Monte-Carlo masks were not used to choose them. :func:`frequency_schedule` returns the
window as a :class:`ScheduleConfig`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import UserInputError
from ...public import public_names
from ..arguments import as_tensor, check_finite, check_keep, check_real, check_side, check_whole, is_real, kept
from ..paintable import check_model, model_traits
from .builders import MAX_SCHEDULE_STEPS
from .config import ScheduleConfig

__all__ = ["frequency_schedule", "hole_radius", "mask_frequency", "band_snr_at", "explain"]

# Natural pictures in [-1, 1]: pixel variance about 0.25, spectral exponent about 2 to 3
# (demo scenes: 2.9, fitted by exact.GaussianImageModel.fit), knee at the picture's fundamental.
DEFAULT_BETA = 2.6
DEFAULT_PIXEL_VAR = 0.25
# The seam is a pixel-scale step at the mask's boundary: the finest band, Nyquist.
SEAM_FREQUENCY = 0.5


def hole_radius(keep: Any) -> int:
    """The largest distance (pixels, chessboard metric) from a generated pixel to a kept one.

    Half the width of the widest part of the hole; 0 when nothing is generated. With
    nothing kept it is the picture's half-size (every structure is free).

    Args:
        keep: the keep mask (1 = keep), (1, H, W) or (H, W).
    """
    k = kept(check_keep(keep))[0]
    h, w = k.shape
    if not bool(k.any()):
        return max(h, w) // 2
    covered = k[None, None].float()
    r = 0
    while not bool((covered > 0).all()):
        covered = F.max_pool2d(covered, 3, stride=1, padding=1)  # grow the kept region by one pixel
        r += 1
    return r


def mask_frequency(keep: Any = None, image_size: int | None = None) -> float:
    """The frequency (cycles/pixel) of the hole's scale: one cycle across a disc of the hole's area.

    A thin frame has a small inradius but long modes along it; the radius of the disc of
    equal area sees them (for a compact hole the two radii are close), so the larger of
    the two sets the scale.

    Args:
        keep: the keep mask (None: a hole a quarter of the picture across).
        image_size: the picture side (default: the mask's).
    """
    if keep is None:
        if image_size is None:
            raise UserInputError("give keep (the mask) or image_size to place the mask's scale")
        radius = max(check_side(image_size) / 8, 1.0)  # a typical cutout hole: a quarter of the picture across
    else:
        mask = check_keep(keep, None if image_size is None else check_side(image_size))
        area = float((~kept(mask)).sum())
        radius = max(hole_radius(keep), (area / np.pi) ** 0.5)
    return 1.0 / (2 * max(radius, 1.0))


def _power_at(f: float, size: int, beta: float, f0: float, pixel_var: float) -> float:
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    norm = ((f0**2 + fy**2 + fx**2) ** (-beta / 2)).mean()
    return pixel_var * (f0**2 + f**2) ** (-beta / 2) / norm


def band_snr_at(alphas_cumprod: Any, f: float, size: int, beta: float = DEFAULT_BETA, f0: float | None = None,
                pixel_var: float = DEFAULT_PIXEL_VAR) -> np.ndarray:
    """Forward SNR of the frequency ``f`` at every respaced t (shape (t_T,)).

    Args:
        alphas_cumprod: ᾱ of each respaced level.
        f: the frequency in cycles per pixel.
        size: the picture side.
        beta: the spectrum's exponent.
        f0: its knee (None: one cycle per picture).
        pixel_var: the pixel variance of the data.
    """
    a = np.asarray(alphas_cumprod, dtype=np.float64)
    f0 = 1.0 / size if f0 is None else f0
    return a / (1 - a) * _power_at(f, size, beta, f0, pixel_var)


def _crossing(snr: np.ndarray, level: float) -> int:
    """The first t (ascending) at which the SNR falls below ``level``; len(snr) if never."""
    below = np.flatnonzero(snr < level)
    return int(below[0]) if len(below) else len(snr)


def frequency_schedule(
    model_or_alphas_cumprod: Any,
    keep: Any = None,
    t_T: int | None = None,
    spectrum_beta: float | None = None,
    *,
    f0: float | None = None,
    pixel_var: float | None = None,
    image_size: int | None = None,
    margin: float = 4.0,
    jump_length: int | None = None,
    jump_n_sample: int | None = None,
    max_nfe: int | None = None,
) -> ScheduleConfig:
    """Propose the resampling window (stop and start) for a mask from the frequency argument.

    Args:
        model_or_alphas_cumprod: a model (``DiffusionModel``, ``ExactDiffusionModel``) or the
            ``alphas_cumprod`` of the respaced schedule (length ``t_T``).
        keep: the mask (1 = keep); its widest hole sets the frequency band to harmonise.
            None: a hole a quarter of the picture across.
        t_T: respaced steps (default: the model's default schedule, or len(alphas_cumprod)).
        spectrum_beta: the exponent β of the data spectrum ``pixel_var · (f0² + f²)^(-β/2)``
            (normalised to mean 1 on the grid). Default: the exact model's own parameters
            when the model has them, else natural-picture values (β = 2.6, f0 = one cycle
            per picture, pixel variance 0.25).
        f0: the spectrum's knee in cycles per pixel (default: as for ``spectrum_beta``).
        pixel_var: the pixel variance of the data (default: as for ``spectrum_beta``).
        image_size: the picture's side (default: the model's, or the mask's).
        margin: the window covers the t where the band's SNR lies in [1/margin, margin].
        jump_length: steps travelled back up on each jump. Default: the paper's proportions
            for ``t_T`` (``ScheduleConfig.for_t_T``), or the model's default schedule's.
        jump_n_sample: times each stretch is denoised (default: as for ``jump_length``).
        max_nfe: a budget of model calls: the window is lowered from the top until it
            fits (on the exact benchmark the low end of the window matters most).

    Returns:
        A ``ScheduleConfig`` with ``stop_resampling_at`` and ``start_resampling_at`` set;
        ``describe()`` and ``nfe`` tell its cost.
    """
    margin = check_real("margin", margin, 1.0, low_open=True, hint="the window spans SNR 1/margin..margin")
    spectrum_beta, f0, pixel_var = (None if v is None else check_real(n, v, 0.0, low_open=n != "spectrum_beta")
                                    for n, v in (("spectrum_beta", spectrum_beta), ("f0", f0), ("pixel_var", pixel_var)))
    t_T, jump_length, jump_n_sample, max_nfe = (None if v is None else check_whole(n, v, 1) for n, v in (
        ("t_T", t_T), ("jump_length", jump_length), ("jump_n_sample", jump_n_sample), ("max_nfe", max_nfe)))
    alphas, t_T, like, image_model, model_size = _noise_levels(model_or_alphas_cumprod, t_T)
    image_size = check_side(image_size) if image_size is not None else model_size
    if keep is not None:
        keep = check_keep(keep, image_size)
        image_size = image_size or keep.shape[-1]
    if image_size is None:
        raise UserInputError("give image_size (or keep, or a model) so the mask's scale can be placed")
    if image_model is not None:  # the exact model knows its spectrum
        spectrum_beta = spectrum_beta if spectrum_beta is not None else image_model.beta
        f0 = f0 if f0 is not None else image_model.f0
        pixel_var = pixel_var if pixel_var is not None else float(np.trace(np.asarray(image_model.channel_cov)) / 3)
    beta = DEFAULT_BETA if spectrum_beta is None else spectrum_beta
    var = DEFAULT_PIXEL_VAR if pixel_var is None else pixel_var
    hole_band = band_snr_at(alphas, mask_frequency(keep, image_size), image_size, beta, f0, var)
    seam_band = band_snr_at(alphas, SEAM_FREQUENCY, image_size, beta, f0, var)
    stop = min(_crossing(seam_band, margin), t_T)
    start = min(max(_crossing(hole_band, 1.0 / margin), stop), t_T)

    base = ScheduleConfig.for_t_T(t_T, like if like is not None and like.t_T == t_T else None)
    j = jump_length if jump_length is not None else base.jump_length
    r = jump_n_sample if jump_n_sample is not None else max(base.jump_n_sample, 2)
    j = max(1, min(j, t_T - 1))
    # jumps start at multiples of j and cover [p, p + j]: round the stop down so that the
    # jump covering the seam band's settling time is kept
    stop = (stop // j) * j
    return _within_budget(t_T, j, r, stop, min(t_T, max(start, stop)), max_nfe)


def _noise_levels(source: Any, t_T: int | None) -> tuple[np.ndarray, int, ScheduleConfig | None, Any, int | None]:
    """(ᾱ per respaced level, t_T, the model's default schedule, its exact picture model, its side) from
    a model or from a table of ᾱ (then the last three are None)."""
    if isinstance(source, (np.ndarray, list, tuple, torch.Tensor)):
        alphas = _checked_alphas(source)
        if t_T is not None and t_T != len(alphas):
            raise UserInputError(f"t_T={t_T} but alphas_cumprod has {len(alphas)} values: pass the respaced schedule's table")
        return alphas, len(alphas), None, None, None
    model = check_model(source, "model_or_alphas_cumprod")
    traits = model_traits(model)
    like = traits.default_schedule
    t_T = model.check_t_T(t_T or (like.t_T if like is not None else 250))
    return model.schedule(t_T).alphas_cumprod, t_T, like, traits.image_model, model.image_size


def _within_budget(t_T: int, j: int, r: int, stop: int, start: int, max_nfe: int | None) -> ScheduleConfig:
    """The window's config, its top lowered until it costs at most ``max_nfe`` model calls."""
    def config(start: int | None, repeats: int = r) -> ScheduleConfig:
        return ScheduleConfig(t_T, jump_length=j, jump_n_sample=repeats,
                              stop_resampling_at=None if start is None else stop, start_resampling_at=start)

    planned = config(start)
    if max_nfe is None:
        return planned
    if max_nfe < t_T:
        raise UserInputError(f"max_nfe={max_nfe} is below t_T={t_T}: a schedule needs at least t_T model calls")
    while planned.nfe > max_nfe and start > stop:
        start = max(stop, start - j)
        planned = config(start)
    return planned if planned.nfe <= max_nfe else config(None, 1)  # not even one jump fits: no resampling


def _checked_alphas(value: Any) -> np.ndarray:
    """A table of ᾱ (one per respaced level, each in (0, 1)) as float64, or a ``UserInputError``."""
    if isinstance(value, (list, tuple)):
        if not all(map(is_real, value)):
            raise UserInputError("alphas_cumprod must be a list of numbers (the respaced schedule's ᾱ table)")
        value = np.asarray(value, dtype=np.float64)
    alphas = check_finite("alphas_cumprod", as_tensor("alphas_cumprod", value).double().cpu()).numpy().reshape(-1)
    if not 1 <= len(alphas) <= MAX_SCHEDULE_STEPS or alphas.min() <= 0 or alphas.max() >= 1:
        raise UserInputError(f"alphas_cumprod must hold 1..{MAX_SCHEDULE_STEPS} values in (0, 1) (a model's "
                             f"schedule(t_T).alphas_cumprod), got {len(alphas)} values")
    return alphas


def explain(config: ScheduleConfig, keep: Any = None, image_size: int | None = None) -> str:
    """One line saying what the window is for (the band's frequency and wavelength).

    Args:
        config: the schedule whose window is explained.
        keep: the mask it was chosen for.
        image_size: the picture side (default: the mask's).
    """
    size = image_size or (int(np.asarray(keep.shape)[-1]) if keep is not None else None)
    f = mask_frequency(keep, size)
    return (f"resample t={config.stop_resampling_at}..{config.start_resampling_at} of {config.t_T}: where the band of the "
            f"hole's scale ({f:.3f} cycles/pixel, {1 / f:.0f} px wavelength) is being decided; {config.nfe} model calls")


public_names(globals())  # after every public definition
