"""The models the Painter's dropdown offers: the presets whose weights are on this machine."""

from __future__ import annotations

from ipainter_nb.core.presets import PRESETS, find_weights

__all__ = ["available_models"]


def available_models() -> list[str]:
    """Presets whose weights are on this machine (shipped, or found by ``find_weights``)."""
    found = []
    for name in PRESETS:
        try:
            find_weights(name)
        except Exception:  # missing weights are the normal case for the big presets
            continue
        found.append(name)
    return found
