"""paint() on random masks and pictures: it paints with every kept pixel exactly kept, or refuses cleanly.

Masks come in every form a user hands over (bool or float tensors, numpy arrays, (H, W),
(1, H, W), (1, 1, H, W)), from all-kept to all-generated; pictures are random values in
[-1, 1]. Runs use the exact Gaussian model and a tiny random-weight network, a few steps each.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ipainter_nb as ip
from ipainter_nb.errors import UserInputError

SIZE = 8
EXACT = ip.exact.ExactDiffusionModel.create(size=SIZE)


def masks(size: int) -> st.SearchStrategy:
    """(the mask as handed over, the same mask as a (1, size, size) bool tensor)."""
    cells = arrays(np.bool_, (size, size))

    def forms(cells: np.ndarray) -> st.SearchStrategy:
        bools = torch.from_numpy(cells.copy())
        return st.sampled_from([
            bools, bools[None], bools[None, None], bools[None].float(), bools[None].double(),
            cells.astype(np.uint8), cells[None].astype(np.float32), cells.astype(np.int64),
        ]).map(lambda handed: (handed, bools[None]))

    return cells.flatmap(forms)


def pictures(size: int) -> st.SearchStrategy:
    return arrays(np.float32, (3, size, size), elements=st.floats(-1, 1, width=32)).map(torch.from_numpy)


def times() -> st.SearchStrategy:
    return st.sampled_from([ip.schedules.plain(3), ip.schedules.repaint(6, 2, 2), ip.schedules.plain(6, stride=2)])


def assert_kept_exactly(result: Any, image: torch.Tensor, kept: torch.Tensor, num_samples: int) -> None:
    assert result.num_finished == num_samples and not result.stopped
    samples = result.samples
    assert samples.shape == (num_samples, 3, *image.shape[1:])
    assert torch.isfinite(samples).all() and samples.abs().max() <= 1
    where = kept.expand(num_samples, 3, -1, -1)
    assert torch.equal(samples[where], image.expand(num_samples, -1, -1, -1)[where])


@given(mask=masks(SIZE), image=pictures(SIZE), schedule=times(), eta=st.floats(0, 1), num_samples=st.integers(1, 3),
       seed=st.integers(0, 2**63 - 1))
def test_the_exact_model_paints_any_mask_keeping_its_pixels(mask, image, schedule, eta, num_samples, seed):
    handed, kept = mask
    result = ip.paint(EXACT, image, handed, times=schedule, num_samples=num_samples, seed=seed, eta=eta,
                      batch_size=2, progress=False)
    assert_kept_exactly(result, image, kept, num_samples)


@functools.cache
def _tiny(path: Path) -> ip.DiffusionModel:
    return ip.load_model(path, device="cpu")


@settings(max_examples=4)
@given(mask=masks(32), image=pictures(32), eta=st.sampled_from([0.0, 1.0]))
def test_a_random_weight_network_paints_any_mask_keeping_its_pixels(tiny_model_path, mask, image, eta):
    handed, kept = mask
    result = ip.paint(_tiny(tiny_model_path), image, handed, times=ip.schedules.plain(2), eta=eta, progress=False)
    assert_kept_exactly(result, image, kept, 1)


@given(mask=masks(SIZE), image=pictures(SIZE), value=st.one_of(
    st.sampled_from([float("nan"), float("inf"), 0.5, -1.0, 2.0]), st.floats(0.001, 0.999)))
def test_a_mask_with_one_value_not_0_or_1_is_refused_before_painting(mask, image, value):
    _, kept = mask
    soft = kept.float()
    soft.view(-1)[0] = value
    calls = []
    with pytest.raises(UserInputError, match="^keep "):
        ip.paint(EXACT, image, soft, times=ip.schedules.plain(3), callback=calls.append, progress=False)
    assert calls == []  # refused before any step ran


@given(mask=masks(SIZE), target=st.sampled_from(["draft", "quality"]))
def test_plan_schedule_plans_any_mask_or_says_there_is_nothing_to_fill(mask, target):
    handed, kept = mask
    if bool(kept.all()):
        with pytest.raises(UserInputError, match="nothing to generate"):
            ip.plan_schedule(EXACT, handed, target=target)
        return
    plan = ip.plan_schedule(EXACT, handed, target=target)
    assert plan.nfe <= ip.schedules.PLAN_TARGETS[target].calls
    assert ip.schedules.validate_times(plan.times())[-1] == -1


@given(soft=st.floats(0.01, 0.99), where=st.integers(0, SIZE * SIZE - 1))
def test_plan_schedule_refuses_a_soft_mask_as_paint_does(soft, where):
    keep = torch.ones(1, SIZE, SIZE)
    keep.view(-1)[where] = soft
    with pytest.raises(UserInputError, match="0 \\(generate\\) and 1 \\(keep\\)") as planned:
        ip.plan_schedule(EXACT, keep)
    with pytest.raises(UserInputError) as painted:
        ip.paint(EXACT, torch.zeros(3, SIZE, SIZE), keep, times=ip.schedules.plain(3), progress=False)
    assert str(planned.value) == str(painted.value)
