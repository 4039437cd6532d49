"""The exact benchmark's Gaussian picture model, fitted to the demo's procedural scenes.

The core stores one such fit (``core.exact_images.DEMO_SCENES_FIT``) so that it needs no
demo import; :func:`fit_demo_image_model` refits it from any number of scenes.
"""

from __future__ import annotations

from ..core.exact_images import GaussianImageModel
from ..public import public_names
from .scenes import make_scenes

__all__ = ["fit_demo_image_model"]

_CACHE: dict[tuple[int, int], GaussianImageModel] = {}


def fit_demo_image_model(n: int = 256, seed: int = 0) -> GaussianImageModel:
    """The Gaussian model (mean, colour covariance, power-law spectrum) of ``n`` demo scenes.

    Args:
        n: how many 64² scenes to fit to.
        seed: the scenes' seed.

    Returns:
        The fitted model (cached per ``(n, seed)``); ``(256, 0)`` is the core's
        ``DEMO_SCENES_FIT``.
    """
    if (n, seed) not in _CACHE:
        _CACHE[n, seed] = GaussianImageModel.fit(make_scenes(n, seed=seed, size=64))
    return _CACHE[n, seed]


public_names(globals())  # after every public definition
