"""Where the truth is known: a Gaussian image model with an exact denoiser.

Natural pictures are far from Gaussian, but their second-order statistics are simple: the
power spectrum falls off as a power of the frequency and the colour channels are strongly
correlated. :class:`GaussianImageModel` keeps exactly that and nothing else: each picture
is ``mean + U @ (fields)``, where the three fields are independent periodic Gaussian random
fields with power spectrum ``P(f) ∝ (f0² + |f|²)^(-β/2)`` (``f`` in cycles per pixel) and
``U`` diagonalises the 3×3 channel covariance. For such a model everything a diffusion
sampler needs is known in closed form:

* the exact denoiser ``E[x0 | x_t]``: a Wiener filter, diagonal in (eigen-channel,
  frequency), applied by FFT (:class:`ExactDiffusionModel`, which ``paint()`` runs like a
  trained ``DiffusionModel``);
* the exact answer of inpainting: the conditional law of the generated pixels given the
  kept ones (:meth:`GaussianImageModel.conditional`, a :class:`ExactConditional`);
* the exact output law of any time-travel schedule (:func:`schedule_output_law`): with a
  linear denoiser every sampler step is affine in the state plus Gaussian noise, so the
  mean and covariance can be carried step by step;
* how far a schedule's output is from the truth (:func:`schedule_error`), noise-free.

The keep mask is the same for the three channels, so in the eigen-channel basis the whole
problem splits into three independent scalar-field problems; all dense matrices below are
``H·W × H·W`` per eigen-channel, never ``3HW × 3HW``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import UserInputError
from .diffusion import DiffusionSchedule
from .schedules import count_nfe, validate_times

__all__ = [
    "GaussianImageModel",
    "ExactDiffusionModel",
    "ExactConditional",
    "GaussianLaw",
    "ScheduleError",
    "schedule_output_law",
    "schedule_error",
    "wiener_gain",
    "demo_image_model",
    "centre_hole_keep",
    "border_keep",
]

# Dense conditional covariances are (generated pixels)² per eigen-channel: 64² pixels is
# 128 MB in float64, the most that stays quick; beyond, conjugate gradients (mean, samples).
MAX_DENSE_PIXELS = 64 * 64


# --------------------------------------------------------------------------- the image model


def spectrum_grid(size: int, beta: float, f0: float) -> np.ndarray:
    """``(f0² + |f|²)^(-β/2)`` on the ``size × size`` DFT grid, scaled to mean 1.

    With the orthonormal DFT the mean of the spectrum is the variance of each pixel, so
    this normalisation makes the pixel covariance equal to the channel covariance.
    """
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    s = (f0**2 + fy**2 + fx**2) ** (-beta / 2)
    return s / s.mean()


@dataclass(frozen=True)
class GaussianImageModel:
    """A stationary Gaussian picture model (values in the [-1, 1] convention of the core).

    Attributes:
        beta: spectral exponent: power falls as ``|f|^-beta`` above ``f0`` (natural
            pictures: about 2 to 3).
        f0: knee frequency in cycles per pixel below which the spectrum flattens.
        channel_cov: 3×3 covariance of the colour channels of one pixel.
        mean: per-channel mean.

    The model is defined per pixel, so the same parameters describe pictures of any size.
    """

    beta: float = 2.6
    f0: float = 0.02
    channel_cov: tuple[tuple[float, ...], ...] = ((0.09, 0.08, 0.07), (0.08, 0.09, 0.08), (0.07, 0.08, 0.09))
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        cov = np.asarray(self.channel_cov, dtype=np.float64)
        if cov.shape != (3, 3) or not np.allclose(cov, cov.T):
            raise UserInputError(f"channel_cov must be a symmetric 3x3 matrix, got {cov.tolist()}")
        if np.linalg.eigvalsh(cov).min() <= 0:
            raise UserInputError("channel_cov must be positive definite (every colour direction needs some variance)")
        if len(self.mean) != 3:
            raise UserInputError(f"mean must hold 3 channel values, got {self.mean}")
        if not (self.beta > 0 and self.f0 > 0):
            raise UserInputError(f"beta and f0 must be positive, got beta={self.beta}, f0={self.f0}")
        object.__setattr__(self, "channel_cov", tuple(tuple(float(v) for v in row) for row in cov))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))

    # -- construction ------------------------------------------------------------------
    @classmethod
    def fit(cls, images: Any) -> GaussianImageModel:
        """Fit mean, channel covariance, ``beta`` and ``f0`` to pictures.

        ``images``: (N, 3, H, W) in [-1, 1] (tensor or array), or (N, H, W, 3) uint8 as
        ``demo.make_scenes`` returns. The spectrum is the radially averaged power spectrum
        of ``frequency.radial_power_spectrum``; ``beta`` and the log-amplitude are a least
        squares line for each candidate ``f0``, the best ``f0`` is kept.
        """
        from .frequency import radial_power_spectrum

        x = _as_nchw_float(images)
        pixels = x.transpose(1, 0, 2, 3).reshape(3, -1)
        mean = pixels.mean(axis=1)
        cov = np.cov(pixels)
        freqs, power = radial_power_spectrum(x - mean[None, :, None, None])
        f, p = freqs[1:], power[1:]
        ok = np.isfinite(p) & (p > 0)
        f, logp = f[ok], np.log(p[ok])
        best = None
        for f0 in np.geomspace(1e-3, 0.25, 80):
            design = np.stack([np.ones_like(f), -0.5 * np.log(f0**2 + f**2)], axis=1)
            coef, *_ = np.linalg.lstsq(design, logp, rcond=None)
            err = float(((design @ coef - logp) ** 2).sum())
            if coef[1] > 0 and (best is None or err < best[0]):
                best = (err, float(coef[1]), float(f0))
        if best is None:
            raise UserInputError("the pictures' spectrum does not fall with frequency: cannot fit a power law to them")
        return cls(beta=best[1], f0=best[2], channel_cov=tuple(map(tuple, cov)), mean=tuple(mean))

    def scaled(self, std: float | None = None, mean: Sequence[float] | None = None) -> GaussianImageModel:
        """The same spectrum and colour correlations with another overall contrast or mean.

        ``std``: the mean per-channel standard deviation wanted. A contrast well inside
        [-1, 1] keeps ``paint()``'s clamps from touching the samples, which the exact law
        assumes.
        """
        cov = np.asarray(self.channel_cov)
        if std is not None:
            cov = cov * (std**2 / float(np.diag(cov).mean()))
        return GaussianImageModel(self.beta, self.f0, tuple(map(tuple, cov)), tuple(mean) if mean is not None else self.mean)

    # -- tensors -------------------------------------------------------------------------
    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """(eigenvalues λ_j, eigenvectors U[:, j]) of the channel covariance."""
        lam, u = np.linalg.eigh(np.asarray(self.channel_cov))
        return lam, u

    def spectrum(self, size: int) -> np.ndarray:
        """Spatial spectrum on a ``size²`` grid (mean 1); eigen-channel j has ``λ_j`` times it."""
        return spectrum_grid(size, self.beta, self.f0)

    def sample(self, n: int, size: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` pictures (n, 3, size, size) drawn from the model."""
        z = torch.randn((n, 3, size, size), generator=generator, device=device, dtype=torch.float64)
        lam, _ = self.eigen()
        amp = torch.as_tensor(np.sqrt(self.spectrum(size)[None] * lam[:, None, None]), device=z.device)
        fields = torch.fft.ifft2(torch.fft.fft2(z, norm="ortho") * amp, norm="ortho").real
        return self._from_eigen(fields, z.device).to(dtype)

    def _to_eigen(self, x: torch.Tensor, centre: bool = True) -> torch.Tensor:
        """Channel coordinates -> eigen-channel coordinates (``U^T (x - mean)``)."""
        _, u = self.eigen()
        x = x.to(torch.float64)
        if centre:
            x = x - torch.as_tensor(self.mean, dtype=torch.float64, device=x.device).view(3, 1, 1)
        return torch.einsum("cj,...chw->...jhw", torch.as_tensor(u, device=x.device), x)

    def _from_eigen(self, z: torch.Tensor, device: torch.device, centre: bool = True) -> torch.Tensor:
        _, u = self.eigen()
        x = torch.einsum("cj,...jhw->...chw", torch.as_tensor(u, device=device), z.to(torch.float64))
        if centre:
            x = x + torch.as_tensor(self.mean, dtype=torch.float64, device=device).view(3, 1, 1)
        return x

    # -- the exact answer of inpainting --------------------------------------------------
    def conditional(self, image: torch.Tensor, keep: torch.Tensor, dense: bool | None = None) -> ExactConditional:
        """The law of the generated pixels (keep = 0) given the kept ones (keep = 1); ``dense``: see
        :class:`ExactConditional` (default: dense when small enough)."""
        return ExactConditional(self, image, keep, dense)


