"""Diffusion tables equal guided-diffusion's, and the closed forms invert each other."""

import json

import numpy as np
import pytest
import torch

from ipainter_nb.core.diffusion import DiffusionSchedule, cosine_betas, linear_betas, space_timesteps
from ipainter_nb.errors import UserInputError

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


@pytest.mark.parametrize("variance_type", ["fixed_small", "fixed_large", "learned_range"])
def test_the_ddim_step_at_eta_1_is_the_ddpm_step_and_at_eta_0_is_deterministic(variance_type):
    sched = DiffusionSchedule.create("linear", 1000, "20", variance_type)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, 5, generator=gen, dtype=torch.float64)
    out = torch.randn(4, 6 if variance_type == "learned_range" else 3, 5, 5, generator=gen, dtype=torch.float64)
    t = torch.tensor([19, 10, 1, 0])
    ddpm = sched.p_mean_variance(out, x, t)
    # the DDIM coefficients written out just below eta = 1 (not the eta = 1 shortcut) equal the DDPM posterior's
    for level in (19, 10, 1, 0):
        a, b, small, _ = sched.step_coefficients(level, None, 1.0 - 1e-15)
        assert a == pytest.approx(sched.posterior_mean_coef1[level], abs=1e-7)
        assert b == pytest.approx(sched.posterior_mean_coef2[level], abs=1e-7)
        assert small == sched.posterior_variance[level]
    nearly_one = sched.p_mean_variance(out, x, t, eta=1.0 - 1e-15)
    assert torch.allclose(nearly_one[0], ddpm[0], atol=1e-6) and torch.allclose(nearly_one[1], ddpm[1], atol=1e-6)
    mean0, log_var0, x0 = sched.p_mean_variance(out, x, t, eta=0.0)
    assert torch.isinf(log_var0).all() and (log_var0 < 0).all()
    # DDIM at eta = 0: x_{t-1} = √ā_{t-1} x0 + √(1-ā_{t-1}) eps, eps re-derived from the (clipped) x0
    ac = torch.as_tensor(sched.alphas_cumprod)[t].view(-1, 1, 1, 1)
    prev = torch.as_tensor(sched.alphas_cumprod_prev)[t].view(-1, 1, 1, 1)
    eps = (x - ac.sqrt() * x0) / (1 - ac).sqrt()
    assert torch.allclose(mean0, prev.sqrt() * x0 + (1 - prev).sqrt() * eps, atol=1e-10)
    half = sched.p_mean_variance(out, x, t, eta=0.5)
    assert torch.allclose(half[1], ddpm[1] + 2 * np.log(0.5))


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_every_step_keeps_the_marginal_of_the_forward_process_strided_or_not(eta):
    # with the true x0 and x_t = √ā_t x0 + √(1-ā_t) ε, a step to level s must give √ā_s x0 + noise of variance 1 - ā_s
    sched = DiffusionSchedule.create("linear", 1000, "50", "fixed_small")
    for t, s in ((49, 48), (49, 39), (20, 3), (7, -1), (0, -1)):
        a, b, small, _ = sched.step_coefficients(t, s, eta)
        ac, prev = sched.alpha_bar(t), sched.alpha_bar(s)
        assert a + b * np.sqrt(ac) == pytest.approx(np.sqrt(prev), abs=1e-12)
        assert b**2 * (1 - ac) + eta**2 * small == pytest.approx(1 - prev, abs=1e-12)


def test_a_strided_ddpm_step_is_the_step_of_the_schedule_respaced_to_those_levels():
    # DDPM from level 40 to 30 of a 50-level schedule = one step of the schedule that keeps only the visited levels
    fine = DiffusionSchedule.create("linear", 1000, "50", "fixed_small")
    kept = [int(fine.timestep_map[i]) for i in (0, 10, 20, 30, 40)]
    base = np.cumprod(1 - linear_betas(1000))
    betas = 1 - base[kept] / np.append(1.0, base[kept][:-1])
    five = DiffusionSchedule(betas, np.array(kept), "fixed_small")
    a, b, small, large = fine.step_coefficients(40, 30)
    assert (a, b) == pytest.approx((five.posterior_mean_coef1[4], five.posterior_mean_coef2[4]), rel=1e-9)
    assert (small, large) == pytest.approx((five.posterior_variance[4], five.betas[4]), rel=1e-9)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    jumped = fine.q_jump(x, 30, 40, torch.zeros_like(x))
    assert torch.allclose(jumped, np.sqrt(1 - five.betas[4]) * x)


@pytest.mark.parametrize("call, message", [
    (lambda: linear_betas(0), r"num_steps=0 is out of range: it must be in 1\.\.100000"),
    (lambda: cosine_betas(10**30), r"num_steps=\d+ is out of range"),  # it ran for minutes
    (lambda: cosine_betas(max_beta=-1), r"max_beta=-1 is out of range: it must be a finite number in \(0, 1\]"),
    (lambda: space_timesteps(1000, "2 50"), r"spacing='2 50' is invalid: it must be a step count, '10,15,20'"),
    (lambda: space_timesteps(1000, "ddimx"), r"spacing='ddimx' is invalid"),
    (lambda: space_timesteps(1000, None), r"spacing must be a step count"),
    (lambda: space_timesteps(1000, "2000"), r"cannot take 2000 steps from a section of 1000 steps"),
])
def test_a_noise_schedule_of_no_meaning_is_refused_naming_the_argument(call, message):
    with pytest.raises(UserInputError, match=message):
        call()
    assert len(space_timesteps(1000, 250)) == 250 and len(space_timesteps(1000, "ddim50")) == 50
