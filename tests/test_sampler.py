"""paint(): known pixels kept, reproducible by seed, batched, cancellable, loud on NaN and bad input."""

import numpy as np
import pytest
import torch

import ipainter_nb as ip
from ipainter_nb.core.sampler import (
    CancelToken,
    NonFiniteOutputError,
    auto_batch_size,
    derive_seed,
    paint_steps,
    seeded_noise,
)
from ipainter_nb.errors import IPainterError, UserInputError

SHORT = ip.schedules.repaint(t_T=12, jump_length=3, jump_n_sample=2, stop_resampling_at=6)


def composed(size=32):
    image = torch.linspace(-1, 1, size).expand(3, size, size).clone()
    keep = torch.zeros(1, size, size)
    keep[:, 8:20, 4:16] = 1  # a landmark to paint around
    return image, keep



def test_derive_seed_takes_the_seeds_paint_takes_and_says_which_argument_is_wrong():
    assert derive_seed(np.int64(7), 0) == 7 and derive_seed(np.int64(7), 2) == derive_seed(7, 2)
    for seed, k in ((-1, 1), (2**63, 1), (float("nan"), 0), (True, 1), (1, -1), (1, 1.5)):
        with pytest.raises(UserInputError, match="seed|k"):
            derive_seed(seed, k)

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
    assert result.frames[-1].index == len(SHORT) - 2
    assert result.frames[-1].x_t.dtype == torch.uint8


def test_callback_returning_false_stops_cleanly(tiny_model):
    image, keep = composed()
    result = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, progress=False,
                      callback=lambda step: step.index < 4)
    assert result.stopped and result.steps_done == 5
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
    assert result.stopped and result.nfe == 3


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
    assert len(result.frames) <= 6


def test_paint_is_the_collector_of_the_paint_steps_generator(tiny_model):
    image, keep = composed()
    noise = seeded_noise([derive_seed(3, k) for k in range(2)], (3, 32, 32), "cpu", torch.float32)
    steps = list(paint_steps(tiny_model, image.expand(2, -1, -1, -1), keep[None], SHORT, noise=noise))
    assert [s.t for s in steps] == SHORT[:-1] and steps[-1].nfe_so_far == ip.schedules.count_nfe(SHORT)
    result = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=2, seed=3, progress=False)
    assert torch.equal(result.samples, steps[-1].x_t.clamp(-1, 1))
    # with any other noise source: the same algorithm, other pictures
    gen = torch.Generator().manual_seed(0)
    other = list(paint_steps(tiny_model, image[None], keep[None], SHORT, generator=gen))[-1].x_t
    assert not torch.allclose(other, result.samples[:1])


def test_micro_batches_paint_the_same_pictures_and_hand_each_batch_over(tiny_model):
    image, keep = composed()
    whole = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=5, seed=2, progress=False)
    handed = []
    batched = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=5, seed=2, progress=False, batch_size=2,
                       on_samples=lambda k, pictures: handed.append((k, pictures.shape[0])))
    assert handed == [(0, 2), (2, 2), (4, 1)]
    assert batched.num_finished == 5 and not batched.stopped and batched.batch_size == 2
    assert torch.allclose(batched.samples, whole.samples, atol=1e-4)
    assert batched.nfe == 3 * ip.schedules.count_nfe(SHORT)  # every model call of every micro-batch
    # handed over and not kept: memory stays bounded however many are asked for
    lean = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=5, seed=2, progress=False, batch_size=2,
                    keep_samples=False, on_samples=lambda k, pictures: handed.append((k, pictures.shape[0])))
    assert lean.samples.shape[0] == 0 and lean.num_finished == 5 and len(handed) == 6
    # pictures 3..4 of the same run, painted on their own
    tail = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=2, seed=2, first_sample=3, progress=False)
    assert torch.allclose(tail.samples, whole.samples[3:], atol=1e-4)


