"""The Painter's schedule fields: a resampling mode, its numbers, and the model calls they cost.

The fields are a view of one ``ScheduleConfig``: ``config`` holds it as a dict
(``ScheduleConfig.to_dict()``) whenever the fields make a valid schedule, and ``error``
says why they don't (the core's message, "" when they do). Setting ``config`` from outside
shows it in the fields. Every keystroke updates the call count (``continuous_update``).

The rules stay in the core: ``ScheduleConfig`` checks the numbers, ``model.check_t_T`` the
number of steps against the model (and η against 0..1), and the "frequency-chosen" mode asks
``core.schedules.plan.plan_schedule`` for the whole plan that suits the mask (window, jumps, η, walk).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as W
import torch
from traitlets import Dict, Unicode, observe

from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule
from ipainter_nb.errors import IPainterError, UserInputError
from ipainter_nb.widgets.messages import first_line, message_html

__all__ = ["ScheduleControls", "MODES"]

MODES = [("truncated", "truncated"), ("RePaint (everywhere)", "repaint"), ("none (plain)", "plain"),
         ("window", "window"), ("frequency-chosen", "frequency")]


class ScheduleControls(W.VBox):
    """Mode + t_T, jump length, jump count, stop, start, η + the call count.

    Args:
        initial: the schedule shown first.
        keep_mask: returns the current keep mask (the frequency-chosen mode adapts to it).
        field_layout: layout keywords of each field.

    ``model`` (attribute) checks t_T and feeds the frequency rule; call ``refresh()``
    after changing it.
    """

    config = Dict(help="the schedule of the fields, as ScheduleConfig.to_dict() (the last valid one)")
    error = Unicode("", help="why the fields make no schedule; '' when they do")

    def __init__(self, initial: ScheduleConfig, keep_mask: Callable[[], torch.Tensor],
                 field_layout: Mapping[str, Any] | None = None) -> None:
        super().__init__(layout=W.Layout(width="100%"))
        self.model: Any = None
        self._keep_mask = keep_mask
        self._syncing = False
        layout = dict(field_layout or {"width": "100%", "max_width": "320px"})

        def field(kind: type[W.ValueWidget], description: str, value: Any, **more: Any) -> W.ValueWidget:
            # each field its own Layout: the start field's display is switched per mode, and a
            # shared Layout would hide every field with it
            return kind(value=value, description=description, layout=W.Layout(**layout),
                        style={"description_width": "90px"}, **more)

        self.mode = field(W.Dropdown, "resampling", "truncated", options=MODES)
        self.t_T = field(W.IntText, "t_T", initial.t_T, continuous_update=True)
        self.jump_length = field(W.IntText, "jump length", initial.jump_length, continuous_update=True)
        self.jump_n_sample = field(W.IntText, "jump count", initial.jump_n_sample, continuous_update=True)
        self.stop_resampling_at = field(W.IntText, "stop at t", 0, continuous_update=True)
        self.start_resampling_at = field(W.IntText, "start at t", initial.t_T, continuous_update=True)
        self.eta = field(W.FloatText, "η (eta)", initial.eta, continuous_update=True, step=0.1)
        # not fields: a shown plan's walk stride, window grid and ramp of repeats are kept for its mode
        self._stride, self._window_levels, self._repeat_ramp = initial.stride, initial.window_levels, initial.repeat_ramp
        self.info = W.HTML(layout=W.Layout(max_width=layout.get("max_width", "320px"), min_width="0"))
        self.info.add_class("ipainter-nfe")
        for control in self.fields:
            control.observe(self._on_field, names="value")
        self.children = [*self.fields, self.info]
        self.show(initial)

    @property
    def fields(self) -> list[W.ValueWidget]:
        """The input widgets, top to bottom: mode, t_T, jump length and count, stop, start, η."""
        return [self.mode, self.t_T, self.jump_length, self.jump_n_sample, self.stop_resampling_at,
                self.start_resampling_at, self.eta]

    @property
    def adapts_to_mask(self) -> bool:
        """True in the frequency-chosen mode: the schedule follows the mask (``refresh(keep)``)."""
        return self.mode.value == "frequency"

    def current(self) -> ScheduleConfig:
        """The schedule of the fields; ``UserInputError`` with the reason when there is none."""
        if self.error:
            raise UserInputError(self.error)
        return ScheduleConfig.from_dict(self.config)

    def show(self, config: ScheduleConfig) -> None:
        """Put ``config`` in the fields (its mode follows from its numbers).

        Args:
            config: the schedule to show; it becomes ``config`` (the trait) and clears ``error``.
        """
        self._syncing = True
        try:
            self.mode.value = config.kind
            self.t_T.value = config.t_T
            self.jump_length.value = config.jump_length
            if config.kind != "plain":  # keep the user's jump count for when resampling is turned back on
                self.jump_n_sample.value = config.jump_n_sample
            if config.stop_resampling_at is not None:
                self.stop_resampling_at.value = config.stop_resampling_at
            start = config.start_resampling_at
            self.start_resampling_at.value = config.t_T if start is None else start
            self.eta.value, self._stride = config.eta, config.stride
            self._window_levels, self._repeat_ramp = config.window_levels, config.repeat_ramp
            self.config = config.to_dict()
            self.error = ""
        finally:
            self._syncing = False
        self._enable_fields()
        self._show_info(config)

    def refresh(self, keep: torch.Tensor | None = None) -> None:
        """Read the fields again (after a model change, or with a new mask in the frequency mode).

        A bad combination sets ``error`` and shows it under the fields instead.

        Args:
            keep: the keep mask the frequency-chosen schedule adapts to (default: the
                ``keep_mask`` callable's); other modes ignore it.
        """
        self._enable_fields()
        try:
            config = self._config_from_fields(keep)
        except (IPainterError, ValueError, TypeError) as exc:
            self.error = first_line(exc)
            self.info.value = message_html(f"⚠ {self.error}", "error")
            return
        self._syncing = True
        try:
            self.error = ""
            self.config = config.to_dict()
            if self.adapts_to_mask:  # show what the rule chose
                self.jump_length.value, self.jump_n_sample.value = config.jump_length, config.jump_n_sample
                self.stop_resampling_at.value = config.stop_resampling_at or 0
                self.start_resampling_at.value = config.start_resampling_at or config.t_T
                self.eta.value = config.eta
        finally:
            self._syncing = False
        self._show_info(config)

    # ----------------------------------------------------------------- internals

    @observe("config")
    def _config_set(self, change: Mapping[str, Any]) -> None:
        if not self._syncing:  # set from outside (the Painter's ``schedule``): show it
            self.show(ScheduleConfig.from_dict(change["new"]))

    def _on_field(self, change: Mapping[str, Any]) -> None:
        if self._syncing:
            return
        if change["owner"] is self.mode and change["new"] not in ("plain", "frequency") and self.jump_n_sample.value < 2:
            self._syncing = True  # choosing a resampling mode must resample: one pass per stretch is plain
            try:
                self.jump_n_sample.value = 2
            finally:
                self._syncing = False
        self.refresh()

    def _enable_fields(self) -> None:
        mode = self.mode.value
        chosen = mode == "frequency"
        # fields the mode ignores are greyed out rather than hidden: the layout stays put
        self.jump_length.disabled = self.jump_n_sample.disabled = mode == "plain" or chosen
        self.stop_resampling_at.disabled = mode not in ("truncated", "window") or chosen
        self.start_resampling_at.disabled = mode != "window"
        self.eta.disabled = chosen
        self.start_resampling_at.layout.display = None if mode in ("window", "frequency") else "none"

    def _config_from_fields(self, keep: torch.Tensor | None) -> ScheduleConfig:
        mode, t_T = self.mode.value, int(self.t_T.value)
        if self.model is not None:
            self.model.check_t_T(t_T)  # the core's rule and message
        if mode == "frequency":
            if self.model is None:
                raise UserInputError("the frequency-chosen schedule adapts to a model: load one first")
            return plan_schedule(self.model, self._keep_mask() if keep is None else keep, t_T=t_T)
        jump_length, eta = int(self.jump_length.value), float(self.eta.value)
        stride = min(self._stride, t_T)
        if mode == "plain":  # one pass per stretch: no resampling, whatever the jump fields say
            return ScheduleConfig(t_T=t_T, jump_length=jump_length, jump_n_sample=1, stop_resampling_at=None, eta=eta,
                                  stride=stride)
        stop = int(self.stop_resampling_at.value) if mode in ("truncated", "window") else None
        start = int(self.start_resampling_at.value) if mode == "window" else None
        levels = self._window_levels if mode == "window" and stop == 0 and start else None
        return ScheduleConfig(t_T=t_T, jump_length=jump_length, jump_n_sample=int(self.jump_n_sample.value),
                              stop_resampling_at=stop, start_resampling_at=start, eta=eta, stride=stride,
                              window_levels=None if levels is None else max(2, min(levels, start + 1)),
                              repeat_ramp=0.0 if levels is None else self._repeat_ramp)

    def _show_info(self, config: ScheduleConfig) -> None:
        self.info.value = message_html(config.describe())  # it names the number of model calls
