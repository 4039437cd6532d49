"""The Painter's live draft: a short paint of the scene after each edit, shown beside the canvas.

``draft_schedule(model, max_calls)`` chooses the quick drafts' schedule, ``paint_walk_within``
the last one's. A draft must predict the picture Paint will make: it paints with the Painter's
seed and carries Paint's noise (``paint(noise_like=Paint's schedule)``, ``core/noise.py``):
each draft step draws the noise Paint draws over the same levels, its last crossings of a
level Paint's last crossings. Each pause of the edits is drafted in two stages: a **quick
draft** (``plan_schedule``'s draft plan within ``DRAFT_BUDGET_S`` of model calls; the target
is 1.5 s from the edit to the picture on screen, on a small CPU; ``DraftPanel`` keeps the
measured time of a model call), then, while the edits stay paused, the **last draft**:
Paint's own walk with the most repeats within the draft plan's calls, which then shares
Paint's descent and its last repeats noise for noise (the draft plan itself when Paint's walk
does not fit). A newer edit, a Paint or Stop cancels the stage that runs; the caption says
which stage is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import torch
from PIL import Image

from ipainter_nb.core.models import DiffusionModel
from ipainter_nb.core.paintable import model_traits
from ipainter_nb.core.sampler import PaintResult, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule
from ipainter_nb.images import png_bytes, tensor_to_pil
from ipainter_nb.widgets.messages import first_line, message_html
from ipainter_nb.widgets.preview import PIXELATED_CLASS

__all__ = ["DraftPanel", "draft_schedule", "DRAFT_T_T", "DRAFT_JUMP_N_SAMPLE", "DRAFT_BUDGET_S", "DRAFT_MAX_CALLS", "BLANK_PNG"]

#: Drafts walk at most this many respaced steps (the model's default schedule scaled down)
#: and denoise each resampled stretch at most this many times: tens of model calls.
DRAFT_T_T = 12
DRAFT_JUMP_N_SAMPLE = 2
#: The first quick draft (before a model call has been timed) makes at most this many calls.
DRAFT_MAX_CALLS = 36
#: Fewer calls than this leave no room for a plan: the draft is a scaled-down default schedule.
MIN_PLAN_CALLS = 8
#: Fewest steps a draft takes, however slow the machine.
MIN_DRAFT_T_T = 4
#: Seconds of model calls a draft may take; the edit pause, the picture's trip to the
#: browser and a busy machine take the rest of the 1.5 s a draft may take to appear.
DRAFT_BUDGET_S = 0.6
_DISPLAY_PX = 160
#: A transparent 1x1 picture: what the draft box shows before its first draft (an empty
#: image widget would show the browser's broken-image icon).
BLANK_PNG = png_bytes(Image.new("RGBA", (1, 1), (0, 0, 0, 0)))


def draft_schedule(model: DiffusionModel | None, max_calls: int | None = None, keep: torch.Tensor | None = None) -> ScheduleConfig:
    """The drafts' short schedule.

    Args:
        model: the model the draft paints with (``None``: the paper's schedule, scaled down).
        max_calls: at most this many model calls (``None``: the draft plan in full); the
            draft never takes fewer than ``MIN_DRAFT_T_T`` steps.
        keep: the composition's keep mask (None: a typical hole).

    Returns:
        With a model, ``plan_schedule``'s draft plan for the mask within ``max_calls``
        calls; without one (or when no plan fits), the default schedule scaled to at most
        ``DRAFT_T_T`` steps, each resampled stretch denoised at most ``DRAFT_JUMP_N_SAMPLE``
        times, with as many steps as ``max_calls`` allows.
    """
    if model is not None:
        if max_calls is None or max_calls >= MIN_PLAN_CALLS:
            return plan_schedule(model, keep, target="draft", budget=max_calls)
    like = model.default_schedule if model is not None else ScheduleConfig()
    config = None
    for t_T in range(min(DRAFT_T_T, like.t_T), 0, -1):
        short = ScheduleConfig.for_t_T(t_T, like=like)
        config = ScheduleConfig(t_T=short.t_T, jump_length=short.jump_length,
                                jump_n_sample=min(short.jump_n_sample, DRAFT_JUMP_N_SAMPLE),
                                stop_resampling_at=short.stop_resampling_at,
                                start_resampling_at=short.start_resampling_at)
        if max_calls is None or config.nfe <= max_calls or t_T <= MIN_DRAFT_T_T:
            return config
    assert config is not None  # t_T >= 1 always gives one
    return config


def paint_walk_within(paint_config: ScheduleConfig, max_calls: int) -> ScheduleConfig | None:
    """Paint's own walk with as many repeats as ``max_calls`` model calls allow.

    Same levels, same jumps, each resampled stretch denoised fewer times: carrying Paint's
    noise (``paint(noise_like=paint_config)``), its descent and its last repeats draw the
    very noise of Paint's, so its picture lands near Paint's.

    Args:
        paint_config: the schedule Paint runs.
        max_calls: at most this many model calls.

    Returns:
        The config, or None when even a walk without repeats takes more calls.
    """
    for repeats in range(paint_config.jump_n_sample, 0, -1):
        config = ScheduleConfig(**{**paint_config.to_dict(), "jump_n_sample": repeats})
        if config.nfe <= max_calls:
            return config
    return None


def _stage_name(config: ScheduleConfig, paint_config: ScheduleConfig | Sequence[int]) -> str:
    """What the caption calls the last draft of a pause."""
    paint_times = paint_config.times() if isinstance(paint_config, ScheduleConfig) else list(paint_config)
    if config.times() == paint_times:
        return "Paint schedule"
    if isinstance(paint_config, ScheduleConfig) and config == paint_walk_within(paint_config, config.nfe):
        return "Paint walk, fewer repeats"
    return "draft plan"


class DraftPanel(W.VBox):
    """The draft's picture, its caption and the "live draft" toggle, and the draft job.

    Args:
        enabled: whether the toggle starts on.
        budget_s: seconds of model calls a draft may take (see ``DRAFT_BUDGET_S``).
        **kwargs: passed to ``ipywidgets.VBox``.
    """

    def __init__(self, enabled: bool = True, budget_s: float = DRAFT_BUDGET_S, **kwargs: Any) -> None:
        kwargs.setdefault("layout", W.Layout(margin="0 8px", width=f"{_DISPLAY_PX + 8}px", flex="0 0 auto"))
        super().__init__(**kwargs)
        self.budget_s = float(budget_s)
        #: Measured seconds per model call of the drafts (None until one has run).
        self.seconds_per_call: float | None = None
        self.image = W.Image(value=BLANK_PNG, format="png", layout=W.Layout(
            width=f"{_DISPLAY_PX}px", height=f"{_DISPLAY_PX}px", object_fit="contain",
            border="1px dashed #bbb"))
        self.image.add_class(PIXELATED_CLASS)  # enlarged by the browser, pixels kept square
        self.caption = W.HTML("<small>a quick draft appears here after each change</small>",
                              layout=W.Layout(width="auto", min_width="0"))
        self.toggle = W.ToggleButton(value=enabled, description="live draft", icon="bolt",
                                     tooltip="paint a quick draft after each change of the canvas",
                                     layout=W.Layout(width="auto", margin="2px"))
        self.toggle.add_class("ipainter-draft-toggle")
        self.children = [self.image, self.caption, self.toggle]
        self.add_class("ipainter-draft")

    def config(self, model: DiffusionModel | None, keep: torch.Tensor | None = None) -> ScheduleConfig:
        """The schedule of the next quick draft: as many calls as the budget allows on this machine.

        Args:
            model: the model the draft will use.
            keep: the composition's keep mask (the plan adapts to its hole).

        Returns:
            ``draft_schedule(model, max_calls)`` with ``max_calls`` from the measured
            time per model call (``DRAFT_MAX_CALLS`` before the first draft).
        """
        per_call = self.seconds_per_call
        max_calls = DRAFT_MAX_CALLS if per_call is None else max(1, math.floor(self.budget_s / per_call))
        return draft_schedule(model, max_calls, keep)

    def refined_config(self, model: DiffusionModel | None, keep: torch.Tensor | None = None,
                       paint_config: ScheduleConfig | None = None) -> ScheduleConfig:
        """The schedule a paused edit is refined to: Paint's walk within the draft plan's calls.

        The last draft a pause shows must predict Paint's picture: Paint's own walk with fewer
        repeats (``paint_walk_within``) carrying Paint's noise lands nearer Paint's picture than
        the planner's draft plan does (``benchmarks/draft_fidelity.py``).

        Args:
            model: the model the draft will use.
            keep: the composition's keep mask (the plan adapts to its hole).
            paint_config: the schedule Paint will run (default: the model's default schedule).

        Returns:
            ``paint_walk_within(paint_config, draft_schedule(model, None, keep).nfe)``, or the
            draft plan itself when Paint's walk does not fit in its calls (or there is no model).
        """
        plan = draft_schedule(model, None, keep)
        if paint_config is None and model is not None:
            paint_config = model_traits(model).default_schedule
        walk = paint_walk_within(paint_config, plan.nfe) if paint_config is not None else None
        return walk if walk is not None else plan

    def run_stages(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, seed: int, cancel: Any,
                   shown: Any = None, paint_config: ScheduleConfig | Sequence[int] | None = None) -> PaintResult | None:
        """Draft one pause of the edits (worker thread): the quick draft, then the draft plan.

        Both stages carry the noise Paint will draw with ``seed`` (``paint(noise_like=...)``),
        so that they predict Paint's first picture.

        Args:
            model: the model to paint with.
            image: the composition's picture, (3, H, W) in [-1, 1].
            keep: its keep mask, (1, H, W).
            seed: the Painter's seed (Paint's first picture starts from the same noise).
            cancel: the job's cancel token (a newer edit, a Paint or Stop sets it).
            shown: called with each draft's ``PaintResult`` once it is shown (None: nothing).
            paint_config: the schedule Paint will run (default: the model's default schedule).

        Returns:
            The last draft shown, or None when none was (failed, or stale).
        """
        if paint_config is None:
            paint_config = model_traits(model).default_schedule or model.default_times()
        quick = self.config(model, keep)
        full = self.refined_config(model, keep, paint_config if isinstance(paint_config, ScheduleConfig) else None)
        refine = full.nfe > quick.nfe  # the budget may already hold the last draft
        name = _stage_name(full, paint_config)
        stages = [(quick, "quick draft", f"; refining to {name} ({full.nfe} calls) while the edits pause"),
                  (full, name, "")] if refine else [(full, name, "")]
        last = None
        for config, name, more in stages:
            result = self.run(model, image, keep, config, seed, cancel, stage=name, more=more, noise_like=paint_config)
            if result is None:
                return last
            last = result
            if shown is not None:
                shown(result)
        return last

    def run(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, config: ScheduleConfig,
            seed: int, cancel: Any, stage: str = "draft", more: str = "",
            noise_like: ScheduleConfig | Sequence[int] | None = None) -> PaintResult | None:
        """Paint one draft (worker thread) and show it; None when it failed or went stale.

        Args:
            model: the model to paint with.
            image: the composition's picture, (3, H, W) in [-1, 1].
            keep: its keep mask, (1, H, W).
            config: the draft's schedule (``config(model)``).
            seed: the seed of the draft (the Painter's).
            cancel: the job's cancel token (a newer edit, a Paint or Stop sets it).
            stage: what the caption calls this draft ("quick draft", "draft plan").
            more: said after the caption (what comes next).
            noise_like: the schedule whose noise the draft carries (Paint's; None: its own draws).

        Returns:
            The draft's ``PaintResult`` when it was shown, else None.
        """
        try:
            result = paint(model, image, keep, times=config, num_samples=1, seed=seed, cancel=cancel,
                           progress=False, max_frames=0, noise_like=noise_like)
        except Exception as exc:  # e.g. a canvas of the wrong size: the draft says why, Paint will too
            self.caption.value = message_html(f"no draft: {first_line(exc)}", "error", small=True)
            return None
        if result.nfe:
            # measured even when the draft went stale: while edits come faster than drafts
            # finish, the calls it made still size the next one to the budget
            per_call = result.elapsed_s / result.nfe
            # a running mean that follows a change of load within a few drafts
            self.seconds_per_call = per_call if self.seconds_per_call is None else (
                0.5 * self.seconds_per_call + 0.5 * per_call)
        if result.stopped or cancel.is_set():
            return None  # stale: a newer edit, a Paint or Stop; the previous draft stays
        self.image.value = png_bytes(tensor_to_pil(result.samples[0]), compress_level=1)  # the browser enlarges it
        self.caption.value = message_html(f"{stage}: {result.nfe} model calls, {result.elapsed_s:.1f} s, "
                                          f"seed {seed} as Paint{more or ' (Paint runs the full schedule)'}", small=True)
        return result

    def show_off(self) -> None:
        """Say that drafts are off."""
        self.caption.value = "<small>live draft off</small>"
