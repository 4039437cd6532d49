"""Google Colab draws third-party widgets (ipycanvas) only with its custom widget manager on."""

from __future__ import annotations

__all__ = ["enable_colab_widgets"]


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager (needed for ipycanvas); False outside Colab."""
    try:
        from google.colab import output  # type: ignore[import-not-found]
    except ImportError:
        return False
    try:
        output.enable_custom_widget_manager()
    except Exception:  # an old Colab runtime without it: widgets may still partly work
        return False
    return True
