"""The UNet is weight-compatible with guided-diffusion's and computes the same function."""

import json

import pytest
import torch

from ipainter_nb.core.unet import UNetConfig, build_unet
from ipainter_nb.errors import UserInputError


def manifest(reference_dir, name):
    return json.loads((reference_dir / f"{name}_manifest.json").read_text())


@pytest.mark.parametrize("name", ["places256_unconditional", "imagenet256_conditional"])
def test_state_dict_names_and_shapes_equal_the_published_checkpoints(reference_dir, name):
    ref = manifest(reference_dir, name)
    model = build_unet(ref["config"], device="meta")  # no memory spent on 553M parameters
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(ours) == list(ref["state_dict"])
    assert ours == ref["state_dict"]


def test_reproduces_guided_diffusion_output_on_the_tiny_fixture(reference_dir):
    ref = torch.load(reference_dir / "tiny_unet_learned_sigma.pt", weights_only=True)
    model = build_unet(ref["config"]).eval()
    model.load_state_dict(ref["state_dict"], strict=True)
    with torch.no_grad():
        out = model(ref["x"], ref["t"])
    assert out.shape == ref["out"].shape == (2, 6, 32, 32)
    assert (out - ref["out"]).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    "change",
    [
        {"use_scale_shift_norm": False},
        {"resblock_updown": False},
        {"num_head_channels": -1, "num_heads": 2},
        {"use_new_attention_order": True},
        {"learn_sigma": False},
        {"class_cond": True},
    ],
)
def test_other_configurations_build_and_run(change):
    config = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2],
                  attention_resolutions=[16], num_heads=4, num_head_channels=16)
    config.update(change)
    model = build_unet(config).eval()
    x = torch.randn(2, 3, 32, 32)
    y = torch.tensor([3, 7]) if change.get("class_cond") else None
    with torch.no_grad():
        out = model(x, torch.tensor([10, 500]), y)
    assert out.shape == (2, 3 if change.get("learn_sigma") is False else 6, 32, 32)
    assert torch.isfinite(out).all()


def test_einsum_and_sdpa_attention_agree(reference_dir):
    ref = torch.load(reference_dir / "tiny_unet_learned_sigma.pt", weights_only=True)
    slow = build_unet({**ref["config"], "attention_impl": "einsum"}).eval()
    slow.load_state_dict(ref["state_dict"])
    with torch.no_grad():
        assert (slow(ref["x"], ref["t"]) - ref["out"]).abs().max().item() <= 1e-5


def test_new_attention_order_permutes_qkv_channels():
    """Same weights, permuted qkv rows: the legacy and new orders compute the same thing."""
    config = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=[1],
                  attention_resolutions=[16], num_heads=2, num_head_channels=-1, learn_sigma=False)
    legacy = build_unet(config).eval()
    new = build_unet({**config, "use_new_attention_order": True}).eval()
    sd = legacy.state_dict()
    heads, ch = 2, 16
    for key in [k for k in sd if k.endswith("qkv.weight") or k.endswith("qkv.bias")]:
        w = sd[key]
        # legacy rows are [head][q,k,v][c]; the new order wants [q,k,v][head][c]
        sd[key] = w.reshape(heads, 3, ch, *w.shape[1:]).transpose(0, 1).reshape(w.shape)
    new.load_state_dict(sd)
    x, t = torch.randn(1, 3, 16, 16), torch.tensor([100])
    with torch.no_grad():
        assert torch.allclose(legacy(x, t), new(x, t), atol=1e-5)


@pytest.mark.parametrize("key, value, said", [
    ("num_channels", 10**6, "num_channels must be in 32..4096, got 1000000"),  # allocated until memory ran out
    ("num_res_blocks", 10**5, "num_res_blocks must be in 1..64, got 100000"),  # built for hours
    ("num_channels", 2.5, "num_channels must be an integer, got 2.5"),  # a ValueError about GroupNorm
    ("channel_mult", [], "channel_mult and attention_resolutions must hold positive numbers"),  # an IndexError
    ("num_head_channels", 7, "num_head_channels=7 does not divide the 64 channels"),  # a plain ValueError
    ("dropout", float("nan"), "dropout must be a number in \\[0, 1\\), got nan"),  # taken
])
def test_build_unet_refuses_a_config_value_with_one_user_input_error(key, value, said):
    """build_unet takes the checks a checkpoint's config gets (``config_problem``), with a top to each size."""
    config = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[16],
                  num_heads=1, num_head_channels=32)
    with pytest.raises(UserInputError, match=said):
        build_unet({**config, key: value}, device="meta")


def test_bad_config_names_the_key():
    with pytest.raises(ValueError, match="unknown UNet config key.*'num_chanels'"):
        UNetConfig.from_dict({"num_chanels": 64})
    with pytest.raises(ValueError, match="class-conditional"):
        build_unet(dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=[1],
                        attention_resolutions=[], num_head_channels=32, class_cond=True))(torch.randn(1, 3, 16, 16), torch.tensor([1]))
