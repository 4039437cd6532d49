"""Training: resumable, seeded, on procedural scenes or a user's folder, with clear errors."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb.core.models import load_model
from ipainter_nb.train import ImageFolder, TrainConfig, export, train

TINY = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
            num_heads=1, num_head_channels=32, learn_sigma=False)


def config(tmp_path, **kw):
    base = dict(out=str(tmp_path / "run"), unet=dict(TINY), steps=3, batch_size=2, save_every=1,
                sample_every=0, threads=1, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_training_resumes_where_it_stopped_and_matches_an_uninterrupted_run(tmp_path):
    straight = torch.load(train(config(tmp_path / "a", steps=4), progress=False), weights_only=True)
    train(config(tmp_path / "b", steps=2), progress=False)
    resumed = torch.load(train(config(tmp_path / "b", steps=4), progress=False), weights_only=True)
    assert straight["step"] == resumed["step"] == 4
    for key, value in straight["model"].items():
        assert torch.allclose(value, resumed["model"][key], atol=1e-6), key
    log = (tmp_path / "b" / "run" / "loss.csv").read_text().splitlines()
    assert log[0] == "step,loss,seconds" and len(log) == 5


def test_sample_grids_are_written_and_the_export_loads_as_a_model(tmp_path):
    ckpt = train(config(tmp_path, steps=2, sample_every=2), progress=False)
    assert (tmp_path / "run" / "samples" / "step000002.png").is_file()
    model = load_model(export(ckpt, tmp_path / "m.safetensors"), device="cpu")
    assert model.image_size == 16 and model.variance_type == "fixed_small"


def test_trains_on_a_folder_of_mixed_sizes_and_skips_unreadable_files(tmp_path, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(40, 30), (16, 16), (64, 80)]):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match="skipped 1 unreadable file.*broken.jpg"):
        data = ImageFolder(folder, 16, seed=0)
    assert len(data) == 3 and data.skipped == 1
    assert "3 different sizes" in capsys.readouterr().out
    batch = data.batch(0, 4)
    assert batch.shape == (4, 3, 16, 16) and batch.min() >= -1 and batch.max() <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert train(config(tmp_path, data=str(folder), steps=1), progress=False).is_file()


def test_a_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="no images in .*empty"):
        ImageFolder(tmp_path / "empty", 16, seed=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing", 16, seed=0)


def test_resuming_with_another_network_is_refused(tmp_path):
    train(config(tmp_path, steps=1), progress=False)
    with pytest.raises(ValueError, match="another UNet config"):
        train(config(tmp_path, steps=2, unet={**TINY, "num_channels": 64}), progress=False)
