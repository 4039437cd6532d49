"""The Composer's tool bar: the edit buttons, the mask toggle and the Scale control."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as W

from ipainter_nb.widgets.scale_control import ScaleControl

__all__ = ["ToolBar"]

# (name, label, icon, tooltip) of each button, in the bar's order
_BUTTONS = [
    ("undo", "Undo", "undo", "Undo (Ctrl+Z)"),
    ("redo", "Redo", "repeat", "Redo (Ctrl+Shift+Z)"),
    ("delete", "Delete", "trash", "Delete the selected layer (Delete)"),
    ("flip", "Flip", "arrows-h", "Mirror the selected layer (f)"),
    ("forward", "Forward", "arrow-up", "Bring forward (])"),
    ("backward", "Backward", "arrow-down", "Send backward ([)"),
    ("bring_back", "Bring back", "compress", "Move layers that are off the canvas back onto it"),
]


def _tool_layout() -> W.Layout:
    # Never shrinks below its label: the tool box wraps instead.
    return W.Layout(width="auto", min_width="2.8em", flex="0 0 auto", margin="2px")


class ToolBar(W.Box):
    """Buttons that call the actions they are given, a "Show mask" toggle and the Scale control,
    wrapping in rows; each button is an attribute (``undo_button``, ``bring_back_button``, ...).

    Args:
        actions: the action of each button by name: undo, redo, delete, flip, forward, backward,
            bring_back (each called without arguments).
        on_scale_step: the Scale control's -/+ buttons (called with -1 or +1).

    >>> bar = ToolBar({name: (lambda: None) for name in ("undo", "redo", "delete", "flip", "forward",
    ...                                                   "backward", "bring_back")}, on_scale_step=print)
    >>> bar.undo_button.description, bar.mask_toggle.value
    ('Undo', False)
    """

    def __init__(self, actions: Mapping[str, Callable[[], Any]], on_scale_step: Callable[[int], Any]) -> None:
        buttons = []
        for name, label, icon, tooltip in _BUTTONS:
            button = W.Button(description=label, icon=icon, tooltip=tooltip, layout=_tool_layout())
            button.on_click(lambda _b, action=actions[name]: action())
            setattr(self, f"{name}_button", button)
            buttons.append(button)
        self.mask_toggle = W.ToggleButton(value=False, description="Show mask", icon="eye",
                                          tooltip="Tint the region the model will paint", layout=_tool_layout())
        self.scale_control = ScaleControl(on_step=on_scale_step)
        super().__init__(buttons[:6] + [self.mask_toggle, buttons[6], self.scale_control],
                         layout=W.Layout(display="flex", flex_flow="row wrap", align_content="flex-start",
                                         width="100%", min_width="0"))
        self.add_class("ipainter-tools")
