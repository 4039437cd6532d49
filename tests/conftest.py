from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests stay a small part of `make test`: few examples each, no per-example deadline
# (two shared cores make single calls slow at times), and no database written into the checkout.
settings.register_profile("ipainter", max_examples=12, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ipainter")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference fixtures kept in the repository (see their README for provenance)."""
    path = Path(__file__).resolve().parent / "fixtures" / "reference"
    if not path.is_dir():
        # a missing fixture folder is a broken checkout, not a reason to skip
        pytest.fail(f"reference fixtures not found at {path}: the checkout is incomplete")
    return path


TINY_UNET = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2],
                 attention_resolutions=[16], num_heads=1, num_head_channels=32, learn_sigma=True)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A random-weight 32x32 learned-sigma model saved as the toolkit saves models."""
    import torch

    from ipainter_nb.core.checkpoints import save_model
    from ipainter_nb.core.schedules import ScheduleConfig
    from ipainter_nb.core.unet import build_unet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(build_unet(TINY_UNET), path, name="tiny", unet_config=TINY_UNET, variance_type="learned_range",
               default_schedule=ScheduleConfig(kind="truncated", t_T=20, jump_length=4, jump_n_sample=3,
                                               stop_resampling_at=8), dtype=torch.float32)
    return path


@pytest.fixture()
def tiny_model(tiny_model_path):
    from ipainter_nb.core.models import load_model

    return load_model(tiny_model_path, device="cpu")


# 32x32, no attention, fixed variance, plain 5-step default: the fastest model the widgets can drive
PLAIN_TINY_UNET = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
                       num_heads=1, num_head_channels=32, learn_sigma=False)


@pytest.fixture(scope="session")
def plain_tiny_model_path(tmp_path_factory) -> Path:
    import torch

    from ipainter_nb.core.checkpoints import save_model
    from ipainter_nb.core.schedules import ScheduleConfig
    from ipainter_nb.core.unet import build_unet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "plain_tiny.safetensors"
    return save_model(build_unet(PLAIN_TINY_UNET), path, name="tiny", unet_config=PLAIN_TINY_UNET,
                      variance_type="fixed_small", default_schedule=ScheduleConfig(kind="plain", t_T=5))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread; a second one fighting other work for 2 cores
    (a background training run, a parallel test) made each step up to 30x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def plain_tiny_model(plain_tiny_model_path):
    from ipainter_nb.core.models import load_model

    return load_model(plain_tiny_model_path, device="cpu")


@pytest.fixture
def half_kept_scene():
    """A 32x32 picture whose left half is kept."""
    import torch

    image = torch.linspace(-1, 1, 32).expand(3, 32, 32).clone()
    keep = torch.zeros(1, 32, 32)
    keep[..., :16] = 1
    return image, keep
