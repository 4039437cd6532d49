"""The Painter's schedule fields: a resampling mode, its numbers, and the model calls they cost.

The fields are a view of one ``ScheduleConfig``: ``config`` holds it as a dict
(``ScheduleConfig.to_dict()``) whenever the fields make a valid schedule, and ``error``
says why they don't (the core's message, "" when they do). Setting ``config`` from outside
shows it in the fields. Every keystroke updates the call count (``continuous_update``).

The fields are the settings table's rows that have a label (``core/schedules/settings.py``:
label, unit, type), and the rules stay in the core: ``ScheduleConfig`` checks the numbers,
``model.check_t_T`` the number of steps against the model, and the "harmonised for this mask"
mode asks ``plan_schedule`` for the whole plan that suits the mask (window, jumps, η, walk).
Each mode's name says what it does and what it costs now ("harmonised for this mask: 262
calls"), and the jump field says what it counts (steps, or grid levels on a grid window).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as W
import torch
from traitlets import Dict, Unicode, observe

from ipainter_nb.core.schedules import SETTINGS, ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule
from ipainter_nb.errors import IPainterError, UserInputError
from ipainter_nb.widgets.messages import first_line, message_html

__all__ = ["ScheduleControls", "MODES"]

#: (what the mode does, its value); each name gets the mode's cost appended ("...: 146 calls")
MODES = [("truncated (paper)", "truncated"), ("RePaint everywhere", "repaint"), ("none (plain)", "plain"),
         ("window of t", "window"), ("harmonised for this mask", "frequency")]
_NAMES = dict((value, name) for name, value in MODES)
#: the table's settings that have a field here, top to bottom
FIELD_SETTINGS = [row for row in SETTINGS if row.label]


class ScheduleControls(W.VBox):
    """Mode + one field per labelled setting (t_T, jump, repeats, stop, start, η) + the call count.

    Args:
        initial: the schedule shown first.
        keep_mask: returns the current keep mask (the planned mode, "harmonised for this mask", adapts to it).
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
        self._planned: tuple[tuple[Any, ...], ScheduleConfig] | None = None
        layout = dict(field_layout or {"width": "100%", "max_width": "320px"})

        def field(kind: type[W.ValueWidget], description: str, value: Any, **more: Any) -> W.ValueWidget:
            # each field its own Layout: the start field's display is switched per mode, and a
            # shared Layout would hide every field with it
            return kind(value=value, description=description, layout=W.Layout(**layout),
                        style={"description_width": "110px"}, **more)

        self.mode = field(W.Dropdown, "resampling", "truncated", options=MODES)
        self._fields: dict[str, W.ValueWidget] = {}
        for row in FIELD_SETTINGS:  # one field per labelled setting: its label, unit and type from the table
            value = getattr(initial, row.name)
            kind, more = (W.IntText, {}) if row.type is int else (W.FloatText, {"step": 0.1})
            self._fields[row.name] = field(kind, _label(row.label, row.unit), 0 if value is None else value,
                                           continuous_update=True, tooltip=row.description, **more)
            setattr(self, row.name, self._fields[row.name])
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
        """The input widgets, top to bottom: mode, then one per labelled setting (t_T, jump, repeats, stop, start, η)."""
        return [self.mode, *self._fields.values()]

    @property
    def adapts_to_mask(self) -> bool:
        """True in the planned mode ("harmonised for this mask"): the schedule follows the mask (``refresh(keep)``)."""
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
        self._name_modes()

    def refresh(self, keep: torch.Tensor | None = None) -> None:
        """Read the fields again (after a model change, or with a new mask: the planned mode
        follows it, and every mode's name says its cost for it).

        A bad combination sets ``error`` and shows it under the fields instead.

        Args:
            keep: the keep mask the planned schedule adapts to (default: the
                ``keep_mask`` callable's); other modes ignore it.
        """
        self._enable_fields()
        try:
            config = self._config_from_fields(keep)
        except (IPainterError, ValueError, TypeError) as exc:
            self.error = first_line(exc)
            self.info.value = message_html(f"⚠ {self.error}", "error")
            self._name_modes(keep)
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
        self._name_modes(keep)

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

    def _config_from_fields(self, keep: torch.Tensor | None, mode: str | None = None) -> ScheduleConfig:
        """The schedule the fields make in ``mode`` (default: the chosen one)."""
        mode, t_T = mode or self.mode.value, int(self.t_T.value)
        if self.model is not None:
            self.model.check_t_T(t_T)  # the core's rule and message
        if mode == "frequency":
            if self.model is None:
                raise UserInputError("the schedule harmonised for the mask adapts to a model: load one first")
            return self._plan(self._keep_mask() if keep is None else keep, t_T)
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

    def _plan(self, keep: torch.Tensor, t_T: int) -> ScheduleConfig:
        """The planner's schedule for this mask, planned once per model, t_T and mask."""
        key = (id(self.model), t_T, hash(keep.detach().cpu().numpy().tobytes()))
        if self._planned is None or self._planned[0] != key:
            self._planned = (key, plan_schedule(self.model, keep, t_T=t_T))
        return self._planned[1]

    def _name_modes(self, keep: torch.Tensor | None = None) -> None:
        """Each mode's name with what it costs now ("harmonised for this mask: 262 calls")."""
        options = []
        for name, mode in MODES:
            try:
                options.append((f"{name}: {self._config_from_fields(keep, mode).nfe} calls", mode))
            except (IPainterError, ValueError, TypeError):
                options.append((name, mode))  # this mode cannot run with the fields as they are: no cost to say
        if options != [tuple(option) for option in self.mode.options]:
            chosen, self._syncing = self.mode.value, True
            try:
                with self.mode.hold_sync():  # new options reset the value: put it back in the same message
                    self.mode.options, self.mode.value = options, chosen
            finally:
                self._syncing = False

    def _show_info(self, config: ScheduleConfig) -> None:
        # the jump field says what it counts: grid levels when the window is walked on a grid
        jump = next(row for row in FIELD_SETTINGS if row.name == "jump_length")
        self.jump_length.description = _label(jump.label, jump.unit_for(grid=config.window_levels is not None))
        head = _NAMES["frequency"] if self.adapts_to_mask else None
        self.info.value = message_html(config.describe(head=head))  # it names the number of model calls


def _label(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else label
