"""Training pictures whose truth is known: draws of a Gaussian field (``ipainter train --gaussian-field``).

A network trained on draws of a :class:`~ipainter_nb.core.exact.GaussianImageModel` is a real
network with real errors whose right answer is known in closed form: the exact conditional
of any mask (``GaussianImageModel.conditional``) and the exact denoiser
(``ExactDiffusionModel``). Schedules can then be judged on a neural model against the truth.

A field is named by a short spec:

* ``demo``: the Gaussian fit of the demo scenes (``exact.demo_image_model()``);
* ``beta=2.0,knee=0.06``: that spectrum (exponent β, knee in cycles per pixel) with the demo
  fit's colour correlations and a zero mean;
* either with ``std=0.25``: the pixel standard deviation (contrast) scaled to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .checks import real_number
from .core.checkpoints import recorded_settings
from .core.exact import GaussianImageModel, demo_image_model
from .errors import UserInputError
from .public import public_names

__all__ = ["GaussianFields", "batch_seed", "field_model", "recorded_field", "denoiser_excess"]

_KEYS = ("beta", "knee", "std")
_HELP = "write 'demo', 'beta=2.0,knee=0.06' or either with ',std=0.2' (std in (0, 0.5])"


def field_model(spec: str) -> GaussianImageModel:
    """The Gaussian picture model a ``--gaussian-field`` spec names.

    Args:
        spec: ``demo`` or ``beta=B,knee=K``, optionally with ``,std=S`` (see the module's docstring).

    Returns:
        The picture model.

    Raises:
        UserInputError: naming the part of the spec that is wrong and the form wanted.
    """
    parts = [p.strip() for p in str(spec).split(",") if p.strip()]
    base = parts[0] if parts and parts[0] == "demo" else None
    values: dict[str, float] = {}
    for part in parts[1:] if base else parts:
        key, sep, text = part.partition("=")
        if not sep or key.strip() not in _KEYS:
            raise UserInputError(f"--gaussian-field {spec!r}: {part!r} is not one of {', '.join(k + '=...' for k in _KEYS)}; {_HELP}")
        try:
            values[key.strip()] = real_number(text)
        except ValueError:
            raise UserInputError(f"--gaussian-field {spec!r}: {key.strip()}={text!r} is not a number; {_HELP}") from None
    limits = {"beta": (0.5, 5.0), "knee": (1e-3, 0.5), "std": (1e-3, 0.5)}
    for key, value in values.items():
        low, high = limits[key]
        if not (math.isfinite(value) and low <= value <= high):
            raise UserInputError(f"--gaussian-field {spec!r}: {key}={value:g} is outside [{low:g}, {high:g}]; {_HELP}")
    if base is None and not {"beta", "knee"} <= values.keys():
        raise UserInputError(f"--gaussian-field {spec!r} names no spectrum; {_HELP}")
    demo = demo_image_model()
    model = demo if base else GaussianImageModel(values["beta"], values["knee"], demo.channel_cov, (0.0, 0.0, 0.0))
    return model.scaled(std=values["std"]) if "std" in values else model


def batch_seed(seed: int, step: int) -> int:
    """The seed of training step ``step``'s batch: the same batch for the same step, whatever the source.

    Args:
        seed: the run's seed.
        step: the training step.
    """
    return seed * 1_000_003 + step


class GaussianFields:
    """Endless draws of a Gaussian field; batch k is a pure function of (seed, k), so resuming is exact.

    Args:
        spec: the field (see :func:`field_model`).
        seed: the seed every batch derives from.
        image_size: the side of the pictures in pixels.
    """

    def __init__(self, spec: str, seed: int, image_size: int):
        self.model = field_model(spec)
        self.seed = seed
        self.size = image_size

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        """The batch of ``step``: (batch_size, 3, size, size), the same for the same step.

        Args:
            step: the training step.
            batch_size: pictures in the batch.
        """
        g = torch.Generator().manual_seed(batch_seed(self.seed, step))
        return self.model.sample(batch_size, self.size, generator=g)

    def picture_model(self) -> GaussianImageModel:
        """The field itself: its pictures' law is known exactly."""
        return self.model


def recorded_field(path: str | Path) -> GaussianImageModel | None:
    """The Gaussian field an exported checkpoint was trained on (``ipainter train --gaussian-field``), or None.

    Args:
        path: the ``.safetensors`` file ``train.export`` wrote.

    Returns:
        The field's picture model, or None when the weights were trained on other pictures.
    """
    record = recorded_settings(path).get("gaussian_field")
    return None if record is None else GaussianImageModel.from_dict(record)


def denoiser_excess(net: Any, exact: Any, levels: Sequence[int], n: int, seed: int = 0,
                    pixels: torch.Tensor | None = None) -> list[float]:
    """How much worse a network's denoiser is than the exact one of its field, level by level.

    At each training level t, ``n`` field draws are noised and both denoisers predict the
    clean pictures; the result is the network's mean squared x0 error over the exact
    (Bayes) error, minus one: 0 is as good as the truth can be, 1 is twice its error.

    Args:
        net: a ``DiffusionModel`` trained with ``--gaussian-field`` (noise prediction).
        exact: the ``ExactDiffusionModel`` of the same field and size.
        levels: training timesteps t (0..999 for the 1000-step schedule).
        n: field draws per level.
        seed: seeds the draws and the noise (the same seed, the same draws: compare regions with it).
        pixels: a (size, size) bool mask of the pixels the errors are averaged over (default: all).

    Returns:
        One number per level.
    """
    field, size = exact.image_model, exact.image_size
    if pixels is not None and not (isinstance(pixels, torch.Tensor) and pixels.dtype == torch.bool
                                   and tuple(pixels.shape) == (size, size) and bool(pixels.any())):
        raise UserInputError(f"pixels must be a ({size}, {size}) bool tensor with at least one True pixel, or None")
    g = torch.Generator().manual_seed(seed)
    alphas = torch.as_tensor(net.schedule(net.num_train_steps).alphas_cumprod, dtype=torch.float64)
    out = []
    for t in levels:
        x0 = field.sample(n, size, generator=g, dtype=torch.float64)
        a = alphas[t]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=g, dtype=torch.float64)
        with torch.inference_mode():
            eps = net.unet(x_t.to(net.dtype), torch.full((n,), int(t), dtype=torch.long)).double()
        x0_net = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        x0_exact = exact.predict_x0(x_t, a.expand(n)).double()
        net_err, bayes_err = ((x - x0).pow(2)[..., pixels] if pixels is not None else (x - x0).pow(2)
                              for x in (x0_net, x0_exact))
        out.append(float(net_err.mean() / bayes_err.mean() - 1))
    return out


public_names(globals())  # after every public definition
