"""The demo cutout pack: RGBA landmarks drawn with the scene generator's own code.

Because the cutouts come from the same drawing functions as the training scenes, the demo
model has seen things just like them and can paint a fitting surrounding. Each cutout is
drawn at ``_SS`` times its size on a transparent canvas, box-averaged down (anti-aliased
edge, alpha exactly 255 inside and 0 outside), then cropped to its shape plus a
one-pixel transparent margin.

Regenerate the shipped pack with ``python -m ipainter_nb.demo.cutouts --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ..checks import check_path, writable_folder
from ..core.arguments import check_whole
from ..errors import UserInputError
from ..images import atomic_write
from ..public import public_names
from . import drawing as sc

__all__ = [
    "CUTOUT_NAMES",
    "make_cutout",
    "make_cutouts",
    "write_cutout_pack",
    "cutout_pack_dir",
    "list_cutouts",
    "demo_layout",
    "main",
]

_SS = 4  # finer than the scenes' supersampling: cutouts are drawn once, quality matters

# name -> (canvas width, canvas height) in output pixels before cropping
_CANVAS = {
    "sun": (22, 22),
    "moon": (20, 20),
    "tree": (22, 30),
    "pine": (18, 32),
    "house": (30, 28),
    "boat": (28, 28),
    "cloud": (40, 22),
    "mountain": (40, 26),
    "rock": (32, 18),
}
CUTOUT_NAMES: tuple[str, ...] = tuple(_CANVAS)


def _draw(name: str, c: sc.Canvas, rng: np.random.Generator) -> None:
    """Draw cutout ``name`` filling canvas ``c`` (sizes in supersampled pixels)."""
    w, h = c.w, c.h
    if name == "sun":
        sc.draw_sun(c, w / 2, h / 2, w * 0.45, (255, 228, 120), glow=0.0)
        sc.draw_disc(c, w * 0.44, h * 0.44, w * 0.3, (255, 245, 200), soft=w * 0.15)
    elif name == "moon":
        sc.draw_moon(c, w / 2, h / 2, w * 0.45, (236, 236, 218), phase=0.0)
    elif name == "tree":
        sc.draw_round_tree(c, w / 2, h - 1, h * 0.98, (60, 125, 50), (95, 65, 40))
    elif name == "pine":
        sc.draw_pine(c, w / 2, h - 1, h * 0.98, (35, 85, 55), (85, 60, 40))
    elif name == "house":
        sc.draw_house(c, w / 2, h - 1, w * 0.72, h * 0.95, (225, 210, 185), (165, 60, 45))
    elif name == "boat":
        sc.draw_boat(c, w / 2, h * 0.84, w * 0.92, (130, 70, 45), (245, 240, 225))
    elif name == "cloud":
        sc.draw_cloud(c, rng, w / 2, h * 0.72, w * 0.78, (250, 250, 252), (190, 198, 215),
                      opacity=1.0, soft=float(_SS))  # a crisp one-pixel rim
    elif name == "mountain":
        sc.draw_mountain(c, rng, w / 2, h - 1, w * 0.98, h * 0.92, (105, 105, 128))
    elif name == "rock":
        sc.draw_rock(c, rng, w / 2, h - 1, min(h * 0.8, w / 3.6), (150, 138, 122))
    else:
        raise KeyError(f"unknown cutout {name!r}; known: {', '.join(CUTOUT_NAMES)}")


def _crop(rgba: np.ndarray, margin: int = 1) -> np.ndarray:
    """Crop to the non-transparent pixels, keeping a transparent margin all round."""
    ys, xs = np.nonzero(rgba[..., 3])
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    out = np.zeros((y1 - y0 + 2 * margin, x1 - x0 + 2 * margin, 4), np.uint8)
    out[margin:-margin, margin:-margin] = rgba[y0:y1, x0:x1]
    return out


def make_cutout(name: str, seed: int = 0) -> Image.Image:
    """One cutout as an RGBA image; shapes with random outlines depend on ``seed``.

    Args:
        name: which cutout (a key of the pack: ``sun``, ``tree``, ``house``, ...).
        seed: the seed of its random details.
    """
    if not isinstance(name, str) or name not in _CANVAS:
        raise UserInputError(f"unknown cutout {name!r}; known: {', '.join(CUTOUT_NAMES)}")
    seed = check_whole("seed", seed, 0)
    w, h = _CANVAS[name]
    c = sc.Canvas(h * _SS, w * _SS, opaque=False)
    # one stream per name, so adding a cutout never changes the others
    rng = np.random.default_rng([seed, CUTOUT_NAMES.index(name)])
    _draw(name, c, rng)
    return Image.fromarray(_crop(c.to_uint8(_SS)), "RGBA")


def make_cutouts(seed: int = 0) -> dict[str, Image.Image]:
    """All cutouts of the pack, by name (sun, moon, tree, pine, house, boat, cloud, mountain, rock).

    Args:
        seed: the seed of their random details.
    """
    seed = check_whole("seed", seed, 0)
    return {name: make_cutout(name, seed) for name in CUTOUT_NAMES}


def write_cutout_pack(directory: str | Path, seed: int = 0) -> list[Path]:
    """Write ``<name>.png`` for every cutout into ``directory``; returns the paths.

    Args:
        directory: the folder to write the PNG files into (made, with its parents, if missing).
        seed: the seed of their random details.
    """
    out = writable_folder(check_path("directory", directory, "folder"), "directory", parents=True)
    paths = []
    for name, img in make_cutouts(seed).items():
        # atomic: a half-written PNG never appears under the real name
        paths.append(atomic_write(out / f"{name}.png", lambda f: img.save(f, format="PNG", optimize=True)))
    return paths


def cutout_pack_dir() -> Path:
    """The folder of shipped cutouts, ``ipainter_nb/assets/cutouts/``."""
    return Path(__file__).resolve().parent.parent / "assets" / "cutouts"


def list_cutouts() -> dict[str, Path]:
    """Shipped cutouts by name (file stem), sorted by name."""
    folder = cutout_pack_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.png"))}


def demo_layout() -> list[dict]:
    """A built-in composition for a 64x64 canvas.

    ``x``/``y`` are the top-left corner of the placed cutout in canvas pixels after
    scaling by ``scale``. Sun in the top-left sky, a mountain on the horizon (about y=35),
    a house with a tree beside it on the ground to the left, a boat on water to the right.
    """
    return [
        {"name": "sun", "x": 6, "y": 5, "scale": 0.6},
        {"name": "mountain", "x": 30, "y": 16, "scale": 0.7},
        {"name": "house", "x": 5, "y": 40, "scale": 0.6},
        {"name": "tree", "x": 21, "y": 38, "scale": 0.6},
        {"name": "boat", "x": 44, "y": 42, "scale": 0.5},
    ]


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the cutout pack (default: the shipped folder).

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    ap = argparse.ArgumentParser(prog="python -m ipainter_nb.demo.cutouts",
                                 description="Regenerate the demo cutout pack as PNG files.")
    ap.add_argument("--out", type=Path, default=cutout_pack_dir(), help="output folder")
    ap.add_argument("--seed", type=int, default=0, help="seed for the random outlines")
    args = ap.parse_args(argv)
    for path in write_cutout_pack(args.out, seed=args.seed):
        with Image.open(path) as im:
            print(f"{path}  {im.size[0]}x{im.size[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


public_names(globals())  # after every public definition
