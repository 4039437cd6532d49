import numpy as np
import pytest
import torch

from ipainter_nb.core.frequency import (
    band_edges,
    band_energies,
    band_snr,
    drowning_times,
    gradient_energy,
    radial_power_spectrum,
    sharpness,
)


def linear_alphas_cumprod(n: int = 1000) -> np.ndarray:
    """DDPM's linear beta schedule, built here so the test does not lean on core.diffusion."""
    betas = np.linspace(1e-4, 0.02, n)
    return np.cumprod(1.0 - betas)


def natural_image(size: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with a little texture: most energy at low frequencies."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    base = np.stack([xx, yy, 0.5 * (xx + yy)]) * 1.6 - 0.8
    blob = 0.3 * np.sin(2 * np.pi * xx) * np.cos(2 * np.pi * yy)
    return np.clip(base + blob + 0.02 * rng.standard_normal((3, size, size)), -1, 1)


def stripes(size: int, cycles: int) -> np.ndarray:
    """Vertical stripes at exactly cycles/size cycles per pixel, greyscale (H, W)."""
    xx = np.arange(size)[None, :].repeat(size, 0)
    return np.cos(2 * np.pi * cycles * xx / size)


def box_blur(image: np.ndarray, radius: int = 1) -> np.ndarray:
    out = np.zeros_like(image)
    k = 2 * radius + 1
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out += np.roll(image, (dy, dx), axis=(-2, -1))
    return out / (k * k)


# ----------------------------------------------------------------------------- spectra


def test_radial_spectrum_runs_from_dc_to_nyquist_and_finds_a_stripe_frequency():
    freqs, power = radial_power_spectrum(stripes(64, cycles=8))
    assert freqs.shape == power.shape == (33,)
    assert freqs[0] == 0 and freqs[-1] == pytest.approx(0.5)
    assert freqs[np.nanargmax(power)] == pytest.approx(8 / 64)


def test_white_noise_has_flat_unit_power_under_the_orthonormal_fft():
    noise = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    freqs, power = radial_power_spectrum(noise)
    # Away from the sparse first bins, every bin averages many coefficients.
    assert np.allclose(power[4:], 1.0, atol=0.15)
    assert power[1:].mean() == pytest.approx(1.0, abs=0.05)


def test_spectrum_accepts_torch_numpy_greyscale_single_and_batched():
    img = natural_image(32)
    f_np, p_np = radial_power_spectrum(img)
    f_t, p_t = radial_power_spectrum(torch.from_numpy(img).float())
    _, p_batch = radial_power_spectrum(np.stack([img, img]))
    np.testing.assert_allclose(f_np, f_t)
    np.testing.assert_allclose(p_np, p_t, rtol=1e-4)
    np.testing.assert_allclose(p_np, p_batch)
    _, p_grey = radial_power_spectrum(img[0])
    assert p_grey.shape == p_np.shape
    with pytest.raises(ValueError, match="shape"):
        radial_power_spectrum(np.zeros((1, 1, 1, 8, 8)))


def test_band_edges_are_documented_octaves_for_32_pixels():
    np.testing.assert_allclose(band_edges(32, 4), [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2])
    np.testing.assert_allclose(band_edges(32, 2, spacing="linear"), [0, 0.25, 0.5])
    with pytest.raises(ValueError, match="n_bands=0"):
        band_edges(32, 0)
    with pytest.raises(ValueError, match="spacing='cubic'"):
        band_edges(32, 4, spacing="cubic")  # type: ignore[arg-type]


def test_band_energies_sum_to_one_and_put_each_stripe_in_its_band():
    low = band_energies(stripes(32, cycles=1))  # 1/32 cycles/pixel: band 0
    high = band_energies(stripes(32, cycles=12))  # 0.375 cycles/pixel: band 3
    assert low.sum() == pytest.approx(1.0) and high.sum() == pytest.approx(1.0)
    assert low[0] == pytest.approx(1.0)
    assert high[3] == pytest.approx(1.0)
    natural = band_energies(natural_image(64))
    assert natural[0] > 0.6 and list(natural) == sorted(natural, reverse=True)
    assert np.all(band_energies(np.full((3, 16, 16), 0.3)) == 0)  # no non-DC energy


# ----------------------------------------------------------------------------- SNR


def test_band_snr_of_unit_white_noise_at_half_alpha_is_one_in_every_band():
    noise = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    snr = band_snr(noise, np.array([0.5]), n_bands=4)
    assert snr.shape == (1, 4)
    np.testing.assert_allclose(snr[0], 1.0, atol=0.2)  # band 0 holds few coefficients


def test_band_snr_scales_with_alpha_bar_like_the_forward_process():
    img = natural_image(32)
    a = np.array([0.9, 0.5, 0.1])
    snr = band_snr(img, a)
    assert snr.shape == (3, 4)
    # SNR_t / SNR_s = [a_t / (1 - a_t)] / [a_s / (1 - a_s)] in every band.
    np.testing.assert_allclose(snr[0] / snr[1], 9.0)
    np.testing.assert_allclose(snr[2] / snr[1], 1 / 9)
    assert np.all(np.isinf(band_snr(img, [1.0])))


def test_high_bands_drown_first_under_the_linear_schedule():
    a = linear_alphas_cumprod(1000)
    snr = band_snr(natural_image(64), a, n_bands=4)
    assert snr.shape == (1000, 4)
    drown = drowning_times(snr)
    assert drown.shape == (4,)
    assert list(drown) == sorted(drown, reverse=True)  # low band last, high band first
    assert drown[-1] < drown[0]
    assert np.all(snr[drown, range(4)] < 1) and np.all(snr[drown - 1, range(4)] >= 1)


def test_drowning_time_is_T_when_a_band_never_drowns():
    snr = np.array([[5.0, 2.0], [3.0, 0.5], [2.0, 0.1]])
    assert list(drowning_times(snr)) == [3, 1]


# ----------------------------------------------------------------------------- sharpness


def test_blur_lowers_sharpness_and_gradient_energy():
    rng = np.random.default_rng(3)
    sharp = natural_image(64) + 0.2 * rng.standard_normal((3, 64, 64))
    blurred = box_blur(sharp, radius=2)
    assert sharpness(blurred) < 0.5 * sharpness(sharp)
    assert gradient_energy(blurred) < 0.5 * gradient_energy(sharp)
    assert 0 <= sharpness(blurred) <= 1


def test_mask_restricts_the_measure_to_its_region():
    rng = np.random.default_rng(4)
    img = np.zeros((3, 64, 64))
    img[..., :, 32:] = rng.standard_normal((3, 64, 32))  # textured right half
    img[..., :, :32] = np.linspace(-0.5, 0.5, 64)[None, :, None]  # smooth left half
    left = np.zeros((64, 64))
    left[:, :32] = 1
    right = 1 - left
    assert sharpness(img, mask=left) < 0.05 < sharpness(img, mask=right)
    assert gradient_energy(img, mask=left) < 0.01 < gradient_energy(img, mask=right)
    # A torch (1, H, W) mask, as composition produces, is accepted too.
    assert gradient_energy(img, mask=torch.from_numpy(right)[None]) == pytest.approx(
        gradient_energy(img, mask=right)
    )
    with pytest.raises(ValueError, match="no pixel"):
        sharpness(img, mask=np.zeros((64, 64)))
    with pytest.raises(ValueError, match="mask is 32x32 but the picture is 64x64"):
        gradient_energy(img, mask=np.ones((32, 32)))
