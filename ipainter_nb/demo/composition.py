"""The built-in demo scene as a ``Composition``: the shipped cutouts placed by ``demo_layout``."""

from __future__ import annotations

from ..core.arguments import check_whole
from ..core.composition import Composition, Layer
from ..errors import IPainterError
from ..public import public_names
from .cutouts import demo_layout, list_cutouts

__all__ = ["demo_composition", "LAYOUT_SIZE"]

#: The canvas side ``demo_layout`` is written for; other sizes scale positions and cutouts.
LAYOUT_SIZE = 64


def demo_composition(size: int) -> Composition:
    """The built-in scene scaled to a ``size`` x ``size`` canvas (sun, mountain, house, tree, boat).

    Args:
        size: the canvas side in pixels (the model's image size).
    """
    size = check_whole("size", size, 1)
    cutouts = list_cutouts()
    k = size / LAYOUT_SIZE
    comp = Composition(size)
    for spec in demo_layout():
        path = cutouts.get(spec["name"])
        if path is None:
            raise IPainterError(f"the demo cutout {spec['name']!r} is missing from the cutout pack; "
                                "regenerate it with `python -m ipainter_nb.demo.cutouts`")
        comp.add(Layer.from_file(path, x=round(spec["x"] * k), y=round(spec["y"] * k),
                                 scale=spec["scale"] * k, name=spec["name"]))
    return comp


public_names(globals())  # after every public definition
