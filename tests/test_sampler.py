"""paint(): known pixels kept, reproducible by seed, batched, cancellable, loud on NaN."""

import pytest
import torch

import ipainter_nb as ip
from ipainter_nb.core.sampler import CancelToken, NonFiniteOutputError, derive_seed

SHORT = ip.schedules.repaint(t_T=12, jump_length=3, jump_n_sample=2, stop_resampling_at=6)


def composed(size=32):
    image = torch.linspace(-1, 1, size).expand(3, size, size).clone()
    keep = torch.zeros(1, size, size)
    keep[:, 8:20, 4:16] = 1  # a landmark to paint around
    return image, keep


def test_known_region_is_preserved_exactly_and_the_rest_is_generated(tiny_model):
    image, keep = composed()
    result = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=2, seed=0, progress=False)
    assert result.samples.shape == (2, 3, 32, 32)
    kept = keep.bool().expand(2, 3, -1, -1)
    assert torch.equal(result.samples[kept], image.expand(2, -1, -1, -1)[kept])
    assert not torch.allclose(result.samples[~kept], image.expand(2, -1, -1, -1)[~kept])
    assert result.samples.abs().max() <= 1


def test_same_seed_same_pictures_other_seed_other_pictures(tiny_model):
    image, keep = composed()
    a = ip.paint(tiny_model, image, keep, times=SHORT, seed=7, progress=False).samples
    b = ip.paint(tiny_model, image, keep, times=SHORT, seed=7, progress=False).samples
    c = ip.paint(tiny_model, image, keep, times=SHORT, seed=8, progress=False).samples
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_a_batch_of_three_equals_three_runs_with_the_derived_seeds(tiny_model):
    image, keep = composed()
    batch = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=3, seed=5, progress=False).samples
    for k in range(3):
        single = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=1, seed=derive_seed(5, k),
                          progress=False).samples
        assert torch.allclose(batch[k], single[0], atol=1e-4)


def test_callback_sees_every_step_and_nfe_equals_count_nfe(tiny_model):
    image, keep = composed()
    steps = []
    result = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, callback=steps.append, progress=False)
    assert len(steps) == len(SHORT) - 1
    assert result.nfe == steps[-1].nfe_so_far == ip.schedules.count_nfe(SHORT)
    assert [s.direction for s in steps].count("up") == ip.schedules.count_steps(SHORT, "up")
    assert all(s.x0_pred is None for s in steps if s.direction == "up")
    assert all(s.x0_pred is not None for s in steps if s.direction == "down")
    assert [s.t for s in steps] == SHORT[:-1]
    # frames kept for replay end with the final picture
    assert result.steps[-1].index == len(SHORT) - 2
    assert result.steps[-1].x_t.dtype == torch.uint8


def test_callback_returning_false_stops_cleanly(tiny_model):
    image, keep = composed()
    result = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, progress=False,
                      callback=lambda step: step.index < 4)
    assert result.cancelled and result.steps_done == 5
    assert result.nfe < ip.schedules.count_nfe(SHORT)
    kept = keep.bool().expand(1, 3, -1, -1)
    assert torch.equal(result.samples[kept], image[None].expand(1, -1, -1, -1)[kept])


def test_cancel_token_set_from_elsewhere_stops_within_one_step(tiny_model):
    image, keep = composed()
    token = CancelToken()

    def on_step(step):
        if step.nfe_so_far == 3:
            token.set()

    result = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, cancel=token, callback=on_step, progress=False)
    assert result.cancelled and result.nfe == 3


def test_non_finite_model_output_raises_instead_of_black_pictures(tiny_model):
    image, keep = composed()
    with torch.no_grad():
        tiny_model.unet.out[2].bias.fill_(float("nan"))
    with pytest.raises(NonFiniteOutputError, match="NaN or inf"):
        ip.paint(tiny_model, image, keep, times=SHORT, progress=False)


def test_bad_inputs_name_the_problem(tiny_model):
    image, keep = composed()
    with pytest.raises(ValueError, match="paints 32x32"):
        ip.paint(tiny_model, torch.zeros(3, 64, 64), torch.zeros(1, 64, 64), times=SHORT, progress=False)
    with pytest.raises(ValueError, match="keep mask must be"):
        ip.paint(tiny_model, image, torch.zeros(3, 32, 32), times=SHORT, progress=False)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ip.paint(tiny_model, image * 255, keep, times=SHORT, progress=False)
    with pytest.raises(ValueError, match="num_samples"):
        ip.paint(tiny_model, image, keep, times=SHORT, num_samples=0, progress=False)


def test_default_schedule_is_the_models_truncated_one(tiny_model):
    image, keep = composed()
    result = ip.paint(tiny_model, image, keep, progress=False, max_frames=5)
    assert result.times == tiny_model.default_schedule.times()
    assert len(result.steps) <= 6
