"""Checkpoint files: every kind of bad file is one clear line; what a file records is read without its weights."""

import io
import json
import os
import pickle

import pytest
import torch
from conftest import TINY_UNET
from safetensors.torch import save_file

from ipainter_nb.core import checkpoints
from ipainter_nb.core.checkpoints import (
    CheckpointError,
    WeightsMismatchError,
    read_checkpoint_info,
    read_state_dict,
    save_model,
)
from ipainter_nb.core.models import load_model
from ipainter_nb.core.presets import PAPER_SCHEDULE, PRESETS
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.unet import build_unet


def tiny_state_dict():
    torch.manual_seed(1)
    return build_unet(TINY_UNET).state_dict()


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def torch_bytes(obj, legacy=False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def safetensors_bytes(tensors, metadata=None, tmp_path=None) -> bytes:
    path = tmp_path / "scratch.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    return path.read_bytes()


# name, file name, bytes (built lazily: some need tmp_path), what the message must say
BAD_FILES = {
    "garbage bytes": ("model.pt", lambda tmp: os.urandom(4096), "not a PyTorch checkpoint"),
    "empty file": ("model.pt", lambda tmp: b"", "truncated or damaged"),
    "old-format pickle": ("model.pkl", lambda tmp: pickle.dumps({"w": [1.0, 2.0]}, protocol=2), "not a PyTorch checkpoint"),
    "pickle with code": ("model.pt", lambda tmp: torch_bytes({"state_dict": Evil()}), "Python objects besides tensors"),
    "legacy pickle with code": ("model.pt", lambda tmp: torch_bytes({"w": Evil()}, legacy=True), "Python objects besides tensors"),
    "truncated checkpoint": ("model.pt", lambda tmp: half(torch_bytes(tiny_state_dict())), "truncated or damaged"),
    "truncated legacy checkpoint": ("model.pt", lambda tmp: half(torch_bytes(tiny_state_dict(), legacy=True)),
                                    "truncated or damaged"),
    "random .safetensors bytes": ("model.safetensors", lambda tmp: os.urandom(4096), "not a safetensors file"),
    "truncated .safetensors": ("model.safetensors", lambda tmp: half(safetensors_bytes(tiny_state_dict(), tmp_path=tmp)),
                               "truncated or damaged"),
    "corrupt training checkpoint": ("last.pt", lambda tmp: half(torch_bytes({"model": tiny_state_dict(), "step": 7})),
                                    "truncated or damaged"),
    "a dict of other things": ("model.pt", lambda tmp: torch_bytes({"step": 3, "lr": 0.1}), "no state dict"),
    "a list": ("model.pt", lambda tmp: torch_bytes([torch.zeros(1)]), "not a state dict"),
    "unreadable recorded settings": ("model.safetensors",
                                     lambda tmp: safetensors_bytes(tiny_state_dict(), {"ipainter_nb": "{oops"}, tmp_path=tmp),
                                     "unreadable settings"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_every_kind_of_bad_checkpoint_is_one_line_naming_the_file_the_problem_and_the_fix(tmp_path, case, capfd):
    name, make, problem = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    with pytest.raises(CheckpointError) as err:
        load_model(path, config=TINY_UNET, device="cpu")
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert str(path) in message and problem in message
    assert any(fix in message for fix in ("download or copy it again", "Use a state dict saved with", "save it again"))
    # torch's advice to load the file unsafely is never passed on
    assert "weights_only" not in message and "trust" not in message
    assert "pwned" not in capfd.readouterr().out  # and nothing in the file ran


def test_a_valid_safetensors_file_that_is_not_a_unet(tmp_path):
    path = tmp_path / "vae.safetensors"
    save_file({"encoder.weight": torch.zeros(4, 4)}, str(path))
    info = read_checkpoint_info(path)  # what `ipainter schedule --model` reads
    assert info["default_schedule"] == PAPER_SCHEDULE and "records no schedule" in info["origin"]
    with pytest.raises(CheckpointError, match="pass preset=NAME"):
        load_model(path)
    with pytest.raises(WeightsMismatchError, match="unexpected 1 key"):
        load_model(path, config=TINY_UNET)


def test_a_checkpoint_in_the_old_torch_format_still_loads(tmp_path):
    path = tmp_path / "legacy.pt"
    path.write_bytes(torch_bytes({"ema": tiny_state_dict()}, legacy=True))
    model = load_model(path, config=TINY_UNET, device="cpu")
    assert torch.equal(model.unet.state_dict()["out.2.weight"], tiny_state_dict()["out.2.weight"])


def test_the_format_is_read_from_the_content_not_only_the_name(tmp_path):
    path = tmp_path / "model.bin"
    save_file(tiny_state_dict(), str(path))
    sd, meta = read_state_dict(path)
    assert torch.equal(sd["out.2.weight"], tiny_state_dict()["out.2.weight"]) and meta == {}


def test_a_folder_or_a_missing_file_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        read_state_dict(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_state_dict(tmp_path / "nope.pt")


def test_info_is_read_without_loading_weights(tmp_path, monkeypatch):
    schedule = ScheduleConfig(t_T=60, jump_length=3, jump_n_sample=4, stop_resampling_at=20)
    path = save_model(build_unet(TINY_UNET), tmp_path / "mine.safetensors", name="mine", unet_config=TINY_UNET,
                      variance_type="fixed_large", default_schedule=schedule, num_train_steps=500)

    def no_weights(*args, **kwargs):
        raise AssertionError("weights were read")

    monkeypatch.setattr(checkpoints, "read_state_dict", no_weights)
    monkeypatch.setattr(checkpoints, "read_checkpoint", no_weights)
    info = read_checkpoint_info(path)
    assert info["default_schedule"] == schedule and isinstance(info["default_schedule"], ScheduleConfig)
    assert (info["name"], info["variance_type"], info["num_train_steps"]) == ("mine", "fixed_large", 500)
    assert info["unet_config"] == TINY_UNET and info["origin"] == "mine.safetensors" and info["path"] == path


def test_saved_settings_come_back_with_the_model(tmp_path):
    schedule = ScheduleConfig(t_T=60, jump_length=3, jump_n_sample=4, stop_resampling_at=20)
    path = save_model(build_unet(TINY_UNET), tmp_path / "mine.safetensors", name="mine", unet_config=TINY_UNET,
                      variance_type="fixed_large", default_schedule=schedule, num_train_steps=500, dtype=torch.float32)
    model = load_model(path, device="cpu")
    assert (model.name, model.variance_type, model.num_train_steps) == ("mine", "fixed_large", 500)
    assert model.default_schedule == schedule
    recorded = json.loads(read_state_dict(path)[1]["ipainter_nb"])["default_schedule"]
    assert ScheduleConfig.from_dict(recorded) == schedule  # written with to_dict, read with from_dict


def test_info_of_presets_needs_no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("IPAINTER_WEIGHTS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    info = read_checkpoint_info("places256")
    assert info["path"] is None and info["preset"] == "places256" and info["default_schedule"] == PAPER_SCHEDULE
    assert info["unet_config"] == dict(PRESETS["places256"].unet_config) and info["origin"] == "preset 'places256'"
    # a file named like a preset's published file takes that preset's settings
    named = tmp_path / "celeba256_250000.pt"
    named.write_bytes(b"PK\x03\x04 the weights are not read")  # only the first bytes are, to tell the format
    assert read_checkpoint_info(named)["preset"] == "celeba256"
    # the shipped demo file records its own settings, which agree with the table
    demo = read_checkpoint_info("demo")
    assert demo["default_schedule"] == PRESETS["demo"].default_schedule and "demo_model.safetensors" in demo["origin"]
    # an explicit preset applies to files, not on top of another preset's name
    with pytest.raises(ValueError, match="drop one of them"):
        read_checkpoint_info("places256", preset="celeba256")


@pytest.mark.parametrize("fmt", ["zip", "legacy", "safetensors"])
def test_damaged_bytes_anywhere_give_a_checkpoint_error_or_a_readable_file(tmp_path, fmt):
    """Cut and overwrite bytes at random: reading either works or says the file is bad, nothing else."""
    import random

    sd = {"a": torch.randn(40, 40), "b": torch.zeros(3)}
    if fmt == "safetensors":
        good, name = safetensors_bytes(sd, {"ipainter_nb": json.dumps({"name": "x"})}, tmp_path=tmp_path), "m.safetensors"
    else:
        good, name = torch_bytes({"ema": sd, "step": 1}, legacy=fmt == "legacy"), "m.pt"
    rng = random.Random(0)
    path = tmp_path / name
    outcomes = set()
    for _ in range(60):
        data = bytearray(good[: rng.randrange(1, len(good))] if rng.random() < 0.5 else good)
        for _ in range(rng.randint(0, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        for read in (read_state_dict, read_checkpoint_info):
            try:
                read(path)
                outcomes.add("read")
            except CheckpointError as exc:
                assert str(path) in str(exc) and len(str(exc).splitlines()) == 1
                outcomes.add("refused")
    assert "refused" in outcomes
