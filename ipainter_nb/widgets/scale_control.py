"""The Composer's Scale control: a slider long enough for 0.05 steps, and -/+ buttons.

The slider takes a row of its own and never gets shorter than ``MIN_TRACK_PX`` pixels,
so that each of its ``SCALE_STEP`` steps is a few pixels of mouse travel at every window
width; the -/+ buttons change the scale by exactly one step (as the ``-``/``+`` keys do).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W

__all__ = ["ScaleControl", "MIN_SCALE", "MAX_SCALE", "SCALE_STEP", "MIN_TRACK_PX", "small_note"]

#: The scale control's range and step: a hand can hit 1.00 and never loses a cutout off view.
MIN_SCALE, MAX_SCALE, SCALE_STEP = 0.1, 4.0, 0.05
#: Shortest slider track, CSS pixels: about 3 px of mouse travel per step.
MIN_TRACK_PX = 240


def small_note(text: str) -> str:
    """``text`` as a small grey note (HTML), for hints under a control.

    Args:
        text: the note, plain text (escaped here).

    Returns:
        The HTML of the note.
    """
    return f"<div style='color:#666; font-size:smaller; line-height:1.3'>{html.escape(text)}</div>"


class ScaleControl(W.VBox):
    """Slider (``slider``) over a row of -/+ buttons (``minus``, ``plus``) and a hint.

    Args:
        on_step: called with -1 or +1 when a -/+ button is pressed (the owner changes the
            scale by one ``SCALE_STEP``).
        **kwargs: passed to ``ipywidgets.VBox``.
    """

    def __init__(self, on_step: Callable[[int], Any], **kwargs: Any) -> None:
        kwargs.setdefault("layout", W.Layout(width="100%", min_width="0", margin="4px 0"))
        super().__init__(**kwargs)
        self.slider = W.FloatSlider(
            value=1.0, min=MIN_SCALE, max=MAX_SCALE, step=SCALE_STEP, description="Scale",
            readout=True, readout_format=".2f", continuous_update=True,
            tooltip="Scale of the selected layer (or turn the mouse wheel over the canvas)",
            style={"description_width": "3em"},
            # no side margins: width 100% plus the default 2 px margins would overflow the box;
            # the minimum is the track plus the label and the readout
            layout=W.Layout(width="100%", min_width=f"calc({MIN_TRACK_PX}px + 8em)", margin="2px 0"))
        button = {"width": "2.6em", "min_width": "2.6em", "flex": "0 0 auto", "margin": "2px"}
        self.minus = W.Button(description="−", tooltip=f"Smaller by {SCALE_STEP} (key -)", layout=W.Layout(**button))
        self.plus = W.Button(description="+", tooltip=f"Larger by {SCALE_STEP} (key +)", layout=W.Layout(**button))
        self.minus.on_click(lambda _b: on_step(-1))
        self.plus.on_click(lambda _b: on_step(+1))
        hint = W.HTML(small_note("or turn the mouse wheel over the canvas"),
                      layout=W.Layout(flex="1 1 8em", min_width="0", margin="0 0 0 4px"))
        self.children = [self.slider, W.HBox([self.minus, self.plus, hint], layout=W.Layout(
            align_items="center", width="100%", min_width="0"))]
        self.add_class("ipainter-scale")

    @property
    def disabled(self) -> bool:
        """Whether the slider and the buttons are greyed out (no layer selected)."""
        return self.slider.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self.slider.disabled = self.minus.disabled = self.plus.disabled = bool(value)
