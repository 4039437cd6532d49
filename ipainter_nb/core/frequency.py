"""The Fourier argument for truncated resampling, as measurable quantities.

The forward process adds white Gaussian noise, whose power is the same at every spatial
frequency, while natural images put most of their power at low frequencies. So, as ``t``
grows, the high-frequency bands of a picture drown in noise first (their signal-to-noise
ratio falls below 1 at small ``t``) and the low bands last. Resampling at large ``t``
harmonises the coarse layout; at small ``t`` only fine detail is being decided, and
resampling there mostly averages it away (blur). These functions measure that:

* :func:`radial_power_spectrum`, :func:`band_energies`, :func:`band_edges`: where an
  image's energy lies;
* :func:`band_snr`, :func:`drowning_times`: the forward-process SNR per band and the time
  each band drowns;
* :func:`sharpness`, :func:`gradient_energy`: how much fine detail a result keeps.

The matching figures are drawn by :mod:`ipainter_nb.viz` (``band_snr_figure``,
``spectrum_evolution_figure``).

Inputs may be torch tensors or numpy arrays, shaped ``(H, W)`` (greyscale),
``(C, H, W)`` or ``(N, C, H, W)``, with values in ``[-1, 1]``. Results are numpy.

FFT normalisation: all spectra use the orthonormal 2-D DFT (``norm="ortho"``). With it,
Parseval holds (total power equals the sum of squared pixels) and white noise of variance
``sigma**2`` has expected power exactly ``sigma**2`` at every frequency, which is what lets
:func:`band_snr` divide signal power by ``1 - alpha_bar`` directly.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..errors import UserInputError
from ..public import public_names
from .arguments import MAX_IMAGE_SIDE, as_tensor, check_finite, check_keep, check_real, check_whole, kept

__all__ = [
    "radial_power_spectrum",
    "band_edges",
    "band_energies",
    "band_snr",
    "drowning_times",
    "sharpness",
    "gradient_energy",
]

Spacing = Literal["log", "linear"]


# --------------------------------------------------------------------------- helpers


def _to_numpy(x: Any, name: str, finite: bool = True) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise UserInputError(f"{name} must be numbers (a tensor, array or list of them), got {x!r:.60}") from None
    t = as_tensor(name, x).detach().cpu()
    if finite:
        check_finite(name, t)
    elif bool(t.isnan().any()):
        raise UserInputError(f"{name} holds {int(t.isnan().sum())} NaN values of {t.numel()}: fix the input")
    if t.dtype.itemsize < 4:
        t = t.float()  # numpy has no bfloat16
    # cast in numpy: torch spreads even this over its thread pool, which costs far more
    # than the cast on a CPU busy running the model in another thread
    return np.asarray(t.numpy(), dtype=np.float64)


def _as_nchw(image: Any) -> np.ndarray:
    x = _to_numpy(image, "image")
    if not 2 <= x.ndim <= 4:
        raise UserInputError(f"image has shape {tuple(x.shape)}: expected (H, W), (C, H, W) or (N, C, H, W)")
    if x.size == 0 or max(x.shape[-2:]) > MAX_IMAGE_SIDE:
        raise UserInputError(f"image has shape {tuple(x.shape)}: each side must be 1..{MAX_IMAGE_SIDE} pixels")
    return x.reshape((1,) * (4 - x.ndim) + x.shape)


def _power_2d(x: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D power spectrum of an NCHW array, averaged over N and C -> (H, W)."""
    f = np.fft.fft2(x, norm="ortho")
    return (f.real**2 + f.imag**2).mean(axis=(0, 1))