def test_a_stopped_run_keeps_the_finished_micro_batches(tiny_model):
    image, keep = composed()
    whole = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=3, seed=4, progress=False, batch_size=1)
    token = CancelToken()

    def stop_in_the_second_batch(step):
        if step.first_sample == 1 and step.index == 6:
            token.set()

    result = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=3, seed=4, progress=False, batch_size=1,
                      cancel=token, callback=stop_in_the_second_batch)
    assert result.stopped and result.num_finished == 1 and result.steps_done == 7
    assert torch.equal(result.samples[0], whole.samples[0])
    assert result.samples.shape[0] == 2  # the finished picture, then the stopped one's best prediction
    kept = keep.bool().expand(3, -1, -1)
    assert torch.equal(result.samples[1][kept], image[kept])


def test_a_callback_returning_false_and_the_cancel_token_end_a_run_the_same_way(tiny_model):
    image, keep = composed()
    by_callback = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, progress=False,
                           callback=lambda step: step.index != 5)
    token = CancelToken()
    by_token = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, progress=False, cancel=token,
                        callback=lambda step: token.set() if step.index == 5 else None)
    assert by_callback.stopped and by_token.stopped
    assert (by_callback.steps_done, by_callback.nfe) == (by_token.steps_done, by_token.nfe) == (6, by_token.nfe)
    assert torch.equal(by_callback.samples, by_token.samples)
    # stopped on the last step: nothing was lost, so the run is not "stopped"
    last = ip.paint(tiny_model, image, keep, times=SHORT, seed=0, progress=False,
                    callback=lambda step: step.index != len(SHORT) - 2)
    assert not last.stopped and last.num_finished == 1


def test_a_one_step_schedule_paints(tiny_model):
    image, keep = composed()
    for times in ([0, -1], ip.schedules.plain(1)):
        result = ip.paint(tiny_model, image, keep, times=times, seed=0, progress=False)
        assert result.nfe == 1 and not result.stopped and torch.isfinite(result.samples).all()


def test_numpy_inputs_paint_like_tensors(tiny_model):
    image, keep = composed()
    from_tensors = ip.paint(tiny_model, image, keep, times=SHORT, seed=1, progress=False).samples
    from_arrays = ip.paint(tiny_model, image.numpy(), keep.numpy().astype(bool), times=SHORT, seed=1,
                           progress=False).samples
    assert torch.equal(from_tensors, from_arrays)


def test_a_soft_or_out_of_range_mask_is_refused_naming_the_values(tiny_model):
    image, keep = composed()
    soft = keep.clone()
    soft[:, :2, :] = 0.5
    soft[:, 30:, :3] = 2
    with pytest.raises(UserInputError, match=r"only 0 .*and 1 .*found 70 pixels.*0\.5 \(64 pixels\), 2 \(6 pixels\).*keep > 0\.5"):
        ip.paint(tiny_model, image, soft, times=SHORT, progress=False)


@pytest.mark.parametrize("which", ["image", "keep"])
def test_nan_or_inf_in_an_input_is_named_before_painting(tiny_model, which):
    image, keep = composed()
    bad = (image if which == "image" else keep).clone()
    bad.view(-1)[:3] = float("nan")
    bad.view(-1)[3] = float("inf")
    args = (bad, keep) if which == "image" else (image, bad)
    with pytest.raises(UserInputError, match=rf"^{which} holds 4 non-finite values \(3 NaN, 1 inf\)"):
        ip.paint(tiny_model, *args, times=SHORT, progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_samples=2.5), "num_samples must be a whole number, got float 2.5"),
    (dict(num_samples=True), "num_samples must be a whole number"),
    (dict(seed=2**70), r"seed=1180591620717411303424 is out of range: it must be in 0\.\.9223372036854775807"),
    (dict(seed=-1), "seed=-1 is out of range"),
    (dict(batch_size=0), "batch_size=0 is out of range"),
    (dict(first_sample=-2), "first_sample=-2 is out of range"),
    (dict(times=[3, 3, -1]), r"times\[1\]"),
])
def test_bad_arguments_are_refused_naming_the_argument(tiny_model, kwargs, message):
    image, keep = composed()
    with pytest.raises(UserInputError, match=message):
        ip.paint(tiny_model, image, keep, **{"times": SHORT, "progress": False, **kwargs})


