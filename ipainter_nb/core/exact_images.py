"""The Gaussian picture model of the exact benchmark and its exact inpainting answer.

:class:`GaussianImageModel` is ``mean + U @ (fields)``: three independent periodic Gaussian
random fields with power spectrum ``P(f) ∝ (f0² + |f|²)^(-β/2)``, ``U`` diagonalising the
3×3 channel covariance. :class:`ExactConditional` is the law of the generated pixels given
the kept ones (the right answer of inpainting) and scores samples or laws against it.
The keep mask is the same for the three channels, so in the eigen-channel basis every
dense matrix is ``H·W × H·W`` per eigen-channel, never ``3HW × 3HW``. The mask helpers
(:func:`centre_hole_keep`, :func:`border_keep`) live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..errors import UserInputError
from ..public import public_names
from .arguments import (
    check_batch,
    check_flag,
    check_float_dtype,
    check_generator,
    check_keep,
    check_picture,
    check_real,
    check_side,
    check_whole,
    kept,
)
from .devices import as_device

if TYPE_CHECKING:  # the law module imports this one; the type only is needed here
    from .exact_law import GaussianLaw

__all__ = ["MAX_BETA", "MIN_F0", "GaussianImageModel", "ExactConditional", "DEMO_SCENES_FIT", "demo_image_model",
           "spectrum_grid", "centre_hole_keep", "border_keep", "MAX_DENSE_PIXELS"]

# Dense conditional covariances are (generated pixels)² per eigen-channel: 64² pixels is 128 MB in float64, the most that stays quick.
MAX_DENSE_PIXELS = 64 * 64

# --------------------------------------------------------------------------- the image model

#: The steepest spectral exponent and the lowest knee (cycles per pixel): beyond them the spectrum overflows doubles.
MAX_BETA, MIN_F0 = 12.0, 1e-6


def _checked_spectrum(beta: object, f0: object) -> tuple[float, float]:
    beta = check_real("beta", beta, 0.0, MAX_BETA, low_open=True, hint="the spectral exponent, about 2 to 3")
    return beta, check_real("f0", f0, MIN_F0, 0.5, hint="the knee in cycles per pixel")


def spectrum_grid(size: int, beta: float, f0: float) -> np.ndarray:
    """``(f0² + |f|²)^(-β/2)`` on the ``size × size`` DFT grid, scaled to mean 1.

    With the orthonormal DFT the mean of the spectrum is the variance of each pixel, so
    this normalisation makes the pixel covariance equal to the channel covariance.

    Args:
        size: the grid side in pixels.
        beta: the spectral exponent β.
        f0: the knee frequency in cycles per pixel.
    """
    size = check_side(size, "size")
    beta, f0 = _checked_spectrum(beta, f0)
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
        beta, f0 = _checked_spectrum(self.beta, self.f0)
        cov = _real_array("channel_cov", self.channel_cov, (3, 3))
        if not np.allclose(cov, cov.T):
            raise UserInputError(f"channel_cov must be a symmetric 3x3 matrix, got {cov.tolist()}")
        if np.linalg.eigvalsh(cov).min() <= 0:
            raise UserInputError("channel_cov must be positive definite (every colour direction needs some variance)")
        mean = _real_array("mean", self.mean, (3,))
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "f0", f0)
        object.__setattr__(self, "channel_cov", tuple(tuple(float(v) for v in row) for row in cov))
        object.__setattr__(self, "mean", tuple(float(v) for v in mean))

    # -- construction ------------------------------------------------------------------
    @classmethod
    def fit(cls, images: Any) -> GaussianImageModel:
        """Fit mean, channel covariance, ``beta`` and ``f0`` to pictures.

        ``images``: (N, 3, H, W) in [-1, 1] (tensor or array), or (N, H, W, 3) uint8 as
        ``demo.make_scenes`` returns. The spectrum is the radially averaged power spectrum
        of ``frequency.radial_power_spectrum``; ``beta`` and the log-amplitude are a least
        squares line for each candidate ``f0``, the best ``f0`` is kept.

        Args:
            images: pictures to fit, (N, 3, H, W) in [-1, 1].
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
            if 0 < coef[1] <= MAX_BETA and (best is None or err < best[0]):
                best = (err, float(coef[1]), float(f0))
        if best is None:
            raise UserInputError(f"the pictures' spectrum does not fall as a power law of exponent up to {MAX_BETA:g}: none fits")
        return cls(beta=best[1], f0=best[2], channel_cov=tuple(map(tuple, cov)), mean=tuple(mean))

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON values (what a checkpoint records); :meth:`from_dict` rebuilds it."""
        return {"beta": self.beta, "f0": self.f0, "channel_cov": [list(row) for row in self.channel_cov], "mean": list(self.mean)}

    @classmethod
    def from_dict(cls, record: Any) -> GaussianImageModel:
        """The model :meth:`to_dict` wrote, checked like the constructor's arguments.

        Args:
            record: a mapping with ``beta``, ``f0``, ``channel_cov`` (3×3) and ``mean`` (3).
        """
        keys = ("beta", "f0", "channel_cov", "mean")
        missing = [k for k in keys if k not in record] if isinstance(record, dict) else list(keys)
        if missing:
            raise UserInputError(f"the picture model record lacks {', '.join(missing)} (it needs {', '.join(keys)})")
        try:
            cov, mean = tuple(tuple(row) for row in record["channel_cov"]), tuple(record["mean"])
        except TypeError:
            raise UserInputError("the picture model record's channel_cov must be 3 rows of 3 numbers, its mean 3") from None
        return cls(record["beta"], record["f0"], cov, mean)  # type: ignore[arg-type]

    def scaled(self, std: float | None = None, mean: Sequence[float] | None = None) -> GaussianImageModel:
        """The same spectrum and colour correlations with another overall contrast or mean.

        ``std``: the mean per-channel standard deviation wanted. A contrast well inside
        [-1, 1] keeps ``paint()``'s clamps from touching the samples, which the exact law
        assumes.

        Args:
            std: the new pixel standard deviation.
            mean: the new mean (None: keep it).
        """
        cov = np.asarray(self.channel_cov)
        if std is not None:
            std = check_real("std", std, 0.0, low_open=True, hint="the pixel standard deviation")
            cov = cov * (std**2 / float(np.diag(cov).mean()))
        return GaussianImageModel(self.beta, self.f0, tuple(map(tuple, cov)), self.mean if mean is None else mean)

    # -- tensors -------------------------------------------------------------------------
    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """(eigenvalues λ_j, eigenvectors U[:, j]) of the channel covariance."""
        lam, u = np.linalg.eigh(np.asarray(self.channel_cov))
        return lam, u

    def spectrum(self, size: int) -> np.ndarray:
        """Spatial spectrum on a ``size²`` grid (mean 1); eigen-channel j has ``λ_j`` times it.

        Args:
            size: the grid side in pixels.
        """
        return spectrum_grid(size, self.beta, self.f0)

    def sample(self, n: int, size: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` pictures (n, 3, size, size) drawn from the model.

        Args:
            n: how many pictures.
            size: their side in pixels.
            generator: the source of randomness (None: torch's global one).
            device: where to make them.
            dtype: their dtype.
        """
        size = check_side(size, "size")
        n = check_batch(n, size)
        generator, dtype = check_generator(generator), check_float_dtype(dtype)
        device = None if device is None else as_device(device)
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
        :class:`ExactConditional` (default: dense when small enough).

        Args:
            image: the picture whose kept pixels are known, (3, H, W).
            keep: the keep mask, (1, H, W), 1 = keep.
            dense: True: dense covariance; False: conjugate gradients; None: dense up to 32².
        """
        return ExactConditional(self, image, keep, dense)


def _real_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape``, or a ``UserInputError``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != shape or not np.isfinite(array).all():
        raise UserInputError(f"{name} must be {' x '.join(map(str, shape))} finite numbers, got {value!r:.80}")
    return array


def _as_nchw_float(images: Any) -> np.ndarray:
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 3 and x.dtype == np.uint8:
        return x.transpose(0, 3, 1, 2).astype(np.float64) / 127.5 - 1
    if x.ndim == 4 and x.shape[1] == 3:
        return x.astype(np.float64)
    raise UserInputError(f"images of shape {tuple(x.shape)} and dtype {x.dtype}: expected (N, 3, H, W) in [-1, 1] or "
                         "(N, H, W, 3) uint8")


#: The model fitted (``GaussianImageModel.fit``) to 256 of the demo's procedural 64² scenes (seed 0). Stored here so
#: that the core needs no demo import; ``ipainter_nb.demo``'s ``fit_demo_image_model`` refits it (a test compares).
DEMO_SCENES_FIT = GaussianImageModel(
    beta=2.873557286808136, f0=0.01076526720326523, mean=(-0.15102853214029757, -0.07621223599295461, -0.04630731320847592),
    channel_cov=((0.20570544065739424, 0.15404827396570384, 0.10209601604341212),
                 (0.15404827396570384, 0.1821635647356521, 0.16202110289452756),
                 (0.10209601604341212, 0.16202110289452756, 0.28003333627770166)))


def demo_image_model() -> GaussianImageModel:
    """The Gaussian model of the demo scenes (:data:`DEMO_SCENES_FIT`).

    Returns:
        The stored fit; ``ipainter_nb.demo.fit_demo_image_model(n, seed)`` fits other draws.
    """
    return DEMO_SCENES_FIT


def centre_hole_keep(size: int, hole: int) -> torch.Tensor:
    """(1, size, size) keep mask with a ``hole × hole`` square to generate in the middle.

    Args:
        size: the picture side.
        hole: the side of the square hole.
    """
    size = check_side(size, "size")
    hole = check_whole("hole", hole, 0, size + 1)
    keep = torch.ones(1, size, size)
    a = (size - hole) // 2
    keep[:, a:a + hole, a:a + hole] = 0
    return keep


def border_keep(size: int, width: int) -> torch.Tensor:
    """(1, size, size) keep mask that generates a frame ``width`` pixels wide around a kept centre.

    Args:
        size: the picture side.
        width: the width of the kept frame.
    """
    size = check_side(size, "size")
    width = check_whole("width", width, 0, size // 2 + 1)
    keep = torch.zeros(1, size, size)
    keep[:, width:size - width, width:size - width] = 1
    return keep


def _binary_keep(keep: torch.Tensor, size: int) -> np.ndarray:
    """The mask, checked, as a flat bool array (True = kept)."""
    return kept(check_keep(keep, size)).cpu().numpy().reshape(-1)

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
    x, r, p = np.zeros_like(rhs), rhs.copy(), rhs.copy()
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
        p, rr = r + (rr_new / np.maximum(rr, 1e-300)) * p, rr_new
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

    Args:
        image_model: the Gaussian picture model.
        image: the picture whose kept pixels are known.
        keep: the keep mask (1 = keep).
        dense: whether the covariance is held densely.
    """

    def __init__(self, image_model: GaussianImageModel, image: torch.Tensor, keep: torch.Tensor, dense: bool | None = None):
        if not isinstance(image_model, GaussianImageModel):
            raise UserInputError(f"image_model must be a GaussianImageModel, got {type(image_model).__name__}")
        shape = getattr(image, "shape", ())
        size = check_side(int(shape[-1]) if len(shape) else 0, "the image's side")
        image = check_picture(image, size, bounded=False)
        dense = None if dense is None else check_flag("dense", dense)
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
        self._eigen: tuple[np.ndarray, np.ndarray] | None = None  # eigh(R), made on first use
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
        """How many pixels (per channel) the mask leaves to generate."""
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
        """``n`` exact conditional samples (n, 3, H, W), the kept pixels exactly as given.

        Args:
            n: how many pictures.
            generator: the source of randomness.
            dtype: their dtype.
        """
        n = check_batch(n, self.size)
        generator, dtype = check_generator(generator), check_float_dtype(dtype)
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
        """The ``k`` leading principal components of the conditional: (channel j, eigenvector of R, variance).

        Args:
            k: how many leading components of the conditional covariance.
        """
        k = check_whole("k", k, 1)
        if self._eigen is None:  # one decomposition serves every schedule scored against this conditional
            self._eigen = np.linalg.eigh(self._require_dense("principal components"))
        rho, vec = self._eigen
        var = self.lam[:, None] * rho[None, :]  # (3, |G|)
        order = np.argsort(var.ravel())[::-1][:k]
        j, r = np.divmod(order, len(rho))
        return j, vec[:, r], var.ravel()[order]

    def score_samples(self, samples: torch.Tensor, k: int = 16) -> dict[str, float]:
        """Distance of samples (M, 3, H, W) to this law (see :func:`_scores`).

        Args:
            samples: pictures to score, (N, 3, H, W).
            k: how many leading components the distance uses.
        """
        samples = check_picture(samples, self.size, "samples", batched=True, bounded=False)
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
        """Distance of a Gaussian law (a schedule's exact output) to this law, noise-free.

        Args:
            law: a schedule's exact output law (``schedule_output_law``).
            k: how many leading components the distance uses.
        """
        # read by its members: exact_law imports this module, so GaussianLaw cannot be imported here
        if getattr(law, "size", None) != self.size or not all(hasattr(law, m) for m in ("mean_eigen", "cov_eigen")):
            raise UserInputError(f"law must be the GaussianLaw of a schedule at {self.size}x{self.size} "
                                 f"(exact.schedule_output_law), got {type(law).__name__}")
        g = self.generated
        cov = law.cov_eigen[:, g][:, :, g]  # (3, |G|, |G|)
        rows = self.component_rows(k)[:, :, g]
        comp_cov = np.einsum("cag,cgh,cbh->cab", rows, cov, rows)
        return self.score_moments(law.mean_eigen[:, g], np.diagonal(cov, axis1=1, axis2=2), comp_cov, k)

    def component_rows(self, k: int) -> np.ndarray:
        """The ``k`` leading components as rows over all pixels, per eigen-channel: (3, n, H·W).

        Row ``i`` of channel ``c`` is the ``i``-th component living in channel ``c`` (zero on
        the kept pixels); ``n`` is the most components any channel has, the rest zero rows.

        Args:
            k: how many leading components.
        """
        j, vec, _ = self.components(k)
        n = max(int((j == c).sum()) for c in range(3))
        rows = np.zeros((3, n, self.size * self.size))
        for c in range(3):
            sel = np.flatnonzero(j == c)
            rows[c, : len(sel)][:, self.generated] = vec[:, sel].T
        return rows

    def _whitened(self, error: np.ndarray, comp_cov: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A law's mean error and covariance on the ``k`` leading components, in units of their exact std.

        ``error`` is the law's mean minus this one's (centred eigen-channel coordinates), (3, |G|), or
        (3, |G|, B) for B means that share the covariance (then the mean is (B, k)); ``comp_cov`` is the
        covariance of the law's projections on :meth:`component_rows`, (3, n, n).
        """
        j, vec, comp_var = self.components(k)
        zm = np.einsum("gk,kg...->...k", vec, error[j]) / np.sqrt(comp_var)
        first = j[:, None] == np.arange(3)[None, :]  # the row of component i in its channel: earlier ones of that channel
        slot = (np.cumsum(first, 0) - first)[np.arange(len(j)), j]
        zc = np.where(j[:, None] == j[None, :], comp_cov[j[:, None], slot[:, None], slot[None, :]], 0.0)
        return zm, zc / np.sqrt(np.outer(comp_var, comp_var))

    def score_moments(self, mean_eigen: np.ndarray, var_eigen: np.ndarray, comp_cov: np.ndarray, k: int = 16
                      ) -> dict[str, float]:
        """Distance of a law given by its moments on the generated pixels (see :func:`_scores`).

        Args:
            mean_eigen: (3, |G|) its mean, centred eigen-channel coordinates.
            var_eigen: (3, |G|) the variance of each generated pixel per eigen-channel.
            comp_cov: (3, n, n) the covariance of its projections on :meth:`component_rows`.
            k: the components ``comp_cov`` was taken on.
        """
        zm, zc = self._whitened(mean_eigen - self.mean_eigen, comp_cov, k)
        pix_var = np.einsum("cj,jg->cg", self.u**2, var_eigen)
        return _scores(self, mean_eigen, pix_var, zm, zc, None)


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
    return {"bias": bias, "var_ratio": var_ratio, "kl": float(_gaussian_kl(z_mean, z_cov)), "samples": float(num_samples or 0)}


def _gaussian_kl(z_mean: np.ndarray, z_cov: np.ndarray) -> np.ndarray:
    """KL(N(z_mean, z_cov) ‖ N(0, I)); ``z_mean`` (k,) or (B, k) for B means sharing the covariance."""
    sign, logdet = np.linalg.slogdet(z_cov)
    if sign <= 0:
        return np.full(z_mean.shape[:-1], np.inf)
    return 0.5 * (np.trace(z_cov) + (z_mean**2).sum(-1) - z_cov.shape[0] - logdet)

public_names(globals())  # after every public definition
