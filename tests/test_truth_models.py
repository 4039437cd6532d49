"""The neural truth models: networks trained on Gaussian fields, whose exact answers are known.

The shipped weights (tests/fixtures/truth/, rebuilt by ``make truth-models``) are what
``benchmarks/neural_truth.py`` judges schedules on; these tests fail if they stop being good
denoisers of their own field, or if ``ipainter train --gaussian-field`` stops recording it.
"""

from pathlib import Path

import pytest
import torch

from ipainter_nb.core.exact import ExactDiffusionModel
from ipainter_nb.core.models import load_model
from ipainter_nb.errors import UserInputError
from ipainter_nb.train import TrainConfig, export, train
from ipainter_nb.train_fields import GaussianFields, denoiser_excess, field_model, recorded_field

TRUTH = Path(__file__).parent / "fixtures" / "truth"
LEVELS = (50, 200, 600)


def truth(name):
    path = TRUTH / f"truth_{name}.safetensors"
    net = load_model(str(path), device="cpu", dtype=torch.float32, prepack=False)
    field = recorded_field(path)
    return net, ExactDiffusionModel.create(field, net.image_size, variance_type=net.variance_type)


@pytest.mark.parametrize("name", ["near", "far"])
def test_a_shipped_truth_model_denoises_its_field_nearly_as_well_as_the_exact_denoiser(name):
    net, exact = truth(name)
    assert net.image_size == 16 and exact.image_model.beta > 0
    excess = denoiser_excess(net, exact, LEVELS, n=32, seed=1)
    assert all(-0.05 < e < 0.5 for e in excess), excess  # within 50% of the Bayes error at every level


def test_each_truth_model_learned_its_own_field_not_the_other():
    near, near_exact = truth("near")
    far, far_exact = truth("far")
    # the near network judged against the far field's exact denoiser (on the far field's draws) is far worse
    own = denoiser_excess(far, far_exact, LEVELS, n=32, seed=2)
    other = denoiser_excess(near, far_exact, LEVELS, n=32, seed=2)
    assert max(own) < min(o for o, _ in zip(other, LEVELS)) or sum(own) < 0.25 * sum(other), (own, other)
    assert near_exact.image_model != far_exact.image_model


def test_training_on_a_gaussian_field_records_the_field_with_the_weights(tmp_path):
    spec = "beta=2.0,knee=0.06,std=0.15"
    unet = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
                num_heads=1, num_head_channels=32, learn_sigma=False)
    ckpt = train(TrainConfig(out=str(tmp_path / "run"), unet=unet, steps=1, batch_size=2, sample_every=0, threads=1,
                             device="cpu", gaussian_field=spec), progress=False)
    weights = export(ckpt, tmp_path / "field.safetensors", name="truth-test")
    assert recorded_field(weights) == field_model(spec)
    assert load_model(str(weights), device="cpu").name == "truth-test"


def test_field_draws_are_the_same_for_the_same_step_and_have_the_asked_contrast():
    data = GaussianFields("demo,std=0.25", seed=3, image_size=16)
    first = data.batch(5, 64)
    assert torch.equal(first, data.batch(5, 64)) and not torch.equal(first, data.batch(6, 64))
    assert abs(float(first.std(dim=(0, 2, 3)).pow(2).mean().sqrt()) - 0.25) < 0.05


@pytest.mark.parametrize("spec, says", [
    ("beta=2.0", "names no spectrum"),
    ("beta=2,knee=0.06,std=2", "std=2 is outside"),
    ("demo,gamma=1", "'gamma=1' is not one of"),
    ("beta=x,knee=0.1", "beta='x' is not a number"),
])
def test_a_bad_field_spec_is_one_clear_error(spec, says):
    with pytest.raises(UserInputError, match=says):
        field_model(spec)


def test_a_field_and_a_folder_of_pictures_are_refused_together(tmp_path):
    with pytest.raises(UserInputError, match="--data and --gaussian-field"):
        TrainConfig(out=str(tmp_path), data=str(tmp_path), gaussian_field="demo")
