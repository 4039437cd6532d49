"""Notebook widgets: Composer (place cutouts), Painter (the whole app), LivePreview and
FrequencyPanel (watch a run), export_gif.

Every name loads on first use (``from ipainter_nb.widgets import Painter`` works as
usual): importing one widget module must not pull in the others, and matplotlib and
ipycanvas only load when a widget that draws with them is asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .app import Painter, enable_colab_widgets
    from .composer import Composer
    from .plots import FrequencyPanel, band_snr_figure, spectrum_evolution_figure
    from .preview import LivePreview, export_gif

_WHERE = {
    "Composer": "composer",
    "Painter": "app",
    "enable_colab_widgets": "app",
    "LivePreview": "preview",
    "export_gif": "preview",
    "FrequencyPanel": "plots",
    "band_snr_figure": "plots",
    "spectrum_evolution_figure": "plots",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'ipainter_nb.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
