"""The frequency-chosen resampling window: what it reads from the mask, the spectrum and the
noise schedule, and that on the exact model it keeps RePaint's quality at half the calls."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipainter_nb.core.diffusion import DiffusionSchedule
from ipainter_nb.core.exact import (
    ExactDiffusionModel,
    GaussianImageModel,
    border_keep,
    centre_hole_keep,
    schedule_error,
)
from ipainter_nb.core.schedules import count_nfe, repaint, resampling_window
from ipainter_nb.core.schedules.rule import frequency_schedule, hole_radius, mask_frequency
from ipainter_nb.errors import UserInputError

ALPHAS_100 = DiffusionSchedule.create("linear", 1000, "100", "fixed_small").alphas_cumprod


def test_hole_radius_is_the_distance_to_the_nearest_kept_pixel():
    assert hole_radius(centre_hole_keep(16, 8)) == 4
    assert hole_radius(border_keep(16, 3)) == 3
    assert hole_radius(torch.ones(1, 16, 16)) == 0
    assert hole_radius(torch.zeros(1, 16, 16)) == 8
    # a thin frame has long modes along it: its scale is set by its area, not its width
    assert mask_frequency(border_keep(32, 2)) < 1 / (2 * 2)


def test_bigger_holes_and_stronger_pictures_resample_up_to_higher_t():
    starts = [frequency_schedule(ALPHAS_100, centre_hole_keep(32, h)).start_resampling_at for h in (4, 8, 16, 24)]
    assert starts == sorted(starts) and starts[0] < starts[-1]
    faint = frequency_schedule(ALPHAS_100, centre_hole_keep(32, 16), pixel_var=0.05)
    strong = frequency_schedule(ALPHAS_100, centre_hole_keep(32, 16), pixel_var=0.5)
    assert faint.start_resampling_at < strong.start_resampling_at
    # the finest band settles at the very end, so the window reaches down to t = 0
    assert strong.stop_resampling_at == 0 and strong.kind == "window"


def test_a_model_and_its_alphas_give_the_same_window():
    image_model = GaussianImageModel(beta=2.6, f0=0.02)
    model = ExactDiffusionModel.create(image_model, 32)
    keep = centre_hole_keep(32, 12)
    from_model = frequency_schedule(model, keep, t_T=100, jump_length=5, jump_n_sample=5)
    var = float(np.trace(np.asarray(image_model.channel_cov)) / 3)
    from_alphas = frequency_schedule(ALPHAS_100, keep, spectrum_beta=2.6, f0=0.02, pixel_var=var, jump_length=5, jump_n_sample=5)
    assert from_model == from_alphas
    assert resampling_window(from_model.times())[0] == 0


def test_a_budget_of_model_calls_lowers_the_window_from_the_top():
    keep = centre_hole_keep(64, 48)
    free = frequency_schedule(ALPHAS_100, keep, jump_length=5, jump_n_sample=5)
    capped = frequency_schedule(ALPHAS_100, keep, jump_length=5, jump_n_sample=5, max_nfe=200)
    assert free.nfe > 200 >= capped.nfe
    assert capped.stop_resampling_at == free.stop_resampling_at and capped.start_resampling_at < free.start_resampling_at
    with pytest.raises(UserInputError, match="below t_T"):
        frequency_schedule(ALPHAS_100, keep, max_nfe=50)
    with pytest.raises(UserInputError, match="margin"):
        frequency_schedule(ALPHAS_100, keep, margin=1.0)


def test_on_the_exact_model_the_rule_keeps_repaints_quality_at_half_its_calls():
    image_model = GaussianImageModel(beta=2.9, f0=0.012, channel_cov=((0.06, 0.045, 0.03), (0.045, 0.055, 0.047),
                                                                      (0.03, 0.047, 0.08)))
    model = ExactDiffusionModel.create(image_model, 16)
    image = image_model.sample(1, 16, torch.Generator().manual_seed(0))[0]
    keep = centre_hole_keep(16, 8)
    cond = image_model.conditional(image, keep)
    full = schedule_error(model, image, keep, repaint(50, 5, 5), conditional=cond)
    truncated = schedule_error(model, image, keep, repaint(50, 5, 5, stop_resampling_at=20), conditional=cond)
    rule = frequency_schedule(model, keep, t_T=50, jump_length=5, jump_n_sample=5)
    chosen = schedule_error(model, image, keep, rule.times(), conditional=cond)
    assert chosen.nfe <= 0.5 * full.nfe
    assert chosen.kl <= 1.1 * full.kl
    assert truncated.kl > 1.1 * full.kl  # the paper's proportion (stop at 40% of t_T) misses it here
    assert count_nfe(repaint(50, 5, 5, stop_resampling_at=20)) > chosen.nfe
