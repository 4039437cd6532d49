"""How layers become the sampler's picture and keep mask, and the on-screen preview of both.

Mask choices:

- ``alpha_threshold`` binarizes the composited alpha: the sampler needs a hard {0, 1} mask
  (it replaces known pixels by their noised ground truth at every step, so a fractional
  mask would mix noise levels).
- ``erode`` shrinks the kept region by that many pixels (square neighbourhood). Cutout
  edges are often soft or carry a halo of the old background; regenerating a thin rim lets
  the model blend the cutout into what it paints.
- ``feather`` never reaches the sampler. It only softens the kept/generated boundary in
  ``preview()`` so the user sees roughly how the edge will blend; keeping it out of
  the mask keeps ``render()`` exactly what is painted.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from ipainter_nb.core.composition_checks import invalid, is_number
from ipainter_nb.core.layer import Layer
from ipainter_nb.images import mask_to_pil, tensor_to_pil

from ..public import public_names

__all__ = ["composite", "erode_keep", "render", "preview"]


def composite(layers: Iterable[Layer], size: tuple[int, int], background: float) -> tuple[np.ndarray, np.ndarray]:
    """Alpha-composite layers "over" each other in the order given.

    Args:
        layers: The layers, bottom to top.
        size: The canvas (width, height).
        background: The flat value under the layers, in [-1, 1] (0.0 = mid-grey).

    Returns:
        (H, W, 3) colour in [0, 1] and (H, W) alpha, float32.

    Raises:
        CompositionError: ``background`` is out of range.
    """
    if not is_number(background) or not -1.0 <= background <= 1.0:
        raise invalid("background", "a number in [-1, 1]", background)
    w, h = size
    rgb = np.full((h, w, 3), (background + 1.0) / 2.0, dtype=np.float32)
    alpha = np.zeros((h, w), dtype=np.float32)
    for layer in layers:
        x0, y0, x1, y1 = layer.bbox()
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if cx0 >= cx1 or cy0 >= cy1:
            continue  # off canvas
        src = layer.rendered().crop((cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0))
        src = np.asarray(src, dtype=np.float32) / 255.0
        a = src[..., 3]
        region = (slice(cy0, cy1), slice(cx0, cx1))
        rgb[region] = src[..., :3] * a[..., None] + rgb[region] * (1.0 - a[..., None])
        alpha[region] = a + alpha[region] * (1.0 - a)
    return rgb, alpha


def erode_keep(keep: np.ndarray, px: int) -> np.ndarray:
    """Shrink the kept region (1s) of an (H, W) {0,1} mask by ``px`` pixels.

    Erosion of keep = dilation of generate = a max-pool of (1 - keep). A square max-pool is
    separable, so two 1-D pools cost O(px) per pixel instead of O(px^2). max_pool2d pads
    with -inf, so the canvas border is not treated as "generate": a cutout touching the
    edge stays kept up to the edge.

    Args:
        keep: The (H, W) float32 mask, 1 = keep.
        px: Pixels to shave off; 0 returns ``keep`` unchanged.

    Returns:
        The eroded mask.
    """
    if px <= 0:
        return keep
    # a pool wider than the mask gives the same mask as one its width; a wider one only costs (10**9 would hang)
    px = min(px, max(keep.shape))
    gen = torch.from_numpy(1.0 - keep)[None, None]
    k = 2 * px + 1
    gen = F.max_pool2d(gen, kernel_size=(1, k), stride=1, padding=(0, px))
    gen = F.max_pool2d(gen, kernel_size=(k, 1), stride=1, padding=(px, 0))
    return (1.0 - gen[0, 0]).numpy()


def render(
    layers: Iterable[Layer], size: tuple[int, int], background: float, alpha_threshold: float, erode: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sampler's picture and keep mask from layers.

    Args:
        layers: The layers, bottom to top.
        size: The canvas (width, height).
        background: The flat value under the layers, in [-1, 1].
        alpha_threshold: Composited alpha above this is kept.
        erode: Pixels shaved off the kept region.

    Returns:
        ``image`` (3, H, W) float32 in [-1, 1] and ``keep`` (1, H, W) float32 in {0, 1}.
    """
    rgb, alpha = composite(layers, size, background)
    keep = erode_keep((alpha > alpha_threshold).astype(np.float32), erode)
    image = torch.from_numpy(rgb * 2.0 - 1.0).permute(2, 0, 1).contiguous()
    return image, torch.from_numpy(np.ascontiguousarray(keep))[None]


def preview(
    image: torch.Tensor,
    keep: torch.Tensor,
    feather: int,
    overlay_color: tuple[int, int, int] | None,
    overlay_opacity: float,
) -> Image.Image:
    """What will be kept, as an RGB picture: the generated region mid-grey, optionally tinted.

    Args:
        image: (3, H, W) in [-1, 1].
        keep: (1, H, W) in {0, 1}.
        feather: Blur the kept/generated boundary by this many pixels (display only).
        overlay_color: Tint the generated region with this RGB colour (0-255); None: no tint.
        overlay_opacity: The tint's strength, 0-1.

    Returns:
        The picture.
    """
    soft = keep
    if feather > 0:
        # a blur far wider than the canvas looks as flat as one its width; PIL overflows on a huge one
        radius = min(feather, 4 * max(keep.shape[-2:])) / 2
        blurred = mask_to_pil(keep).filter(ImageFilter.GaussianBlur(radius=radius))
        soft = torch.from_numpy(np.asarray(blurred, dtype=np.float32) / 255.0)[None]
    shown = image * soft  # grey (0.0) where generated
    if overlay_color is not None:
        color = torch.tensor(overlay_color, dtype=torch.float32).view(3, 1, 1) / 127.5 - 1
        tint = overlay_opacity * (1.0 - soft)
        shown = shown * (1.0 - tint) + color * tint
    return tensor_to_pil(shown)


public_names(globals())  # after every public definition