def _radius(h: int, w: int) -> np.ndarray:
    """Radial frequency (cycles/pixel) of each coefficient of an (h, w) DFT."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    return np.hypot(fy, fx)


def _band_of(h: int, w: int, n_bands: int, spacing: Spacing) -> np.ndarray:
    """Band index per coefficient; -1 for the DC term."""
    edges = band_edges(min(h, w), n_bands, spacing)
    r = _radius(h, w)
    # Inner edges only: band 0 reaches down to just above DC, the last band out to the
    # corners beyond 0.5 cycles/pixel, so the bands partition all non-DC energy.
    idx = np.searchsorted(edges[1:-1], r, side="right")
    idx[r == 0] = -1
    return idx


# --------------------------------------------------------------------------- spectra


def radial_power_spectrum(image: Any) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum.

    Each DFT coefficient goes to the integer radius bin ``k = round(r * size)`` with
    ``size = min(H, W)`` and ``r`` its radial frequency; bins ``0..size // 2`` are kept
    (corner frequencies beyond 0.5 cycles/pixel are dropped). Power is averaged within a
    bin and over channels and batch.

    Args:
        image: pictures, (..., C, H, W).

    Returns:
        ``(freqs, power)``: ``freqs = k / size`` from 0 to 0.5 cycles/pixel, and the mean
        power per bin (orthonormal DFT, so white noise of variance 1 gives about 1).
    """
    x = _as_nchw(image)
    h, w = x.shape[-2:]
    size = min(h, w)
    p = _power_2d(x)
    k = np.rint(_radius(h, w) * size).astype(np.int64)
    n_bins = size // 2 + 1
    keep = k < n_bins
    sums = np.bincount(k[keep], weights=p[keep], minlength=n_bins)
    counts = np.bincount(k[keep], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        power = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return np.arange(n_bins) / size, power


def band_edges(size: int, n_bands: int = 4, spacing: Spacing = "log") -> np.ndarray:
    """Edges (cycles/pixel, ascending, ``n_bands + 1`` values) of the frequency bands.

    * ``"log"`` (default): ``geomspace(1/size, 0.5, n_bands + 1)``, equal ratios from the
      lowest non-zero frequency of a ``size``-pixel image to Nyquist; for ``size=32`` and
      4 bands these are octaves ``1/32, 1/16, 1/8, 1/4, 1/2``. Natural images have roughly
      ``1/f**2`` spectra, so log bands hold comparable shares of the picture's structure.
    * ``"linear"``: ``linspace(0, 0.5, n_bands + 1)``.

    Band ``i`` holds the coefficients with ``edges[i] <= r < edges[i + 1]``, except that
    the first band also takes every non-DC frequency below ``edges[0]`` and the last one
    the corner frequencies at or above 0.5, so the bands cover all non-DC energy.

    Args:
        size: the picture side.
        n_bands: how many frequency bands.
        spacing: ``log`` or ``linear`` spacing of the band edges.
    """
    size = check_whole("size", size, 2, MAX_IMAGE_SIDE + 1)
    n_bands = check_whole("n_bands", n_bands, 1, size + 1)
    if spacing == "log":
        return np.geomspace(1.0 / size, 0.5, n_bands + 1)
    if spacing == "linear":
        return np.linspace(0.0, 0.5, n_bands + 1)
    raise UserInputError(f"spacing={spacing!r} is invalid: use 'log' or 'linear'")


def band_energies(image: Any, n_bands: int = 4, spacing: Spacing = "log") -> np.ndarray:
    """Fraction of the image's non-DC energy in each band, low to high (sums to 1).

    Bands are those of :func:`band_edges` for ``size = min(H, W)``. A constant image has
    no non-DC energy and gives all zeros.

    Args:
        image: pictures, (..., C, H, W).
        n_bands: how many frequency bands.
        spacing: ``log`` or ``linear``.
    """
    x = _as_nchw(image)
    h, w = x.shape[-2:]
    p = _power_2d(x)
    idx = _band_of(h, w, n_bands, spacing)
    ac = idx >= 0
    energy = np.bincount(idx[ac], weights=p[ac], minlength=n_bands)
    total = energy.sum()
    return energy / total if total > 0 else np.zeros(n_bands)


def band_snr(
    image: Any, alphas_cumprod: Any, n_bands: int = 4, spacing: Spacing = "log"
) -> np.ndarray:
    """Forward-process signal-to-noise ratio per band at each ``t``; shape ``(T, n_bands)``.

    ``x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps`` with ``a_t = alphas_cumprod[t]``, so in
    band ``b`` the signal power is ``a_t * P_b`` (``P_b``: mean power per coefficient of
    ``image`` in the band) and the noise power is ``(1 - a_t) * 1``: unit-variance white
    noise has power 1 per coefficient under the orthonormal DFT used for ``P_b``.
    ``a_t = 1`` gives ``inf``.

    Args:
        image: the clean picture whose spectrum is used.
        alphas_cumprod: ᾱ of each level of the schedule.
        n_bands: how many frequency bands.
        spacing: ``log`` or ``linear``.
    """
    x = _as_nchw(image)
    h, w = x.shape[-2:]
    p = _power_2d(x)
    idx = _band_of(h, w, n_bands, spacing)
    ac = idx >= 0
    counts = np.bincount(idx[ac], minlength=n_bands)
    if np.any(counts == 0):
        raise UserInputError(
            f"n_bands={n_bands} is too many for a {h}x{w} image: some bands hold no frequency"
        )
    signal = np.bincount(idx[ac], weights=p[ac], minlength=n_bands) / counts
    a = np.atleast_1d(_to_numpy(alphas_cumprod, "alphas_cumprod")).reshape(-1)
    if a.size == 0 or np.any((a < 0) | (a > 1)):
        raise UserInputError("alphas_cumprod must hold at least one value, each in [0, 1] (a model's schedule(t_T).alphas_cumprod)")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a / (1.0 - a)
    return ratio[:, None] * signal[None, :]


def drowning_times(snr: Any) -> np.ndarray:
    """For each band (column of ``snr``) the first ``t`` at which SNR is below 1.

    A band that never drops below 1 within the ``T`` rows gets ``T``. With a natural image
    the high bands drown first, i.e. get the smaller times.

    Args:
        snr: band SNR per (level, band), as ``band_snr`` gives it.
    """
    s = _to_numpy(snr, "snr", finite=False)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.size == 0:
        raise UserInputError(f"snr has shape {tuple(s.shape)}: expected (T, n_bands)")
    below = s < 1.0
    return np.where(below.any(axis=0), below.argmax(axis=0), s.shape[0]).astype(np.int64)


# --------------------------------------------------------------------------- sharpness


def _mask_2d(mask: Any, h: int, w: int) -> np.ndarray:
    m = kept(check_keep(mask, (h, w), name="mask"))[0].numpy()
    if not m.any():
        raise UserInputError("mask selects no pixel: give 1 where pixels are measured (e.g. 1 - keep for the generated region)")
    return m


def sharpness(image: Any, cutoff: float = 0.25, mask: Any | None = None) -> float:
    """High-frequency energy ratio: non-DC energy above ``cutoff`` cycles/pixel over all non-DC.

    Without ``mask`` the whole image is transformed as is (periodic DFT). With ``mask``
    (1 where pixels are to be measured, 0 elsewhere; pass ``1 - keep`` to measure the generated
    region), the image is cropped to the mask's bounding box, pixels outside the mask are
    set to the per-channel mean of those inside, the mean is removed, and a 2-D Hann window
    is applied so that the crop's borders add no spurious high frequencies. Windowing
    itself shifts the ratio slightly, so compare masked values with masked values.
    For irregular regions :func:`gradient_energy` is the more local alternative.

    Args:
        image: pictures, (..., C, H, W) in [-1, 1].
        cutoff: the frequency (fraction of Nyquist) above which energy counts as detail.
        mask: where to measure (1 = count), or None for everywhere.
    """
    cutoff = check_real("cutoff", cutoff, 0.0, 0.5 * np.sqrt(2), low_open=True, high_open=True, hint="cycles/pixel")
    x = _as_nchw(image)
    if mask is not None:
        h, w = x.shape[-2:]
        m = _mask_2d(mask, h, w)
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        x = x[..., sl[0], sl[1]]
        m = m[sl]
        if min(m.shape) < 2:
            return 0.0
        mean = x[..., m].mean(axis=-1)[..., None, None]
        x = np.where(m, x, mean) - mean
        x = x * np.outer(np.hanning(m.shape[0]), np.hanning(m.shape[1]))
    h, w = x.shape[-2:]
    p = _power_2d(x)
    r = _radius(h, w)
    total = p[r > 0].sum()
    return float(p[r > cutoff].sum() / total) if total > 0 else 0.0


def gradient_energy(image: Any, mask: Any | None = None) -> float:
    """Mean squared finite-difference gradient: ``mean(dx**2) + mean(dy**2)``.

    Differences are between horizontally or vertically adjacent pixels; with ``mask``
    (1 where pixels are measured, 0 elsewhere) only pairs with both pixels inside count, so the
    border between kept and generated regions does not leak in. Averaged over channels
    and batch. Blur lowers it; added detail or noise raises it.

    Args:
        image: pictures, (..., C, H, W).
        mask: where to measure (1 = count), or None for everywhere.
    """
    x = _as_nchw(image)
    h, w = x.shape[-2:]
    dx = np.diff(x, axis=-1) ** 2
    dy = np.diff(x, axis=-2) ** 2
    if mask is None:
        mx = np.ones((h, w - 1), bool)
        my = np.ones((h - 1, w), bool)
    else:
        m = _mask_2d(mask, h, w)
        mx = m[:, 1:] & m[:, :-1]
        my = m[1:, :] & m[:-1, :]
    total = 0.0
    for d, valid in ((dx, mx), (dy, my)):
        if valid.any():
            total += float(d[..., valid].mean())
    return total


public_names(globals())  # after every public definition
