"""Loading models: presets, discovery, which network a file holds, the model's own rules."""

import json
import os

import numpy as np
import pytest
import torch
from conftest import TINY_UNET

from ipainter_nb.core.checkpoints import CheckpointError, WeightsMismatchError
from ipainter_nb.core.models import load_model
from ipainter_nb.core.presets import PRESETS, WeightsNotFoundError, find_weights
from ipainter_nb.core.unet import build_unet
from ipainter_nb.errors import IPainterError, UserInputError


def test_presets_point_to_the_published_checkpoints():
    assert PRESETS["places256"].filename == "places256_300000.pt"
    assert PRESETS["places256"].gdrive_id == "1QEl-btGbzQz6IwkXiFGd49uQNTUtTHsk"
    assert PRESETS["celeba256"].filename == "celeba256_250000.pt"
    assert PRESETS["imagenet256_uncond"].url.endswith("256x256_diffusion_uncond.pt")
    schedule = PRESETS["places256"].default_schedule
    assert (schedule.t_T, schedule.jump_length, schedule.jump_n_sample, schedule.stop_resampling_at) == (250, 10, 10, 100)
    assert schedule.nfe == 1510


def test_places256_preset_builds_the_manifest_network(reference_dir):
    import json

    manifest = json.loads((reference_dir / "places256_unconditional_manifest.json").read_text())
    model = build_unet(dict(PRESETS["places256"].unet_config), device="meta")
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == manifest["state_dict"]


def test_missing_weights_name_every_place_searched_and_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("IPAINTER_WEIGHTS", str(tmp_path / "mine"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError) as err:
        load_model("places256")
    message = str(err.value)
    assert str(tmp_path / "mine" / "places256_300000.pt") in message
    assert ".cache/ipainter_nb/places256_300000.pt" in message
    assert str(tmp_path / "weights" / "places256_300000.pt") in message
    assert "gdown https://drive.google.com/uc?id=1QEl-btGbzQz6IwkXiFGd49uQNTUtTHsk" in message


def test_a_link_loop_a_folder_or_a_name_too_long_on_the_search_path_is_a_place_looked_in(tmp_path, monkeypatch):
    (tmp_path / "weights").symlink_to("weights")  # ./weights pointing at itself: resolve() raised a RuntimeError
    (tmp_path / "env" / "places256_300000.pt").mkdir(parents=True)
    monkeypatch.setenv("IPAINTER_WEIGHTS", os.pathsep.join([str(tmp_path / "env"), "w" * 300]))  # is_file() raised
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError) as err:
        find_weights("places256")
    message = str(err.value)
    assert f"{tmp_path / 'env' / 'places256_300000.pt'} (a folder, not the weights file)" in message
    assert f"{tmp_path / 'weights' / 'places256_300000.pt'} (too many levels of symbolic links)" in message
    assert "file name too long" in message


def test_weights_are_found_in_the_env_folder_first(tmp_path, monkeypatch):
    for folder in ("env", "weights"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "celeba256_250000.pt").write_bytes(b"x")
    monkeypatch.setenv("IPAINTER_WEIGHTS", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    assert find_weights("celeba256") == tmp_path / "env" / "celeba256_250000.pt"


def _tiny_state_dict():
    torch.manual_seed(1)
    return build_unet(TINY_UNET).state_dict()


def test_a_wrapped_ema_checkpoint_with_module_prefix_loads(tmp_path):
    sd = _tiny_state_dict()
    path = tmp_path / "wrapped.pt"
    torch.save({"step": 3, "ema": {f"module.{k}": v for k, v in sd.items()}, "opt": {}}, path)
    model = load_model(path, device="cpu", config=TINY_UNET)
    assert torch.equal(model.unet.state_dict()["out.2.weight"], sd["out.2.weight"])
    assert model.variance_type == "learned_range" and model.image_size == 32


def test_a_checkpoint_of_another_network_gives_a_short_readable_error(tmp_path):
    path = tmp_path / "other.pt"
    sd = _tiny_state_dict()
    sd["out.2.weight"] = torch.zeros(3, 32, 3, 3)
    del sd["time_embed.0.weight"]
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, path)
    with pytest.raises(WeightsMismatchError) as err:
        load_model(path, config=TINY_UNET)
    message = str(err.value)
    assert "missing 1 key(s): time_embed.0.weight" in message
    assert "unexpected 1 key(s): extra.weight" in message
    assert "out.2.weight (3, 32, 3, 3) (expected (6, 32, 3, 3))" in message
    assert len(message.splitlines()) <= 6


