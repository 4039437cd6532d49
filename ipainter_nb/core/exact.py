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

from .exact_denoiser import ExactDiffusionModel, wiener_gain
from .exact_images import (
    DEMO_SCENES_FIT,
    MAX_DENSE_PIXELS,
    ExactConditional,
    GaussianImageModel,
    border_keep,
    centre_hole_keep,
    demo_image_model,
    spectrum_grid,
)
from .exact_law import GaussianLaw, ScheduleError, schedule_error, schedule_output_law

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
    "DEMO_SCENES_FIT",
    "MAX_DENSE_PIXELS",
    "spectrum_grid",
    "centre_hole_keep",
    "border_keep",
]
