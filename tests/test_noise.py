"""Carried noise: a run with ``noise_like=`` another schedule draws that schedule's noise on its own levels."""

import math

import pytest
import torch

import ipainter_nb as ip
from ipainter_nb.core.exact import ExactDiffusionModel, GaussianImageModel, centre_hole_keep
from ipainter_nb.core.noise import carried_noise, walk_draws
from ipainter_nb.core.sampler import derive_seed, seeded_noise
from ipainter_nb.core.schedules import ScheduleConfig, plain, repaint
from ipainter_nb.errors import UserInputError

# low contrast: paint()'s clamps to [-1, 1] never touch these samples
PICTURES = GaussianImageModel(beta=2.6, f0=0.05, channel_cov=((0.04, 0.03, 0.02), (0.03, 0.05, 0.03), (0.02, 0.03, 0.06)),
                              mean=(-0.1, 0.0, 0.1))
SHAPE = (3, 4, 4)


@pytest.fixture(scope="module")
def exact_model():
    return ExactDiffusionModel.create(PICTURES, 16)


def draws(source, times):
    return [source() for _ in walk_draws(times)]


def test_carried_onto_its_own_schedule_the_noise_is_the_schedules_own_draw_for_draw(exact_model):
    times = repaint(30, 3, 4, stop_resampling_at=0)
    schedule = exact_model.schedule(30)
    carried = carried_noise([5, 9], SHAPE, times, schedule, times, schedule, "cpu", torch.float32)
    own = seeded_noise([5, 9], SHAPE, "cpu", torch.float32)
    assert all(torch.equal(a, b) for a, b in zip(draws(carried, times), draws(own, times)))


def test_a_coarse_steps_noise_is_the_normalised_sum_of_the_fine_steps_increments(exact_model):
    # the fine walk steps 19 -> 18 -> ... -> 0; the coarse one two levels at a time: its step t -> t-2
    # draws sqrt(w1) z1 + sqrt(w2) z2 over sqrt(w1 + w2), z the fine walk's draws and w the SNR gained
    fine, coarse = plain(20), plain(20, stride=2)
    schedule = exact_model.schedule(20)
    fine_draws = dict(zip(walk_draws(fine), draws(seeded_noise([3], SHAPE, "cpu", torch.float64), fine)))
    carried = dict(zip(walk_draws(coarse), draws(carried_noise([3], SHAPE, coarse, schedule, fine, schedule, "cpu",
                                                                torch.float64), coarse)))
    snr = [a / (1 - a) for a in schedule.alphas_cumprod]
    for i, (t, s) in enumerate(zip(coarse[:-1], coarse[1:])):
        if s < 0:
            continue  # the last step lands on the clean image: its noise is never used
        w_top, w_low = snr[t - 1] - snr[t], snr[s] - snr[t - 1]
        fine_top, fine_low = fine.index(t), fine.index(t - 1)
        expected = (math.sqrt(w_top) * fine_draws[("down", fine_top)] + math.sqrt(w_low) * fine_draws[("down", fine_low)]) \
            / math.sqrt(w_top + w_low)
        assert torch.allclose(carried[("down", i)], expected, atol=1e-12)
        assert torch.equal(carried[("known", i)], fine_draws[("known", fine_top)])  # the known image's noise at level t
    assert torch.equal(carried[("start", -1)], fine_draws[("start", -1)])


def test_the_last_crossings_of_a_level_take_the_references_last_crossings(exact_model):
    # same levels, fewer repeats: counted from the end, each crossing of the shorter walk uses the noise
    # of the longer walk's crossing with as many crossings after it
    long, short = repaint(20, 3, 5, stop_resampling_at=0), repaint(20, 3, 2, stop_resampling_at=0)
    schedule = exact_model.schedule(20)
    ref = dict(zip(walk_draws(long), draws(seeded_noise([1], SHAPE, "cpu", torch.float32), long)))
    got = draws(carried_noise([1], SHAPE, short, schedule, long, schedule, "cpu", torch.float32), short)
    tail = len(short) - short.index(2, short.index(2) + 1)  # from the last descent's arrival at level 2 to the end
    for back in range(1, tail):
        i_short, i_long = len(short) - 1 - back, len(long) - 1 - back
        assert (short[i_short], short[i_short + 1]) == (long[i_long], long[i_long + 1])
        role = "down" if short[i_short + 1] < short[i_short] else "up"
        assert torch.equal(dict(zip(walk_draws(short), got))[(role, i_short)], ref[(role, i_long)])


def distance(a, b, keep):
    return float(((a - b) * (1 - keep)).pow(2).sum().div((1 - keep).sum() * 3).sqrt())


def test_a_short_run_carrying_a_long_runs_noise_predicts_its_picture(exact_model):
    # a draft on its own draws is as far from Paint's picture as another seed's picture is;
    # carrying Paint's noise, it lands close to Paint's picture of the same seed
    long = ScheduleConfig(t_T=50, jump_length=3, jump_n_sample=5, stop_resampling_at=0, start_resampling_at=22)
    short = ScheduleConfig.for_t_T(20, like=long)
    keep = centre_hole_keep(16, 8)
    image = PICTURES.sample(1, 16, torch.Generator().manual_seed(4))[0]
    carried, own, other = [], [], []
    for seed in range(4):
        pictures = ip.paint(exact_model, image, keep, times=long, num_samples=2, seed=seed, progress=False).samples
        draft = ip.paint(exact_model, image, keep, times=short, seed=seed, noise_like=long, progress=False).samples[0]
        alone = ip.paint(exact_model, image, keep, times=short, seed=seed, progress=False).samples[0]
        carried.append(distance(draft, pictures[0], keep))
        own.append(distance(alone, pictures[0], keep))
        other.append(distance(pictures[1], pictures[0], keep))
    assert all(c < o for c, o in zip(carried, other))
    assert sum(carried) < 0.5 * sum(other) < 0.5 * 1.5 * sum(own)


def test_noise_like_its_own_schedule_paints_the_same_pictures_and_a_bad_one_is_refused(exact_model):
    keep = centre_hole_keep(16, 6)
    image = torch.zeros(3, 16, 16)
    times = repaint(20, 2, 3, stop_resampling_at=0)
    alone = ip.paint(exact_model, image, keep, times=times, num_samples=2, seed=8, progress=False).samples
    like = ip.paint(exact_model, image, keep, times=times, num_samples=2, seed=8, noise_like=times, progress=False)
    assert torch.equal(alone, like.samples)
    assert derive_seed(8, 1) != 8  # picture 1 carries its own seed's noise, as Paint's picture 1 draws it
    with pytest.raises(UserInputError, match="noise_like is not a schedule"):
        ip.paint(exact_model, image, keep, times=times, noise_like=[3, 5, -1], progress=False)
