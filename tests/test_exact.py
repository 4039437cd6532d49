"""The exact Gaussian model: its denoiser, its conditional and a schedule's exact law, each
checked against an independent computation (Monte Carlo or the dense joint covariance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipainter_nb.core.exact import (
    ExactDiffusionModel,
    GaussianImageModel,
    border_keep,
    centre_hole_keep,
    demo_image_model,
    schedule_error,
    schedule_output_law,
    spectrum_grid,
)
from ipainter_nb.core.sampler import paint
from ipainter_nb.core.schedules import ScheduleConfig, plain, repaint
from ipainter_nb.errors import UserInputError

# low contrast: paint()'s clamps to [-1, 1] never touch these samples
MODEL = GaussianImageModel(beta=2.6, f0=0.05, channel_cov=((0.04, 0.03, 0.02), (0.03, 0.05, 0.03), (0.02, 0.03, 0.06)),
                           mean=(-0.1, 0.0, 0.1))


def joint_covariance(model: GaussianImageModel, size: int) -> np.ndarray:
    """The (3HW, 3HW) covariance written out entry by entry from the spectrum (channel-major)."""
    k = np.fft.ifft2(model.spectrum(size)).real  # autocovariance of the unit field
    ys, xs = np.divmod(np.arange(size * size), size)
    spatial = k[(ys[:, None] - ys[None]) % size, (xs[:, None] - xs[None]) % size]
    return np.kron(np.asarray(model.channel_cov), spatial)


def test_samples_have_the_model_covariance_and_mean():
    x = MODEL.sample(20000, 4, torch.Generator().manual_seed(0), dtype=torch.float64).reshape(20000, -1)
    cov = np.cov(x.numpy(), rowvar=False)
    expected = joint_covariance(MODEL, 4)
    assert np.abs(cov - expected).max() < 0.004  # MC error of a covariance entry ≈ 0.05 · √(2/20000)·... ≈ 0.001
    assert np.allclose(x.mean(0).reshape(3, -1).mean(1).numpy(), MODEL.mean, atol=0.01)


def test_fit_recovers_the_parameters_of_a_known_model():
    truth = GaussianImageModel(beta=2.5, f0=0.03, channel_cov=MODEL.channel_cov, mean=(0.1, -0.2, 0.0))
    fitted = GaussianImageModel.fit(truth.sample(64, 64, torch.Generator().manual_seed(1)))
    assert fitted.beta == pytest.approx(2.5, abs=0.25)
    assert np.allclose(fitted.channel_cov, truth.channel_cov, rtol=0.15)
    assert np.allclose(fitted.mean, truth.mean, atol=0.05)


def test_exact_denoiser_equals_the_monte_carlo_posterior_mean():
    # Gaussian: E[x0 | x_t] is affine in x_t, so a least-squares regression of x0 on x_t over
    # many (x0, x_t) pairs estimates it (error about sqrt(49 / n) posterior std); the exact
    # filter must agree, a filter that ignores the colour correlations must not
    model = ExactDiffusionModel.create(MODEL, 4, dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    n, a = 40000, torch.tensor(0.3, dtype=torch.float64)
    x0 = MODEL.sample(n, 4, gen, dtype=torch.float64)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    design = torch.cat([xt.reshape(n, -1), torch.ones(n, 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(design, x0.reshape(n, -1)).solution
    mc = (design[:500] @ coef).reshape(500, 3, 4, 4)
    exact = model.predict_x0(xt[:500], a.expand(500))
    no_colour = GaussianImageModel(MODEL.beta, MODEL.f0, np.diag(np.diag(MODEL.channel_cov)), MODEL.mean)
    wrong = ExactDiffusionModel.create(no_colour, 4, dtype=torch.float64).predict_x0(xt[:500], a.expand(500))
    posterior_std = float((x0[:500] - exact).std())
    assert float((mc - exact).abs().mean()) < 0.05 * posterior_std
    assert float((mc - wrong).abs().mean()) > 0.15 * posterior_std


def test_the_model_call_returns_the_noise_that_gives_back_the_denoised_picture():
    model = ExactDiffusionModel.create(MODEL, 8)
    sched = model.schedule(50)
    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([49, 30, 30, 10, 0])
    eps = model(x, t, sched)
    x0 = sched.predict_x0(x, t, eps)
    a = torch.as_tensor(sched.alphas_cumprod)[t]
    assert torch.allclose(x0, model.predict_x0(x, a), atol=1e-4)
    assert model.image_size == 8 and model.device.type == "cpu" and model.dtype == torch.float32


def test_exact_conditional_equals_the_schur_complement_of_the_joint_covariance():
    size = 4
    image = MODEL.sample(1, size, torch.Generator().manual_seed(4), dtype=torch.float64)[0]
    keep = torch.ones(1, size, size)
    keep[0, 1:3, 0:3] = 0  # 6 generated pixels, not centred
    cond = MODEL.conditional(image, keep)
    joint = joint_covariance(MODEL, size)
    gen_pix = np.flatnonzero(keep.numpy().reshape(-1) == 0)
    g = np.concatenate([gen_pix + c * size * size for c in range(3)])
    k = np.setdiff1d(np.arange(3 * size * size), g)
    solve = np.linalg.solve(joint[np.ix_(k, k)], np.eye(len(k)))
    cov = joint[np.ix_(g, g)] - joint[np.ix_(g, k)] @ solve @ joint[np.ix_(k, g)]
    mu = np.repeat(np.asarray(MODEL.mean), size * size)
    y = image.reshape(-1).numpy()
    mean = mu[g] + joint[np.ix_(g, k)] @ solve @ (y[k] - mu[k])
    assert np.allclose(cond.covariance(), cov, atol=1e-10)
    assert np.allclose(cond.mean().reshape(-1).numpy()[g], mean, atol=1e-10)
    assert np.allclose(cond.pixel_variance().reshape(-1).numpy()[g], np.diag(cov), atol=1e-10)


def test_conditional_samples_keep_the_kept_pixels_and_follow_the_law():
    size = 8
    image = MODEL.sample(1, size, torch.Generator().manual_seed(5))[0]
    keep = centre_hole_keep(size, 4)
    cond = MODEL.conditional(image, keep)
    draws = cond.sample(4000, torch.Generator().manual_seed(6), dtype=torch.float64)
    kept = keep.bool().expand(3, -1, -1)
    assert torch.equal(draws[:, kept], image.double()[kept].expand(4000, -1))
    score = cond.score_samples(draws)
    assert score["bias"] < 4 / 4000**0.5 and abs(score["var_ratio"] - 1) < 4 * (2 / 4000) ** 0.5


def test_plain_schedule_with_nothing_kept_returns_the_prior():
    size = 8
    model = ExactDiffusionModel.create(MODEL, size)
    nothing = torch.zeros(1, size, size)
    law = schedule_output_law(model, torch.zeros(3, size, size), nothing, plain(1000))
    prior = joint_covariance(MODEL, size)
    assert np.abs(law.covariance() - prior).max() < 0.02 * prior.max()
    assert torch.allclose(law.mean().float(), torch.tensor(MODEL.mean).view(3, 1, 1).expand(3, size, size), atol=1e-3)
    # with few steps fixed-small loses variance and fixed-large keeps more of it
    small = schedule_output_law(model, torch.zeros(3, size, size), nothing, plain(25)).pixel_variance().mean()
    large = schedule_output_law(model, torch.zeros(3, size, size), nothing, plain(25), variance="fixed_large").pixel_variance().mean()
    prior_var = float(np.diag(MODEL.channel_cov).mean())
    assert float(small) < 0.95 * prior_var < float(large)


@pytest.mark.parametrize("eta, stride", [(1.0, 1), (0.0, 1), (0.4, 1), (1.0, 4), (0.0, 3), (1.0, "grid"), (0.5, "grid")])
def test_paint_samples_exactly_the_schedules_law(eta, stride):
    # DDPM steps (eta 1), deterministic DDIM steps (eta 0) and between, inside jumps; walks over every level or strided
    size, m = 8, 3000
    model = ExactDiffusionModel.create(MODEL, size, dtype=torch.float64)
    image = MODEL.sample(1, size, torch.Generator().manual_seed(7))[0]
    keep = border_keep(size, 2)
    if stride == "grid":  # a window walked on a grid: strided down steps, jumps over several levels, ramped repeats
        times = ScheduleConfig(40, jump_length=2, jump_n_sample=3, stop_resampling_at=0, start_resampling_at=12, stride=5,
                               window_levels=5, repeat_ramp=1.0).times()  # repeats ramped 2, 3
    else:
        times = repaint(20, 3, 3, stop_resampling_at=6) if stride == 1 else repaint(40, 3, 3, 0, 6, stride=stride)
    law = schedule_output_law(model, image, keep, times, eta=eta)
    result = paint(model, image, keep, times=times, num_samples=m, seed=8, progress=False, max_frames=0,
                   clip_x0=False, dtype=torch.float64, batch_size=m, eta=eta)
    x = result.samples.reshape(m, -1).double()
    mean, var = law.mean().reshape(-1), torch.from_numpy(np.diag(law.covariance()).copy())
    gen = var > 0
    z = (x.mean(0) - mean)[gen] / (var[gen] / m).sqrt()
    assert float(z.abs().max()) < 4.5  # 96 standardised means
    ratio = x.var(0)[gen] / var[gen]
    assert float((ratio - 1).abs().max()) < 5 * (2 / m) ** 0.5
    assert torch.equal(x[:, ~gen], image.double().reshape(-1)[~gen].expand(m, -1))  # kept pixels exact


def test_resampling_brings_the_output_closer_to_the_exact_conditional():
    size = 16
    model = ExactDiffusionModel.create(MODEL, size)
    image = MODEL.sample(1, size, torch.Generator().manual_seed(9))[0]
    keep = centre_hole_keep(size, 8)
    cond = MODEL.conditional(image, keep)
    without = schedule_error(model, image, keep, plain(50), conditional=cond)
    with_jumps = schedule_error(model, image, keep, repaint(50, 5, 5), conditional=cond)
    assert with_jumps.kl < 0.5 * without.kl
    assert with_jumps.nfe > without.nfe == 50


@pytest.mark.parametrize("keep_of, times, eta", [
    (lambda n: centre_hole_keep(n, 6), repaint(30, 3, 3), 1.0),
    (lambda n: border_keep(n, 2), repaint(40, 3, 3, 0, 6, stride=4), 0.3),
    (lambda n: centre_hole_keep(n, 4), plain(20), 0.0),
])
def test_schedule_error_carried_backward_equals_the_score_of_the_dense_law(keep_of, times, eta):
    # schedule_error carries a few projections backward; the dense law carries the whole covariance forward
    size = 12
    model = ExactDiffusionModel.create(MODEL, size, dtype=torch.float64)
    image = MODEL.sample(1, size, torch.Generator().manual_seed(4))[0]
    keep = keep_of(size)
    cond = MODEL.conditional(image, keep)
    dense = cond.score_law(schedule_output_law(model, image, keep, times, eta=eta))
    projected = schedule_error(model, image, keep, times, conditional=cond, eta=eta)
    assert projected.kl == pytest.approx(dense["kl"], rel=1e-9)
    assert projected.bias == pytest.approx(dense["bias"], rel=1e-9)
    assert projected.var_ratio == pytest.approx(dense["var_ratio"], rel=1e-9)


def test_the_law_depends_on_eta_and_eta_1_is_the_ddpm_law():
    size = 8
    model = ExactDiffusionModel.create(MODEL, size, dtype=torch.float64)
    image = MODEL.sample(1, size, torch.Generator().manual_seed(7))[0]
    keep, times = centre_hole_keep(size, 4), repaint(20, 3, 3)
    ddpm = schedule_output_law(model, image, keep, times)
    almost = schedule_output_law(model, image, keep, times, eta=1 - 1e-12)
    ddim = schedule_output_law(model, image, keep, times, eta=0.0)
    assert np.allclose(almost.cov_eigen, ddpm.cov_eigen, atol=1e-8)
    assert not np.allclose(ddim.cov_eigen, ddpm.cov_eigen, atol=1e-3)
    cond = MODEL.conditional(image, keep)
    config = ScheduleConfig(20, jump_length=3, jump_n_sample=3, stop_resampling_at=None, eta=0.0)
    assert schedule_error(model, image, keep, config, conditional=cond).kl == pytest.approx(
        schedule_error(model, image, keep, times, conditional=cond, eta=0.0).kl)


def test_the_stored_demo_fit_is_what_the_demo_scenes_give():
    from ipainter_nb.demo import fit_demo_image_model

    fitted, stored = fit_demo_image_model(), demo_image_model()
    # the fit's last digits follow the machine's float reductions (thread count, SIMD width)
    assert fitted.beta == pytest.approx(stored.beta, rel=1e-6)
    assert fitted.f0 == pytest.approx(stored.f0, rel=1e-6)
    assert np.allclose(fitted.channel_cov, stored.channel_cov, rtol=1e-6, atol=0)
    assert np.allclose(fitted.mean, stored.mean, rtol=1e-6, atol=0)


def test_user_errors_name_the_fix():
    with pytest.raises(UserInputError, match=r"only 0 \(generate\) and 1 \(keep\).*0\.5 \(16 pixels\)"):
        MODEL.conditional(torch.zeros(3, 4, 4), torch.full((1, 4, 4), 0.5))
    with pytest.raises(UserInputError, match="positive definite"):
        GaussianImageModel(channel_cov=((1, 0, 0), (0, 1, 0), (0, 0, -1)))
    with pytest.raises(UserInputError, match="fixed_small"):
        ExactDiffusionModel.create(MODEL, 8, variance_type="learned_range")


def test_the_iterative_conditional_matches_the_dense_one():
    # beyond the dense limit the mean comes from conjugate gradients and the samples from
    # Matheron's rule; on a grid where both run they must agree
    size = 16
    image = MODEL.sample(1, size, torch.Generator().manual_seed(10), dtype=torch.float64)[0]
    keep = border_keep(size, 3)
    dense = MODEL.conditional(image, keep)
    iterative = MODEL.conditional(image, keep, dense=False)
    assert torch.allclose(iterative.mean(), dense.mean(), atol=1e-7)
    draws = iterative.sample(1000, torch.Generator().manual_seed(11), dtype=torch.float64)
    score = dense.score_samples(draws)
    assert score["bias"] < 4 / 1000**0.5 and abs(score["var_ratio"] - 1) < 4 * (2 / 1000) ** 0.5
    kept = keep.bool().expand(3, -1, -1)
    assert torch.equal(draws[:, kept], image[kept].expand(1000, -1))
    with pytest.raises(UserInputError, match="mean\\(\\) and sample\\(\\) work at any size"):
        iterative.covariance()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: GaussianImageModel(beta=1e30), r"beta=1e\+30 is out of range: it must be a finite number in \(0, 12\]"),
    (lambda: GaussianImageModel(f0=1e-300), r"f0=1e-300 is out of range: it must be a finite number in \[1e-06, 0\.5\]"),
    (lambda: spectrum_grid(8, 1e30, 0.02), r"beta=1e\+30 is out of range"),  # all NaN, silently, before
])
def test_a_spectrum_beyond_double_precision_is_refused_naming_the_parameter(call, message):
    with pytest.raises(UserInputError, match=message):
        call()