def test_a_picture_or_mask_of_the_wrong_shape_is_named_with_the_shape_given():
    model = ip.load_model("demo")
    image, keep = torch.zeros(3, 64, 64), torch.ones(1, 64, 64)
    with pytest.raises(UserInputError, match=r"keep mask must be \(1, 64, 64\) or \(64, 64\).*got shape \(3, 64, 64\)$"):
        ip.paint(model, image, torch.ones(3, 64, 64), times=SHORT, progress=False)
    with pytest.raises(UserInputError, match=r"image must be \(3, 64, 64\) in \[-1, 1\], got shape \(64, 64, 3\) "):
        ip.paint(model, torch.zeros(64, 64, 3), keep, times=SHORT, progress=False)


def test_t_T_beyond_the_model_is_refused_by_the_models_rule(tiny_model):
    image, keep = composed()
    with pytest.raises(UserInputError, match="trained with 1000"):
        ip.paint(tiny_model, image, keep, times=ip.schedules.plain(1001), progress=False)
    assert issubclass(NonFiniteOutputError, IPainterError)


def test_auto_batch_size_is_bounded_by_model_size_and_device(tiny_model):
    small = auto_batch_size(tiny_model, "cpu")
    assert 1 <= small <= 8
    assert auto_batch_size(tiny_model, "cpu", torch.float16) >= small

    class Huge:  # a 1024² network with 512 channels: one picture per call
        image_size, config, device = 1024, {"num_channels": 512}, torch.device("cpu")

    assert auto_batch_size(Huge()) == 1
    image, keep = composed()
    result = ip.paint(tiny_model, image, keep, times=SHORT, num_samples=small + 1, progress=False)
    assert result.batch_size == small and result.num_finished == small + 1


def test_progress_in_a_log_is_a_few_summary_lines(tiny_model, capsys):
    image, keep = composed()
    ip.paint(tiny_model, image, keep, times=SHORT, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("painting (") and "100%" in lines[-1]
    ip.paint(tiny_model, image, keep, times=SHORT)  # progress=None: nobody watches a captured stream
    assert capsys.readouterr().err == ""


def test_eta_1_paints_todays_ddpm_pictures_and_a_config_carries_its_eta(tiny_model):
    image, keep = composed()
    today = ip.paint(tiny_model, image, keep, times=SHORT, seed=3, progress=False).samples
    assert torch.equal(ip.paint(tiny_model, image, keep, times=SHORT, seed=3, progress=False, eta=1.0).samples, today)
    config = ip.ScheduleConfig(12, jump_length=3, jump_n_sample=2, stop_resampling_at=6, eta=0.0)
    assert config.times() == SHORT
    ddim = ip.paint(tiny_model, image, keep, times=config, seed=3, progress=False)
    assert ddim.nfe == ip.paint(tiny_model, image, keep, times=SHORT, seed=3, progress=False).nfe
    assert not torch.allclose(ddim.samples, today)
    assert torch.equal(ip.paint(tiny_model, image, keep, times=SHORT, seed=3, progress=False, eta=0.0).samples, ddim.samples)
    assert torch.equal(ddim.samples * (keep > 0), image[None] * (keep > 0))  # known pixels kept


@pytest.mark.parametrize("eta", [-0.1, 1.5, float("nan"), "half"])
def test_eta_outside_0_to_1_is_refused_naming_the_range(tiny_model, eta):
    image, keep = composed()
    with pytest.raises(UserInputError, match=r"eta.*0\.\.1"):
        ip.paint(tiny_model, image, keep, times=SHORT, progress=False, eta=eta)


def test_the_noise_and_memory_helpers_name_a_wrong_argument():
    from ipainter_nb.core.sampler import check_batch_memory

    model = ip.load_model("demo")
    for call, message in ((lambda: seeded_noise([1], (3, 4, 4), "x", torch.float32), "device='x' is not a device"),
                          (lambda: seeded_noise("ab", (3, 4, 4), "cpu", torch.float32), "seeds must be a non-empty list"),
                          (lambda: seeded_noise([-1], (3, 4, 4), "cpu", torch.float32), r"seeds\[0\]=-1 is out of range"),
                          (lambda: check_batch_memory(model, 2, dtype=True), "dtype=True is not a floating-point torch dtype")):
        with pytest.raises(UserInputError, match=message):
            call()
