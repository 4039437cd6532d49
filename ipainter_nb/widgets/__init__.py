"""Notebook widgets: Composer (place cutouts), Painter (the whole app), LivePreview and
FrequencyPanel (watch a run), export_gif.

Imported on demand (``ipainter_nb.Painter`` or ``from ipainter_nb.widgets import ...``)
because they pull in ipywidgets, ipycanvas and matplotlib, which the core does not need.
"""

from __future__ import annotations

from typing import Any

from .app import Painter, enable_colab_widgets
from .plots import FrequencyPanel, band_snr_figure, spectrum_evolution_figure
from .preview import LivePreview, export_gif

__all__ = [
    "Composer", "Painter", "LivePreview", "FrequencyPanel", "export_gif",
    "band_snr_figure", "spectrum_evolution_figure", "enable_colab_widgets",
]


def __getattr__(name: str) -> Any:
    # the Composer (ipycanvas) loads only when asked for; the Painter imports it itself
    if name == "Composer":
        from .composer import Composer

        return Composer
    raise AttributeError(f"module 'ipainter_nb.widgets' has no attribute {name!r}")
