"""Diffusion tables equal guided-diffusion's, and the closed forms invert each other."""

import json

import numpy as np
import pytest
import torch

from ipainter_nb.core.diffusion import DiffusionSchedule, space_timesteps

TABLES = ["timestep_map", "betas", "alphas_cumprod", "posterior_variance",
          "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"]


@pytest.mark.parametrize("respacing", ["250", "100", "50", "ddim50"])
def test_respaced_tables_match_guided_diffusion(reference_dir, respacing):
    ref = json.loads((reference_dir / "respaced_linear_1000.json").read_text())["respacings"][respacing]
    schedule = DiffusionSchedule.create("linear", 1000, respacing)
    for name in TABLES:
        ours, theirs = np.asarray(getattr(schedule, name), dtype=np.float64), np.asarray(ref[name])
        assert ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0, err_msg=name)


def test_space_timesteps_sections_and_errors():
    assert space_timesteps(1000, "250")[:3] == [0, 4, 8]
    assert space_timesteps(1000, "ddim50") == list(range(0, 1000, 20))
    assert len(space_timesteps(100, "10,20")) == 30
    with pytest.raises(ValueError, match="cannot take 60 steps from a section of 50"):
        space_timesteps(100, "60,1")


def test_q_sample_then_predict_x0_recovers_the_image():
    schedule = DiffusionSchedule.create("cosine", 1000, "100")
    x0 = torch.rand(2, 3, 8, 8) * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.tensor([5, 80])
    x_t = schedule.q_sample(x0, t, noise)
    assert torch.allclose(schedule.predict_x0(x_t, t, noise), x0, atol=1e-5)


def test_learned_range_variance_interpolates_between_posterior_and_beta():
    schedule = DiffusionSchedule.create("linear", 1000, "250")
    x = torch.zeros(1, 3, 4, 4)
    t = torch.tensor([100])
    lo = schedule.model_log_variance(t, x, -torch.ones_like(x))
    hi = schedule.model_log_variance(t, x, torch.ones_like(x))
    assert torch.allclose(lo, torch.full_like(x, schedule.posterior_log_variance_clipped[100]))
    assert torch.allclose(hi, torch.full_like(x, float(np.log(schedule.betas[100]))))


def test_p_mean_variance_with_perfect_eps_gives_the_posterior_mean_of_the_truth():
    schedule = DiffusionSchedule.create("linear", 1000, "50", variance_type="fixed_small")
    x0 = torch.rand(1, 3, 4, 4) * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.tensor([20])
    x_t = schedule.q_sample(x0, t, noise)
    mean, log_var, x0_pred = schedule.p_mean_variance(noise, x_t, t)
    assert torch.allclose(x0_pred, x0, atol=1e-4)
    assert torch.allclose(mean, schedule.posterior_mean(x0, x_t, t), atol=1e-4)
    with pytest.raises(ValueError, match="expected 3 .*or 6"):
        schedule.p_mean_variance(torch.zeros(1, 4, 4, 4), x_t, t)


def test_a_one_step_schedule_has_finite_tables_and_a_deterministic_last_step():
    schedule = DiffusionSchedule.create("linear", 1000, "1", variance_type="fixed_large")
    assert schedule.num_steps == 1 and list(schedule.timestep_map) == [0]
    for name in TABLES[1:] + ["fixed_large_log_variance"]:
        assert np.isfinite(getattr(schedule, name)).all(), name
    x_t = torch.randn(1, 3, 4, 4)
    mean, log_var, _ = schedule.p_mean_variance(torch.zeros_like(x_t), x_t, torch.tensor([0]))
    assert torch.isfinite(mean).all() and torch.isfinite(log_var).all()


def test_fixed_large_variance_is_beta_except_at_level_zero():
    schedule = DiffusionSchedule.create("linear", 1000, "50", variance_type="fixed_large")
    x = torch.zeros(1, 3, 2, 2)
    for t in (1, 20, 49):
        assert torch.allclose(schedule.model_log_variance(torch.tensor([t]), x, None),
                              torch.full_like(x, float(np.log(schedule.betas[t]))))
    level0 = schedule.model_log_variance(torch.tensor([0]), x, None)
    assert torch.allclose(level0, torch.full_like(x, float(np.log(schedule.posterior_variance[1]))))
