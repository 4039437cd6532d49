import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# One torch thread per test process, set before anything imports torch (children inherit it):
# the suite runs in parallel workers (`pytest -n auto`), and on a small machine two workers'
# thread pools fighting over the same cores made tiny-model and exact-law steps many times
# slower. A test that needs more threads sets them itself; OMP_NUM_THREADS set outside wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The property tests' one profile: few examples and no deadline, so that `make test` stays fast
# on a shared machine (a run of many examples: HYPOTHESIS_PROFILE=... with a profile of your own).
settings.register_profile("ipainter", max_examples=12, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ipainter")

#: The stop signals and the disposition a terminal's foreground job has for each.
TERMINAL_SIGNALS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL,
                    signal.SIGHUP: signal.SIG_DFL, signal.SIGQUIT: signal.SIG_DFL}


@pytest.fixture(scope="session", autouse=True)
def torch_threads_as_the_environment_says():
    """torch in this process follows OMP_NUM_THREADS too, whatever imported it first."""
    import torch

    threads = os.environ["OMP_NUM_THREADS"]
    if threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))


@pytest.fixture
def terminal_signals():
    """The stop signals as in a terminal's foreground job, for this test only (then restored).

    The suite may run where they are ignored (``nohup make test &``, a script's background job,
    some CI runners): a test that sends a stop signal to itself or to a child sets them up here.
    A child started meanwhile gets each signal's default (handlers do not survive ``exec``).
    """
    before = {sig: signal.signal(sig, handler) for sig, handler in TERMINAL_SIGNALS.items()}
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


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
               default_schedule=ScheduleConfig(20, jump_length=4, jump_n_sample=3, stop_resampling_at=8), dtype=torch.float32)
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
                      variance_type="fixed_small", default_schedule=ScheduleConfig(5, jump_n_sample=1, stop_resampling_at=None))


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
