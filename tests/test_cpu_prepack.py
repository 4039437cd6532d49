"""oneDNN-packed CPU convolutions: the same numbers as nn.Conv2d, the same state dict, opt-out."""

import copy

import pytest
import torch
from conftest import TINY_UNET
from torch import nn

from ipainter_nb.core.cpu_prepack import PackedConv2d, prepack_convolutions, prepack_supported, unpack_convolutions
from ipainter_nb.core.models import load_model
from ipainter_nb.core.unet import build_unet


def test_the_pinned_cpu_build_supports_packing():
    # the pinned torch has oneDNN; if an upgrade drops or renames the ops, load_model falls
    # back to plain convolutions, and this test says so instead of the speed quietly going
    assert prepack_supported(torch.float32)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, padding=1), dict(kernel_size=3, padding=1, stride=2),
                                dict(kernel_size=1), dict(kernel_size=3, padding=1, bias=False)])
def test_a_packed_convolution_computes_what_conv2d_computes(kw):
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 24, **kw).eval()
    x = torch.randn(2, 16, 12, 12)
    packed = PackedConv2d(conv)
    with torch.inference_mode():
        want = conv(x)
        for layout in (torch.contiguous_format, torch.channels_last):
            got = packed(x.contiguous(memory_format=layout))
            assert got.shape == want.shape
            assert ((got - want).abs().max() / want.abs().max()).item() <= 1e-5
    assert torch.equal(packed.weight, conv.weight.detach())  # reads back the plain OIHW weight


def test_reproduces_the_guided_diffusion_fixture_when_packed(reference_dir):
    ref = torch.load(reference_dir / "tiny_unet_learned_sigma.pt", weights_only=True)
    model = build_unet(ref["config"]).eval()
    model.load_state_dict(ref["state_dict"], strict=True)
    assert prepack_convolutions(model) == sum(1 for k in ref["state_dict"] if k.endswith("weight")
                                              and ref["state_dict"][k].dim() == 4)
    with torch.inference_mode():
        out = model(ref["x"].contiguous(memory_format=torch.channels_last), ref["t"])
    assert (out - ref["out"]).abs().max().item() <= 1e-5


def test_state_dict_save_load_and_unpack_round_trip():
    torch.manual_seed(0)
    plain = build_unet(TINY_UNET).eval()
    packed = build_unet(TINY_UNET).eval()
    packed.load_state_dict(plain.state_dict())
    prepack_convolutions(packed)
    sd_plain, sd_packed = plain.state_dict(), packed.state_dict()
    assert list(sd_packed) == list(sd_plain)  # same keys in the same order as nn.Conv2d's
    assert all(torch.equal(sd_packed[k], sd_plain[k]) for k in sd_plain)

    twin = copy.deepcopy(packed)  # a deep copy rebuilds the packed weights
    assert all(torch.equal(v, sd_plain[k]) for k, v in twin.state_dict().items())

    # loading new weights into the packed network repacks them
    other = build_unet(TINY_UNET).eval()
    packed.load_state_dict(other.state_dict(), strict=True)
    x, t = torch.randn(1, 3, 32, 32), torch.tensor([100])
    with torch.inference_mode():
        assert torch.allclose(packed(x, t), other(x, t), atol=1e-5)
        assert unpack_convolutions(packed) > 0
        assert not any(isinstance(m, PackedConv2d) for m in packed.modules())
        assert torch.allclose(packed(x, t), other(x, t), atol=1e-5)


def test_load_model_packs_by_default_where_packing_pays_and_agrees_with_plain(tiny_model_path, monkeypatch):
    from ipainter_nb.core import models

    monkeypatch.setattr(models, "packing_pays", lambda: True)  # an AVX-512 CPU
    packed = load_model(tiny_model_path, device="cpu")
    plain = load_model(tiny_model_path, device="cpu", prepack=False)
    assert packed.prepacked and not plain.prepacked
    assert any(isinstance(m, PackedConv2d) for m in packed.unet.modules())
    assert not any(isinstance(m, PackedConv2d) for m in plain.unet.modules())
    assert packed.num_parameters == plain.num_parameters
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3, 17])
    schedule = packed.schedule(20)
    a, b = packed(x, t, schedule), plain(x, t, schedule)
    assert ((a - b).abs().max() / b.abs().max()).item() <= 1e-4


def test_an_avx2_cpu_gets_plain_convolutions_unless_packing_is_asked_for(tiny_model_path, monkeypatch):
    from ipainter_nb.core import models

    monkeypatch.setattr(models, "packing_pays", lambda: False)  # packed convolutions were slower there
    assert not load_model(tiny_model_path, device="cpu").prepacked
    assert load_model(tiny_model_path, device="cpu", prepack=True).prepacked


def test_packing_pays_where_the_cpu_has_avx512(monkeypatch):
    from ipainter_nb.core import cpu_prepack

    for capability, pays in [("AVX512", True), ("AVX512_BF16", True), ("AVX2", False), ("DEFAULT", False)]:
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert cpu_prepack.packing_pays() is pays


def test_packing_is_left_off_where_it_does_not_apply(tiny_model_path):
    assert not load_model(tiny_model_path, device="cpu", autocast="bf16").prepacked
    assert not load_model(tiny_model_path, device="cpu", dtype="bf16").prepacked
    with pytest.raises(ValueError, match="autocast"):
        load_model(tiny_model_path, device="cpu", autocast="bf16", prepack=True)
    with pytest.raises(ValueError, match="dtype"):
        load_model(tiny_model_path, device="cpu", dtype=torch.float16, prepack=True)


def test_moving_a_packed_model_unpacks_it_and_a_bare_move_says_how(tiny_model_path):
    model = load_model(tiny_model_path, device="cpu", prepack=True)
    with pytest.raises(RuntimeError, match="unpack_convolutions"):
        model.unet.to(torch.float64)
    model.to(dtype=torch.float64)
    assert not model.prepacked and model.dtype == torch.float64
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    assert model(x, torch.tensor([5]), model.schedule(20)).shape == (1, 6, 32, 32)


def test_wrong_input_dtype_names_the_fix():
    packed = PackedConv2d(nn.Conv2d(4, 4, 3, padding=1))
    with pytest.raises(TypeError, match="unpack_convolutions"):
        packed(torch.randn(1, 4, 8, 8, dtype=torch.bfloat16))
