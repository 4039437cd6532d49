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

``DraftController`` is the draft's one owner: it hears the Composer's edits, waits for them to
pause, decides whether a new draft is wanted, queues it on the worker and shows it in its
``DraftPanel``; the Painter only links its ``seed``, ``model`` and ``enabled`` traits and
listens to its events (``on_edit``, ``on_pause``, ``on_draft``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import torch
from PIL import Image
from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, HasTraits, Int, observe

from ipainter_nb.core.models import DiffusionModel
from ipainter_nb.core.paintable import model_traits
from ipainter_nb.core.sampler import PaintResult, paint
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule
from ipainter_nb.images import png_bytes, tensor_to_pil
from ipainter_nb.widgets.messages import first_line, message_html
from ipainter_nb.widgets.preview import PIXELATED_CLASS
from ipainter_nb.widgets.worker import Debouncer, Job, Worker

if TYPE_CHECKING:
    from ipainter_nb.core.composition import Composition
    from ipainter_nb.widgets.composer import Composer

__all__ = ["DraftPanel", "DraftController", "draft_schedule", "EDIT_PAUSE_S", "CLICK_PAUSE_S", "DRAFT_T_T",
           "DRAFT_JUMP_N_SAMPLE", "DRAFT_BUDGET_S", "DRAFT_MAX_CALLS", "BLANK_PNG"]

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
#: A gesture (a drag, wheel turns, a slider drag) must pause this long before a draft (and
#: the band-SNR plot) follows it; a single edit (a drop, Delete, a button) waits only
#: ``CLICK_PAUSE_S``, which merges the changes of one click.
EDIT_PAUSE_S = 0.2
CLICK_PAUSE_S = 0.02
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
        """Draft one pause of the edits (worker thread): the quick draft, then the last draft (``refined_config``).

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


class DraftController(HasTraits):
    """When and what to draft: after each pause of the edits, a draft of the scene with ``seed``.

    It observes the Composer (its ``composition`` trait, the composition's changes and the end
    of a drag); an edit or a new seed makes a draft wanted, and once the edits pause for
    ``edit_pause_s`` (``CLICK_PAUSE_S`` after a single click) the draft is queued on the
    worker, replacing a draft not yet shown. Nothing is drafted before ``start()``.

    Events: ``on_edit(callback())`` after each change of the composition, ``on_pause(callback(model,
    image, keep))`` after each pause of the edits (on a timer thread, the draft already queued),
    ``on_draft(callback(result))`` after each draft shown (on the worker thread).

    Args:
        panel: where the draft is shown (its toggle is linked to ``enabled``).
        worker: the thread the drafts paint on.
        composer: the Composer whose edits are drafted.
        edit_pause_s: how long the edits must pause before a draft follows them.
        traits: the other traits' first values (``model``, ``seed``, ``enabled``...).

    Used on its own (``tests/test_components.py`` does this)::

        drafts = DraftController(DraftPanel(), Worker(), composer, model=model)
        drafts.on_draft(lambda result: print(result.nfe))
        drafts.start()              # drafts the scene as it is, then each pause of the edits
    """

    enabled = Bool(True, help="draft after each change (the panel's toggle)")
    seed = Int(0, help="the drafts' seed (Paint's, so that a draft predicts Paint's first picture)")
    model = AnyTrait(None, allow_none=True, help="the model the drafts paint with (None: no drafts)")
    paint_schedule = Dict(help="the schedule Paint runs, as ScheduleConfig.to_dict() (empty: the model's default): "
                               "the last draft walks it and carries its noise")

    def __init__(self, panel: DraftPanel, worker: Worker, composer: Composer, edit_pause_s: float = EDIT_PAUSE_S,
                 **traits: Any) -> None:
        # set before the traits: their observers (a draft turned off) use them
        self.panel, self.worker, self.composer = panel, worker, composer
        self._pause = Debouncer(edit_pause_s, self._after_pause)
        self._edit_handlers = W.CallbackDispatcher()
        self._pause_handlers = W.CallbackDispatcher()
        self._draft_handlers = W.CallbackDispatcher()
        self._wanted = True  # an edit since the last draft (the scene as opened counts as one)
        self._started = False
        super().__init__(**traits)
        W.link((self, "enabled"), (panel.toggle, "value"))
        self._observed: Composition | None = None
        self._observe_composition()
        composer.observe(self._on_composition_replaced, names="composition")
        composer.on_gesture_end(self._after_gesture)

    # ---------------------------------------------------------------- events

    def on_edit(self, callback: Callable[[], Any], remove: bool = False) -> None:
        """Call ``callback()`` after each change of the composition (on the thread that made it).

        Args:
            callback: called without arguments.
            remove: unregister ``callback`` instead.
        """
        self._edit_handlers.register_callback(callback, remove=remove)

    def on_pause(self, callback: Callable[[Any, torch.Tensor, torch.Tensor], Any], remove: bool = False) -> None:
        """Call ``callback(model, image, keep)`` after each pause of the edits (on a timer thread).

        Args:
            callback: takes the model and the rendered composition (picture and keep mask).
            remove: unregister ``callback`` instead.
        """
        self._pause_handlers.register_callback(callback, remove=remove)

    def on_draft(self, callback: Callable[[PaintResult], Any], remove: bool = False) -> None:
        """Call ``callback(result)`` after each draft that was shown (on the worker thread).

        Args:
            callback: takes the draft's ``PaintResult``.
            remove: unregister ``callback`` instead.
        """
        self._draft_handlers.register_callback(callback, remove=remove)

    # ---------------------------------------------------------------- what the owner asks

    @property
    def pause_s(self) -> float:
        """How long the edits must pause before a draft follows them."""
        return self._pause.delay_s

    @property
    def pending(self) -> bool:
        """True while an edit waits for its pause (its draft is not queued yet)."""
        return self._pause.pending

    def start(self) -> None:
        """Begin: draft the scene as it is now, then after each pause of the edits."""
        self._started = True
        self._pause.trigger()

    def touch(self) -> None:
        """Something beside the composition changed (the schedule): ``on_pause`` follows the next pause."""
        if self._started:
            self._pause.trigger()

    def redraft(self) -> None:
        """Want a new draft (e.g. of a new model) after the next pause."""
        self._wanted = True
        if self._started:
            # a gesture sends edits many times a second: wait for it to pause; a click is one edit
            self._pause.trigger(None if self.composer.in_gesture else CLICK_PAUSE_S)

    def cancel(self) -> None:
        """Stop: forget a pause under way and the wish for a draft (the worker's jobs are its owner's to cancel)."""
        self._pause.cancel()
        self._wanted = False

    def close(self) -> None:
        """Forget the pause, wait for a pause call under way, and stop observing the composition."""
        self._pause.close()  # a pause call under way may still queue a draft: it ends first
        if self._observed is not None:
            self._observed.unobserve(self._on_composition_changed)
            self._observed = None

    def config(self, model: DiffusionModel | None, keep: torch.Tensor) -> ScheduleConfig:
        """The schedule of the next quick draft (``DraftPanel.config``).

        Args:
            model: the model of the draft.
            keep: the keep mask.

        Returns:
            The draft's ``ScheduleConfig``.
        """
        return self.panel.config(model, keep)

    # ---------------------------------------------------------------- reactions

    def _observe_composition(self) -> None:
        comp = self.composer.composition
        if comp is self._observed:
            return
        if self._observed is not None:
            self._observed.unobserve(self._on_composition_changed)
        comp.observe(self._on_composition_changed)
        self._observed = comp

    def _on_composition_changed(self, _composition: Composition) -> None:
        self._edit_handlers()
        self.redraft()

    def _on_composition_replaced(self, _change: Any) -> None:
        self._observe_composition()
        self._on_composition_changed(self.composer.composition)

    def _after_gesture(self) -> None:
        """A drag ended (mouse-up): its draft need not wait for the rest of the pause."""
        if self._pause.waiting:  # a call already running has no pause left to shorten
            self._pause.trigger(CLICK_PAUSE_S)

    @observe("seed")
    def _seed_changed(self, _change: Any) -> None:
        self._wanted = True  # the draft paints with Paint's seed
        self.touch()

    @observe("enabled")
    def _toggled(self, change: Any) -> None:
        if change["new"]:
            self._wanted = True
            self.touch()
        else:
            self.worker.cancel(["draft"])
            self.panel.show_off()

    @observe("model")
    def _model_changed(self, _change: Any) -> None:
        self.worker.cancel(["draft"])  # drafts of the previous model are stale

    def _after_pause(self) -> None:
        """The edits paused (timer thread): queue a draft of the scene if one is wanted."""
        model = self.model
        if model is None or self.worker.closed:
            return
        try:
            image, keep = self.composer.composition.render()
        except Exception:  # e.g. an edit landing mid-render: the next pause renders again
            self._pause.trigger()
            return
        if self.enabled and self._wanted:  # a schedule change alone leaves the draft as it is
            self._wanted = False
            self._submit(model, image, keep)
        self._pause_handlers(model, image, keep)

    def _submit(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor) -> Job:
        # one torch thread fewer than the machine has: the kernel keeps a core for the canvas
        threads = max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1))
        draft = partial(self._draft, model, image, keep, int(self.seed))
        # a queued band-SNR plot would make the draft wait: it is queued again after the draft
        return self.worker.submit(draft, "draft", replaces=("draft", "plot"), threads=threads)

    def _draft(self, model: DiffusionModel, image: torch.Tensor, keep: torch.Tensor, seed: int, cancel: Any
               ) -> PaintResult | None:
        # Paint's schedule is read when the draft starts: a planned mode has followed the new mask by then
        return self.panel.run_stages(model, image, keep, seed, cancel, shown=self._draft_handlers,
                                     paint_config=self.paint_config)

    @property
    def paint_config(self) -> ScheduleConfig | None:
        """The schedule Paint runs (``paint_schedule``) as a ``ScheduleConfig``; None: the model's default."""
        return ScheduleConfig.from_dict(self.paint_schedule) if self.paint_schedule else None
