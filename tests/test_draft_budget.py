"""The live draft's time budget: measured on every draft, finished or made stale."""

from __future__ import annotations

import time

import pytest

from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import load_model
from ipainter_nb.core.steps import CancelToken
from ipainter_nb.widgets.draft import DraftPanel


class Slow:
    """The tiny model, ``delay_s`` slower per call (a slow machine); counts its calls."""

    def __init__(self, model, delay_s: float) -> None:
        self._model, self._delay, self.calls = model, delay_s, 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, x, t, schedule):
        self.calls += 1
        time.sleep(self._delay)
        return self._model(x, t, schedule)


class StaleAfter(CancelToken):
    """The cancel token a newer edit sets once the draft has made ``calls`` model calls."""

    def __init__(self, model: Slow, calls: int) -> None:
        super().__init__()
        self.model, self.calls = model, calls

    def is_set(self) -> bool:
        return self.model.calls >= self.calls or super().is_set()


@pytest.fixture(scope="module")
def slow_model(plain_tiny_model_path):
    return Slow(load_model(plain_tiny_model_path, device="cpu"), delay_s=0.05)


def test_a_draft_made_stale_by_a_newer_edit_still_sizes_the_next_draft(slow_model):
    """Edits that come faster than drafts finish: the calls of the stale drafts size the next
    one to the time budget (not a full-length draft because none has finished yet)."""
    panel = DraftPanel(budget_s=0.2)
    image, keep = Composition(slow_model.image_size).render()
    unmeasured = panel.config(slow_model, keep)
    assert panel.seconds_per_call is None
    stale = StaleAfter(slow_model, slow_model.calls + 3)
    assert panel.run(slow_model, image, keep, unmeasured, seed=0, cancel=stale) is None  # stale: not shown
    assert panel.seconds_per_call is not None and panel.seconds_per_call >= 0.05
    assert panel.config(slow_model, keep).nfe < unmeasured.nfe  # 0.2 s / 0.05 s: 4 calls, or the fewest steps