def test_a_checkpoint_without_known_config_asks_for_one(tmp_path):
    path = tmp_path / "anon.pt"
    torch.save(_tiny_state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and "pass preset=" in message and "config=" in message
    assert "--preset NAME" in message and "--config FILE.json" in message
    assert len(message.splitlines()) == 1


def test_a_state_dict_under_any_name_loads_with_a_config_file(tmp_path):
    path = tmp_path / "downloaded (1).bin"
    torch.save(_tiny_state_dict(), path)
    config = tmp_path / "net.json"
    config.write_text(json.dumps(TINY_UNET))
    model = load_model(path, device="cpu", config=config)
    assert model.image_size == 32 and model.name == "downloaded (1)"
    assert model.variance_type == "learned_range"  # from learn_sigma: nothing else says it
    assert torch.equal(model.unet.state_dict()["out.2.weight"], _tiny_state_dict()["out.2.weight"])


def test_a_state_dict_under_any_name_loads_with_a_preset(tmp_path):
    torch.manual_seed(2)
    weights = build_unet(PRESETS["demo"].unet_config).state_dict()
    path = tmp_path / "my_copy.pt"
    torch.save(weights, path)
    model = load_model(path, device="cpu", preset="demo", prepack=False)
    assert model.name == "demo" and model.default_schedule == PRESETS["demo"].default_schedule
    assert model.variance_type == "fixed_small"
    assert torch.equal(model.unet.state_dict()["out.2.weight"], weights["out.2.weight"])
    with pytest.raises(UserInputError, match="unknown preset 'plces256'.*--preset NAME"):
        load_model(path, preset="plces256")


@pytest.mark.parametrize("content, problem", [
    (None, "does not exist"),
    ("{not json", "not readable JSON"),
    ('{"image_size": 32, "num_chanels": 32}', "unknown UNet config key"),
    ("[1, 2]", "must be a JSON object"),
])
def test_a_bad_config_file_is_named_with_its_problem(tmp_path, content, problem):
    path = tmp_path / "anon.pt"
    torch.save(_tiny_state_dict(), path)
    config = tmp_path / "net.json"
    if content is not None:
        config.write_text(content)
    with pytest.raises(UserInputError, match=problem) as err:
        load_model(path, config=config)
    assert str(config) in str(err.value)


def test_a_failed_load_leaves_the_callers_model_working(tiny_model, tmp_path):
    before = tiny_model.unet.state_dict()["out.2.weight"].clone()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError):
        tiny_model = load_model(broken, config=TINY_UNET)
    assert torch.equal(tiny_model.unet.state_dict()["out.2.weight"], before)
    out = tiny_model(torch.zeros(1, 3, 32, 32), torch.tensor([3]), tiny_model.schedule(20))
    assert out.shape == (1, 6, 32, 32) and torch.isfinite(out).all()


def test_t_T_is_checked_against_the_training_steps_in_one_place(tiny_model):
    assert tiny_model.num_train_steps == 1000
    assert tiny_model.check_t_T(np.int64(250)) == 250 and tiny_model.check_t_T(1000) == 1000
    for bad in (0, 1001, 2.5, True, "250"):
        with pytest.raises(UserInputError) as err:
            tiny_model.check_t_T(bad)
        assert "1..1000" in str(err.value) and "--t-T" in str(err.value)
    with pytest.raises(UserInputError, match="1..1000"):
        tiny_model.schedule(1001)  # the schedule asks the same rule


def test_alphas_cumprod_is_public_and_a_copy(tiny_model):
    abar = tiny_model.alphas_cumprod(50)
    assert abar.shape == (50,) and abar.dtype == np.float64
    assert np.all(np.diff(abar) < 0) and 0 < abar[-1] < abar[0] < 1
    np.testing.assert_array_equal(abar, tiny_model.schedule(50).alphas_cumprod)
    abar[:] = 0  # callers may scribble on it; the model's schedule is unchanged
    assert tiny_model.alphas_cumprod(50)[0] > 0


def test_loading_errors_are_the_projects_errors():
    for error in (CheckpointError, WeightsMismatchError, WeightsNotFoundError):
        assert issubclass(error, IPainterError)
    assert issubclass(WeightsNotFoundError, FileNotFoundError) and issubclass(CheckpointError, ValueError)


def test_dtype_and_device_are_parameters(tiny_model_path):
    model = load_model(tiny_model_path, device="cpu", dtype="bfloat16")
    assert model.dtype == torch.bfloat16 and model.device.type == "cpu"
    schedule = model.schedule(20)
    x = torch.randn(1, 3, 32, 32)
    out = model(x, torch.tensor([5]), schedule)
    assert out.dtype == torch.float32 and out.shape == (1, 6, 32, 32)


def test_unknown_name_lists_the_presets():
    with pytest.raises(WeightsNotFoundError, match="neither a preset .*places256"):
        load_model("plaecs256")




@pytest.mark.parametrize("flag", ["compile", "prepack", "channels_last"])
def test_a_switch_that_is_not_true_or_false_is_refused_before_loading(tiny_model_path, flag):
    with pytest.raises(UserInputError, match=f"{flag} must be True or False, got str 'yes'"):
        load_model(tiny_model_path, device="cpu", **{flag: "yes"})