def _as_nchw_float(images: Any) -> np.ndarray:
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 3 and x.dtype == np.uint8:
        return x.transpose(0, 3, 1, 2).astype(np.float64) / 127.5 - 1
    if x.ndim == 4 and x.shape[1] == 3:
        return x.astype(np.float64)
    raise UserInputError(
        f"images of shape {tuple(x.shape)} and dtype {x.dtype}: expected (N, 3, H, W) in [-1, 1] or (N, H, W, 3) uint8"
    )


_DEMO_CACHE: dict[tuple[int, int], GaussianImageModel] = {}


def demo_image_model(n: int = 256, seed: int = 0) -> GaussianImageModel:
    """The model fitted to ``n`` of the demo's procedural 64² scenes (cached)."""
    if (n, seed) not in _DEMO_CACHE:
        from ..demo.scenes import make_scenes

        _DEMO_CACHE[n, seed] = GaussianImageModel.fit(make_scenes(n, seed=seed, size=64))
    return _DEMO_CACHE[n, seed]


# --------------------------------------------------------------------------- masks


def centre_hole_keep(size: int, hole: int) -> torch.Tensor:
    """(1, size, size) keep mask with a ``hole × hole`` square to generate in the middle."""
    keep = torch.ones(1, size, size)
    a = (size - hole) // 2
    keep[:, a:a + hole, a:a + hole] = 0
    return keep


