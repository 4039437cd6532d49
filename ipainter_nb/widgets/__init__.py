"""Notebook widgets: Painter (the whole app), Composer (place cutouts), Palette (cutouts and
uploads), LivePreview and FrequencyPanel (watch a run).

Every name loads on first use (``from ipainter_nb.widgets import Painter`` works as
usual): importing one widget module must not pull in the others, and matplotlib and
ipycanvas only load when a widget that draws with them is asked for. Figures and GIFs
are drawn by ``ipainter_nb.viz``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .app import Painter, enable_colab_widgets
    from .composer import Composer
    from .palette import Palette
    from .plots import FrequencyPanel
    from .preview import LivePreview

_WHERE = {
    "Painter": "app",
    "enable_colab_widgets": "app",
    "Composer": "composer",
    "Palette": "palette",
    "LivePreview": "preview",
    "FrequencyPanel": "plots",
}

__all__ = ["Painter", "enable_colab_widgets", "Composer", "Palette", "LivePreview", "FrequencyPanel"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'ipainter_nb.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
