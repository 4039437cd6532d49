"""Demo material: procedural training scenes, the cutout pack and comparison statistics.

Names are re-exported lazily (PEP 562) so that ``python -m ipainter_nb.demo.cutouts``
does not import its own module twice, and importing the scenes stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "make_scene": "scenes",
    "make_scenes": "scenes",
    "CUTOUT_NAMES": "cutouts",
    "make_cutout": "cutouts",
    "make_cutouts": "cutouts",
    "write_cutout_pack": "cutouts",
    "cutout_pack_dir": "cutouts",
    "list_cutouts": "cutouts",
    "demo_layout": "cutouts",
    "demo_composition": "composition",
    "row_mean_colour": "stats",
    "spectrum_slope": "stats",
    "sky_above_ground_fraction": "stats",
    "compare_to_scenes": "stats",
    "fit_demo_image_model": "image_model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
