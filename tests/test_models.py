"""Loading models: presets, discovery, safe formats, short errors, opt-in download."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch
from conftest import TINY_UNET

from ipainter_nb.core.models import (
    PRESETS,
    WeightsMismatchError,
    WeightsNotFoundError,
    download_file,
    download_weights,
    find_weights,
    load_model,
)
from ipainter_nb.core.unet import build_unet


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


def test_a_truncated_checkpoint_is_reported_as_such(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save(_tiny_state_dict(), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(WeightsMismatchError, match="truncated"):
        load_model(path, config=TINY_UNET)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickles_with_code_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(WeightsMismatchError, match="weights-only"):
        load_model(path, config=TINY_UNET)


def test_a_checkpoint_without_known_config_asks_for_one(tmp_path):
    path = tmp_path / "anon.pt"
    torch.save(_tiny_state_dict(), path)
    with pytest.raises(ValueError, match="pass preset="):
        load_model(path)


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


# -- opt-in download, against a local server only ------------------------------------------


@pytest.fixture()
def file_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_sha256_and_writes_atomically(file_server, tmp_path):
    root, base = file_server
    payload = b"fake checkpoint bytes" * 1000
    (root / "model.pt").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "dl" / "model.pt"
    assert download_file(f"{base}/model.pt", dest, sha256=good, progress=False).read_bytes() == payload
    dest.unlink()
    with pytest.raises(ValueError, match="SHA-256 .* discarded"):
        download_file(f"{base}/model.pt", dest, sha256="0" * 64, progress=False)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no partial file left behind


def test_download_with_unknown_sum_records_it(file_server, tmp_path, capsys):
    root, base = file_server
    (root / "places256_300000.pt").write_bytes(b"abc")
    path = download_weights("places256", dest_dir=tmp_path, url=f"{base}/places256_300000.pt", progress=False)
    assert path == tmp_path / "places256_300000.pt"
    recorded = Path(str(path) + ".sha256").read_text()
    assert recorded.startswith(hashlib.sha256(b"abc").hexdigest())
    assert "recorded SHA-256" in capsys.readouterr().out


def test_a_failed_download_keeps_the_previous_file(file_server, tmp_path):
    root, base = file_server
    dest = tmp_path / "model.pt"
    dest.write_bytes(b"previous")
    with pytest.raises(Exception):
        download_file(f"{base}/does-not-exist.pt", dest, progress=False)
    assert dest.read_bytes() == b"previous"