def border_keep(size: int, width: int) -> torch.Tensor:
    """(1, size, size) keep mask that generates a frame ``width`` pixels wide around a kept centre."""
    keep = torch.zeros(1, size, size)
    keep[:, width:size - width, width:size - width] = 1
    return keep


def _binary_keep(keep: torch.Tensor, size: int) -> np.ndarray:
    k = keep.detach().cpu().double().numpy().reshape(-1)
    if k.size != size * size:
        raise UserInputError(f"keep must be (1, {size}, {size}) like the image, got shape {tuple(keep.shape)}")
    if not np.all((k == 0) | (k == 1)):
        raise UserInputError("keep must hold only 0 and 1 for the exact conditional: render the Composition with feather=0")
    return k.astype(bool)


# --------------------------------------------------------------------------- the denoiser


def wiener_gain(power: torch.Tensor, alpha_bar: torch.Tensor | float) -> torch.Tensor:
    """``√a P / (a P + 1 - a)``: the posterior-mean gain of a component of prior power P seen
    as ``√a x0 + √(1-a) ε`` (the one formula of the exact denoiser)."""
    a = torch.as_tensor(alpha_bar, dtype=power.dtype, device=power.device)
    return a.sqrt() * power / (a * power + 1 - a)


@dataclass
class ExactDiffusionModel:
    """The exact denoiser of a :class:`GaussianImageModel`, called like a ``DiffusionModel``.

    ``paint(model, image, keep, times)`` runs on it unchanged: it has ``image_size``,
    ``device``, ``dtype``, ``name``, ``variance_type``, ``schedule(t_T)``,
    ``default_times()`` and returns the noise prediction from ``model(x, t, schedule)``.
    Any batch size; the arithmetic runs on ``device`` in ``dtype``.

    Note: ``paint()`` clamps the predicted x0 and the final samples to [-1, 1]; for exact
    statistics use a contrast well inside that range (``GaussianImageModel.scaled``) and
    ``clip_x0=False``.
    """

    image_model: GaussianImageModel
    size: int = 32
    beta_schedule: str = "linear"
    num_train_steps: int = 1000
    variance_type: str = "fixed_small"
    default_schedule: Any = None
    name: str = "exact-gaussian"
    _device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _dtype: torch.dtype = torch.float32
    _schedules: dict[int, DiffusionSchedule] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.variance_type not in ("fixed_small", "fixed_large"):
            raise UserInputError(f"variance_type must be 'fixed_small' or 'fixed_large', got {self.variance_type!r}")
        if self.default_schedule is None:
            from .schedules import ScheduleConfig

            self.default_schedule = ScheduleConfig(t_T=100, jump_length=5, jump_n_sample=5, stop_resampling_at=40)
        self._device = torch.device(self._device)
        self._rebuild_tables()

    @classmethod
    def create(cls, image_model: GaussianImageModel | None = None, size: int = 32, *, variance_type: str = "fixed_small",
               beta_schedule: str = "linear", num_train_steps: int = 1000, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32, default_schedule: Any = None) -> ExactDiffusionModel:
        """The exact model of ``image_model`` (default: fitted to the demo scenes) at ``size``²."""
        return cls(image_model or demo_image_model(), size, beta_schedule, num_train_steps, variance_type, default_schedule,
                   _device=torch.device(device or "cpu"), _dtype=dtype)

    def _rebuild_tables(self) -> None:
        lam, _ = self.image_model.eigen()
        # the spectrum on the rfft grid: the filter is real and even, so rfft/irfft are exact
        spec = self.image_model.spectrum(self.size)[:, : self.size // 2 + 1]
        self._power = torch.as_tensor(lam[:, None, None] * spec[None], device=self._device, dtype=torch.float64)

    @property
    def image_size(self) -> int:
        return self.size

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> ExactDiffusionModel:
        if device is not None:
            self._device = torch.device(device)
        if dtype is not None:
            self._dtype = dtype
        self._rebuild_tables()
        return self

    def check_t_T(self, t_T: int) -> int:
        if not 1 <= t_T <= self.num_train_steps:
            raise UserInputError(f"t_T must be in 1..{self.num_train_steps} for this model, got {t_T}: pick a shorter schedule")
        return t_T

    def schedule(self, t_T: int) -> DiffusionSchedule:
        """The training noise schedule respaced to ``t_T`` steps (cached), variance type fixed."""
        self.check_t_T(t_T)
        if t_T not in self._schedules:
            self._schedules[t_T] = DiffusionSchedule.create(self.beta_schedule, self.num_train_steps, str(t_T), self.variance_type)
        return self._schedules[t_T]

    def default_times(self) -> list[int]:
        return self.default_schedule.times()

    def wiener_gain(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        """Gain of ``E[x0 | x_t]`` per (sample, eigen-channel, rfft frequency)."""
        return wiener_gain(self._power, alpha_bar.to(self._power).view(-1, 1, 1, 1))

    def predict_x0(self, x: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
        """The posterior mean of the clean picture given ``x`` noised with ``alpha_bar`` (per sample)."""
        work = torch.float64 if self._dtype == torch.float64 else torch.float32
        a = alpha_bar.to(device=x.device, dtype=torch.float64).reshape(-1)
        if bool((a == a[0]).all()):
            a = a[:1]  # one level for the whole batch (every schedule step): one gain table
        n, size = x.shape[0], x.shape[-1]
        mean = torch.as_tensor(self.image_model.mean, dtype=work, device=x.device).view(1, 3, 1)
        u = torch.as_tensor(self.image_model.eigen()[1], dtype=work, device=x.device)
        centred = x.to(work).reshape(n, 3, -1) - a.to(work).sqrt().view(-1, 1, 1) * mean
        z = (u.T @ centred).reshape(n, 3, size, size)  # eigen-channels
        gain = self.wiener_gain(a).to(work)
        z = torch.fft.irfft2(torch.fft.rfft2(z, norm="ortho") * gain, s=(size, size), norm="ortho")
        return (u @ z.reshape(n, 3, -1) + mean).reshape(n, 3, size, size)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, schedule: DiffusionSchedule) -> torch.Tensor:
        """The noise prediction ``(x - √a x0_hat) / √(1 - a)`` at respaced levels ``t``."""
        a = torch.as_tensor(schedule.alphas_cumprod, dtype=torch.float64, device=x.device)[t.to(x.device).long()]
        x0 = self.predict_x0(x, a)
        a_ = a.to(x0.dtype).view(-1, 1, 1, 1)
        return ((x.to(x0.dtype) - a_.sqrt() * x0) / (1 - a_).sqrt()).to(x.dtype)


# --------------------------------------------------------------------------- exact conditional


def _circulant_kernel(spectrum: np.ndarray) -> np.ndarray:
    """First row of the circulant matrix with this (orthonormal-DFT) spectrum, as an (n, n) grid."""
    return np.fft.ifft2(spectrum).real


def _gather(kernel: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The circulant matrix entries ``kernel[(p - q) mod n]`` for flat pixel indices ``rows × cols``."""
    n = kernel.shape[0]
    ry, rx = np.divmod(rows, n)
    cy, cx = np.divmod(cols, n)
    return kernel[(ry[:, None] - cy[None, :]) % n, (rx[:, None] - cx[None, :]) % n]


def _conjugate_gradients(apply: Any, rhs: np.ndarray, tol: float = 1e-10, max_iter: int = 5000) -> np.ndarray:
    """Solve ``A x = rhs`` for a symmetric positive definite A given as ``apply``; rows of ``rhs`` are separate systems."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    p = r.copy()
    rr = (r * r).sum(axis=-1, keepdims=True)
    target = tol**2 * np.maximum(rr, 1e-300)
    for _ in range(max_iter):
        if np.all(rr <= target):
            break
        ap = apply(p)
        alpha = rr / np.maximum((p * ap).sum(axis=-1, keepdims=True), 1e-300)
        x += alpha * p
        r -= alpha * ap
        rr_new = (r * r).sum(axis=-1, keepdims=True)
        p = r + (rr_new / np.maximum(rr, 1e-300)) * p
        rr = rr_new
    return x


class ExactConditional:
    """The Gaussian law of the generated pixels given the kept ones.

    In eigen-channel coordinates, channel j of the generated pixels has mean ``m_j`` and
    covariance ``λ_j R`` with ``R = (Λ_GG)^-1``, where ``Λ`` is the circulant precision of
    the unit field (spectrum ``1/s``) and G the generated pixels; the conditional mean is
    ``-R Λ_GK y_K`` (y: kept pixels, centred and rotated).

    Up to ``MAX_DENSE_PIXELS`` generated pixels ``R`` is formed densely (covariances,
    principal components, scores). Beyond, or with ``dense=False``, the mean comes from
    conjugate gradients on ``Λ_GG`` (matrix-vector products by FFT) and the samples from
    Matheron's rule (a prior sample corrected by the conditional mean of its residual at
    the kept pixels): exact at any size, without the covariance.
    """

    def __init__(self, image_model: GaussianImageModel, image: torch.Tensor, keep: torch.Tensor, dense: bool | None = None):
        size = int(image.shape[-1])
        if tuple(image.shape[-3:]) != (3, size, size):
            raise UserInputError(f"image must be (3, H, W) with H = W, got shape {tuple(image.shape)}")
        self.image_model = image_model
        self.size = size
        self.keep = _binary_keep(keep, size)
        self.generated = np.flatnonzero(~self.keep)
        self.kept = np.flatnonzero(self.keep)
        self.dense = len(self.generated) <= MAX_DENSE_PIXELS if dense is None else dense
        self.lam, self.u = image_model.eigen()
        self._spectrum = image_model.spectrum(size)
        y = image_model._to_eigen(image.detach().cpu()).numpy().reshape(3, -1)  # centred, rotated
        self.known_eigen = y
        self.image = image.detach().cpu().double()
        self.R: np.ndarray | None = None
        if self.dense:
            precision = _circulant_kernel(1.0 / self._spectrum)
            self.R = np.linalg.inv(_gather(precision, self.generated, self.generated))
            self.R = 0.5 * (self.R + self.R.T)
        self.mean_eigen = self._mean_of(y)

    def _precision_apply(self, v: np.ndarray) -> np.ndarray:
        """``Λ v`` for pictures (..., H·W) by FFT."""
        shape = v.shape
        grid = v.reshape(-1, self.size, self.size)
        out = np.fft.ifft2(np.fft.fft2(grid) / self._spectrum).real
        return out.reshape(shape)

    def _mean_of(self, known: np.ndarray) -> np.ndarray:
        """Conditional mean (..., |G|) of the generated pixels given ``known`` (..., H·W) at the kept pixels."""
        if not len(self.kept):
            return np.zeros((*known.shape[:-1], len(self.generated)))
        outside = np.zeros_like(known)
        outside[..., self.kept] = known[..., self.kept]
        rhs = -self._precision_apply(outside)[..., self.generated]
        if self.R is not None:
            return rhs @ self.R.T

        def apply(v: np.ndarray) -> np.ndarray:
            full = np.zeros((*v.shape[:-1], self.size * self.size))
            full[..., self.generated] = v
            return self._precision_apply(full)[..., self.generated]

        flat = rhs.reshape(-1, rhs.shape[-1])
        return _conjugate_gradients(apply, flat).reshape(rhs.shape)

    def _require_dense(self, what: str) -> np.ndarray:
        if self.R is None:
            raise UserInputError(
                f"the {what} of the exact conditional is formed densely, up to {MAX_DENSE_PIXELS} generated pixels "
                f"({self.num_generated} here): use a smaller picture or hole; mean() and sample() work at any size"
            )
        return self.R

    @property
    def num_generated(self) -> int:
        return len(self.generated)

    def mean(self) -> torch.Tensor:
        """(3, H, W): the kept pixels as given, the conditional mean elsewhere."""
        z = self.known_eigen.copy()
        z[:, self.generated] = self.mean_eigen
        return self._paste_kept(self.image_model._from_eigen(torch.from_numpy(z.reshape(3, self.size, self.size)),
                                                             torch.device("cpu")))

    def _paste_kept(self, x: torch.Tensor) -> torch.Tensor:
        # the kept pixels exactly as given, not as they come back from the channel rotation
        keep = torch.from_numpy(self.keep.reshape(self.size, self.size))
        return torch.where(keep, self.image, x)

    def pixel_variance(self) -> torch.Tensor:
        """(3, H, W): conditional variance of every pixel (0 where kept)."""
        var = np.zeros((3, self.size * self.size))
        var[:, self.generated] = (self.u**2 @ self.lam)[:, None] * np.diag(self._require_dense("variance"))[None]
        return torch.from_numpy(var.reshape(3, self.size, self.size))

    def covariance(self) -> np.ndarray:
        """Dense (3|G|, 3|G|) covariance of the generated pixels, channel-major (``C ⊗ R``)."""
        return np.kron(np.asarray(self.image_model.channel_cov), self._require_dense("covariance"))

    def sample(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` exact conditional samples (n, 3, H, W), the kept pixels exactly as given."""
        if self.R is not None:
            chol = np.linalg.cholesky(self.R + 1e-12 * np.eye(self.num_generated) * np.trace(self.R) / max(self.num_generated, 1))
            z = torch.randn((n, 3, self.num_generated), generator=generator, dtype=torch.float64).numpy()
            draws = self.mean_eigen[None] + np.sqrt(self.lam)[None, :, None] * (z @ chol.T)
        else:  # Matheron's rule: prior sample + conditional mean of the residual at the kept pixels
            prior = self.image_model._to_eigen(self.image_model.sample(n, self.size, generator, dtype=torch.float64)).numpy()
            prior = prior.reshape(n, 3, -1)
            draws = prior[:, :, self.generated] + self._mean_of(self.known_eigen[None] - prior)
        full = np.broadcast_to(self.known_eigen, (n, 3, self.size * self.size)).copy()
        full[:, :, self.generated] = draws
        x = self.image_model._from_eigen(torch.from_numpy(full.reshape(n, 3, self.size, self.size)), torch.device("cpu"))
        return self._paste_kept(x).to(dtype)

    # -- scoring --------------------------------------------------------------------------
    def components(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` leading principal components of the conditional: (channel j, eigenvector of R, variance)."""
        rho, vec = np.linalg.eigh(self._require_dense("principal components"))
        var = self.lam[:, None] * rho[None, :]  # (3, |G|)
        order = np.argsort(var.ravel())[::-1][:k]
        j, r = np.divmod(order, len(rho))
        return j, vec[:, r], var.ravel()[order]

    def score_samples(self, samples: torch.Tensor, k: int = 16) -> dict[str, float]:
        """Distance of samples (M, 3, H, W) to this law (see :func:`_scores`)."""
        z = self.image_model._to_eigen(samples.detach().cpu()).numpy().reshape(samples.shape[0], 3, -1)[:, :, self.generated]
        mean = z.mean(axis=0)
        # pixel variances need the cross-channel terms: go back to channel coordinates
        pix = np.einsum("cj,njg->ncg", self.u, z)
        pix_var = pix.var(axis=0, ddof=1)
        j, vec, comp_var = self.components(k)
        proj = np.einsum("gk,nkg->nk", vec, z[:, j, :] - self.mean_eigen[j][None])  # (M, k)
        proj = proj / np.sqrt(comp_var)
        return _scores(self, mean, pix_var, proj.mean(axis=0), np.cov(proj, rowvar=False, ddof=1), samples.shape[0])

    def score_law(self, law: GaussianLaw, k: int = 16) -> dict[str, float]:
        """Distance of a Gaussian law (a schedule's exact output) to this law, noise-free."""
        g = self.generated
        mean = law.mean_eigen[:, g]
        cov = law.cov_eigen[:, g][:, :, g]  # (3, |G|, |G|)
        pix_var = np.einsum("cj,jg->cg", self.u**2, np.diagonal(cov, axis1=1, axis2=2))
        j, vec, comp_var = self.components(k)
        zm = np.einsum("gk,kg->k", vec, mean[j] - self.mean_eigen[j]) / np.sqrt(comp_var)
        zc = np.zeros((len(j), len(j)))
        for ch in range(3):
            sel = np.flatnonzero(j == ch)
            if len(sel):
                v = vec[:, sel]
                zc[np.ix_(sel, sel)] = v.T @ cov[ch] @ v
        zc = zc / np.sqrt(np.outer(comp_var, comp_var))
        return _scores(self, mean, pix_var, zm, zc, None)


def _scores(cond: ExactConditional, mean_eigen: np.ndarray, pix_var: np.ndarray, z_mean: np.ndarray, z_cov: np.ndarray,
            num_samples: int | None) -> dict[str, float]:
    """The three numbers every result is judged by.

    * ``bias``: root mean square over generated pixels and channels of the mean's error in
      units of the exact conditional standard deviation (M samples of the truth give about
      ``1/√M``);
    * ``var_ratio``: mean over generated pixels of the variance over the exact variance;
    * ``kl``: Gaussian KL(result ‖ exact) on the ``k`` leading principal components of the
      exact conditional covariance, where the coarse structure of the fill lives.
    """
    pix_mean = np.einsum("cj,jg->cg", cond.u, mean_eigen - cond.mean_eigen)
    exact_var = (cond.u**2 @ cond.lam)[:, None] * np.diag(cond._require_dense("score"))[None]
    bias = float(np.sqrt(np.mean(pix_mean**2 / exact_var)))
    var_ratio = float(np.mean(pix_var / exact_var))
    k = len(z_mean)
    sign, logdet = np.linalg.slogdet(z_cov)
    kl = 0.5 * (np.trace(z_cov) + float(z_mean @ z_mean) - k - logdet) if sign > 0 else float("inf")
    return {"bias": bias, "var_ratio": var_ratio, "kl": float(kl), "samples": float(num_samples or 0)}


# --------------------------------------------------------------------------- a schedule's exact law


@dataclass
class GaussianLaw:
    """A Gaussian over pictures in eigen-channel coordinates (channels independent there)."""

    image_model: GaussianImageModel
    size: int
    mean_eigen: np.ndarray  # (3, H·W), centred and rotated
    cov_eigen: np.ndarray  # (3, H·W, H·W)

    def mean(self) -> torch.Tensor:
        """(3, H, W) mean picture in channel coordinates."""
        z = torch.from_numpy(self.mean_eigen.reshape(3, self.size, self.size))
        return self.image_model._from_eigen(z, torch.device("cpu"))

    def pixel_variance(self) -> torch.Tensor:
        """(3, H, W) variance of every pixel."""
        _, u = self.image_model.eigen()
        diag = np.diagonal(self.cov_eigen, axis1=1, axis2=2)
        return torch.from_numpy((u**2 @ diag).reshape(3, self.size, self.size))

    def covariance(self) -> np.ndarray:
        """Dense (3HW, 3HW) covariance in channel coordinates, channel-major (small grids only)."""
        _, u = self.image_model.eigen()
        d = self.size * self.size
        out = np.zeros((3 * d, 3 * d))
        for c in range(3):
            for e in range(3):
                out[c * d:(c + 1) * d, e * d:(e + 1) * d] = np.einsum("j,jpq->pq", u[c] * u[e], self.cov_eigen)
        return out


def _sandwich(cov: torch.Tensor, gain: torch.Tensor, size: int) -> torch.Tensor:
    """``M cov M^T`` for the circulant M with real even rfft gain (3, n, n//2+1), per eigen-channel."""
    d = size * size

    def right(x: torch.Tensor) -> torch.Tensor:  # x M^T: M applied to every row, seen as a picture
        f = torch.fft.rfft2(x.reshape(3, d, size, size), norm="ortho") * gain[:, None]
        return torch.fft.irfft2(f, s=(size, size), norm="ortho").reshape(3, d, d)

    return right(right(cov).transpose(1, 2).contiguous())


def schedule_output_law(model: ExactDiffusionModel, image: torch.Tensor, keep: torch.Tensor, times: Sequence[int],
                        variance: str | None = None) -> GaussianLaw:
    """The exact law of ``paint(model, image, keep, times, clip_x0=False)``'s output.

    Every step of the sampler is affine in its state plus independent Gaussian noise:

    * down from t: paste ``√a_t y + √(1-a_t) ε`` where keep = 1, denoise with the Wiener
      filter W_t, step to ``c1 x0 + c2 x + σ_t ε'``: the state is multiplied by the circulant
      ``M = c1 W_t + c2`` after the paste;
    * up to t: ``√(1-β_t) x + √β_t ε``;

    so the mean and covariance are carried exactly (float64, dense ``H·W × H·W`` per
    eigen-channel). ``variance``: "fixed_small" or "fixed_large"; default the model's.
    Cost grows as (H·W)^1.5 per step: 16² grids take milliseconds per step.
    """
    times = validate_times(times)
    size = model.size
    if variance is not None and variance != model.variance_type:
        model = ExactDiffusionModel(model.image_model, size, model.beta_schedule, model.num_train_steps, variance,
                                    model.default_schedule, _device=torch.device("cpu"), _dtype=torch.float64)
    sched = model.schedule(times[0] + 1)
    keep_flat = _binary_keep(keep, size).astype(np.float64)
    d = size * size
    q = torch.from_numpy(keep_flat)
    p = 1 - q
    # the sampler works on uncentred pictures (the noised state's mean is √a·mean): rotate without centring
    y = model.image_model._to_eigen(image.detach().cpu(), centre=False).reshape(3, d)
    mu = model.image_model._to_eigen(torch.tensor(model.image_model.mean).view(3, 1, 1), centre=False).reshape(3, 1)
    lam, _ = model.image_model.eigen()
    power = torch.as_tensor(lam[:, None, None] * model.image_model.spectrum(size)[None, :, : size // 2 + 1])
    eye = torch.eye(d, dtype=torch.float64)
    mean = torch.zeros(3, d, dtype=torch.float64)
    cov = eye.repeat(3, 1, 1)
    for t_last, t_cur in zip(times[:-1], times[1:]):
        if t_cur > t_last:
            b = float(sched.betas[t_cur])
            mean = math.sqrt(1 - b) * mean
            cov = (1 - b) * cov + b * eye
            continue
        a = float(sched.alphas_cumprod[t_last])
        c1, c2 = float(sched.posterior_mean_coef1[t_last]), float(sched.posterior_mean_coef2[t_last])
        w = wiener_gain(power, a)  # (3, n, n//2+1)
        gain = c1 * w + c2
        # paste the noised known picture
        mean = p * mean + q * math.sqrt(a) * y
        cov = p[:, None] * cov * p[None, :] + (1 - a) * torch.diag(q * q)
        # x0 = W (x - √a mean) + mean; next = c1 x0 + c2 x: M x + c1 (1 - √a w(0)) mean
        centred = mean - math.sqrt(a) * mu
        filt = torch.fft.irfft2(torch.fft.rfft2(centred.reshape(3, size, size), norm="ortho") * w, s=(size, size),
                                norm="ortho").reshape(3, d)
        mean = c1 * (filt + mu) + c2 * mean
        cov = _sandwich(cov, gain, size)
        if t_last > 0:
            log_var = sched.model_log_variance(torch.tensor([t_last]), torch.zeros(1, 1, 1, 1), None)
            cov = cov + float(log_var.exp().reshape(-1)[0]) * eye
    mean = p * mean + q * y
    cov = p[:, None] * cov * p[None, :]
    return GaussianLaw(model.image_model, size, (mean - mu).numpy(), cov.numpy())


# --------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class ScheduleError:
    """How far a schedule's output is from the exact answer (noise-free)."""

    nfe: int
    kl: float
    bias: float
    var_ratio: float


def schedule_error(model: ExactDiffusionModel, image: torch.Tensor, keep: torch.Tensor, times: Sequence[int],
                   k: int = 16, conditional: ExactConditional | None = None, variance: str | None = None) -> ScheduleError:
    """Exact distance between a schedule's output law and the exact conditional.

    A lesson-sized call: at 16² a plain 100-step schedule takes well under a second. Pass
    ``conditional`` (``model.image_model.conditional(image, keep)``) to reuse it across
    schedules.
    """
    cond = conditional or model.image_model.conditional(image, keep)
    law = schedule_output_law(model, image, keep, times, variance=variance)
    s = cond.score_law(law, k=k)
    return ScheduleError(count_nfe(list(times)), s["kl"], s["bias"], s["var_ratio"])
