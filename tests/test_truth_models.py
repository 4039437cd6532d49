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
from ipainter_nb.core.schedules.plan import surrogate_of
from ipainter_nb.errors import UserInputError
from ipainter_nb.train import TrainConfig, export, train
from ipainter_nb.train_fields import GaussianFields, denoiser_excess, field_model, recorded_field

TRUTH = Path(__file__).parent / "fixtures" / "truth"
LEVELS = (10, 50, 200)  # above t = 400 the x0 error of any noise predictor blows up by 1/ᾱ


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
    assert all(-0.05 < e < 0.6 for e in excess), excess  # within 60% of the Bayes error (an untrained net: ≫ 1)
    edge = torch.zeros(16, 16, dtype=torch.bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True  # the outermost ring, whose exact denoiser sees across the edge
    at_edge, inside = (denoiser_excess(net, exact, LEVELS[:1], n=32, seed=1, pixels=p)[0] for p in (edge, ~edge))
    assert at_edge > inside  # the periodic truth: a zero-padded network errs most at the picture's edge


def test_each_truth_model_learned_its_own_field_not_the_other():
    models = {name: truth(name) for name in ("near", "far")}
    assert models["near"][1].image_model != models["far"][1].image_model
    for own, other in (("near", "far"), ("far", "near")):
        exact = models[own][1]  # judged on this field's draws, against its exact denoiser
        own_excess = sum(denoiser_excess(models[own][0], exact, LEVELS, n=32, seed=2))
        other_excess = sum(denoiser_excess(models[other][0], exact, LEVELS, n=32, seed=2))
        assert own_excess < 0.5 * other_excess, (own, own_excess, other_excess)


def test_training_on_a_gaussian_field_records_the_field_with_the_weights(tmp_path):
    spec = "beta=2.0,knee=0.06,std=0.15"
    unet = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
                num_heads=1, num_head_channels=32, learn_sigma=False)
    ckpt = train(TrainConfig(out=str(tmp_path / "run"), unet=unet, steps=1, batch_size=2, sample_every=0, threads=1,
                             device="cpu", gaussian_field=spec), progress=False)
    weights = export(ckpt, tmp_path / "field.safetensors", name="truth-test")
    assert recorded_field(weights) == field_model(spec)
    model = load_model(str(weights), device="cpu")
    assert model.name == "truth-test" and model.picture_model == field_model(spec)  # the field is its pictures' model


def test_the_shipped_truth_models_carry_their_field_so_plans_calibrate_to_it():
    for name in ("near", "far"):
        path = TRUTH / f"truth_{name}.safetensors"
        net = load_model(str(path), device="cpu")
        assert net.picture_model == recorded_field(path) and surrogate_of(net) == net.picture_model


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
