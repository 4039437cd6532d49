"""Every fast UNet path agrees with the plain float32 eager network (the original formulation).

Float32 paths within 1e-4 relative, half precision within 1e-2 (max |out - ref| / max |ref|),
on the trained demo weights (the compiled path on a tiny random-weight model), over the whole
range of timesteps.
"""

import pytest
import torch

from ipainter_nb.core.models import load_model
from ipainter_nb.core.unet import build_unet

TIMESTEPS = torch.tensor([10, 250, 500, 999])


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out.float() - ref).abs().max() / ref.abs().max()).item()


@pytest.fixture(scope="module")
def reference():
    """The demo network as the original code computes it: NCHW, einsum attention, eager float32."""
    plain = load_model("demo", device="cpu", prepack=False, channels_last=False)
    eager = build_unet({**plain.config, "attention_impl": "einsum"}).eval()
    eager.load_state_dict(plain.unet.state_dict())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(len(TIMESTEPS), 3, plain.image_size, plain.image_size, generator=gen)
    with torch.no_grad():
        out = eager(x, TIMESTEPS)
    return x, out


def call(model, x: torch.Tensor) -> torch.Tensor:
    # the identity respacing: the UNet sees the training timesteps as given
    return model(x, TIMESTEPS, model.schedule(model.num_train_steps))


@pytest.mark.parametrize("kwargs", [{}, {"prepack": False}, {"channels_last": False, "prepack": False}],
                         ids=["default", "unpacked", "nchw"])
def test_float32_paths_agree_within_one_in_ten_thousand(reference, kwargs):
    x, ref = reference
    assert rel_err(call(load_model("demo", device="cpu", **kwargs), x), ref) <= 1e-4


@pytest.mark.parametrize("kwargs", [{"autocast": torch.bfloat16}, {"dtype": torch.bfloat16}],
                         ids=["bf16-autocast", "bf16-weights"])
def test_bf16_paths_agree_within_one_percent(reference, kwargs):
    x, ref = reference
    err = rel_err(call(load_model("demo", device="cpu", **kwargs), x), ref)
    assert 0 < err <= 1e-2  # (0 would mean bf16 was not used at all)


# the library's own wrappers (every public call waits for the exit) stay out of the trace
@pytest.mark.filterwarnings("error:Dynamo does not know how to trace:UserWarning")
def test_compiled_path_agrees_within_one_in_ten_thousand(tiny_model_path):
    # torch.compile's time grows with the graph: the tiny model (attention and learned sigma, like
    # the demo's) checks the same loading path in a fraction of the demo network's compile time
    eager = load_model(tiny_model_path, device="cpu", prepack=False, channels_last=False)
    compiled = load_model(tiny_model_path, device="cpu", compile=True)
    assert not compiled.prepacked  # torch.compile packs for itself
    x = torch.randn(len(TIMESTEPS), 3, eager.image_size, eager.image_size, generator=torch.Generator().manual_seed(0))
    assert rel_err(call(compiled, x), call(eager, x)) <= 1e-4
