"""Training: resumable, seeded, on procedural scenes or a user's folder, with clear errors."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb.core.checkpoints import CheckpointError, save_model
from ipainter_nb.core.exact import GaussianImageModel, centre_hole_keep
from ipainter_nb.core.models import load_model
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.schedules.plan import plan_schedule, surrogate_of
from ipainter_nb.core.unet import build_unet
from ipainter_nb.errors import UserInputError
from ipainter_nb.train import ImageFolder, ProceduralScenes, TrainConfig, TrainingInterrupted, export, train
from ipainter_nb.train_data import FIT_PICTURES

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


def test_a_run_folder_inside_the_training_pictures_is_refused_when_it_writes_sample_grids(tmp_path):
    """The pictures' folder is read with its subfolders: a run in it read its own sample grids as training
    pictures when it resumed."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / "p0.png")
    for out in (folder / "run", folder):
        with pytest.raises(UserInputError, match="is inside --data .*: the run's sample grids would be read as training"):
            train(config(tmp_path, out=str(out), data=str(folder), sample_every=1, steps=1), progress=False)
    assert sorted(p.name for p in folder.rglob("*")) == ["p0.png"]  # nothing written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a run that writes no grids may live there
        assert train(config(tmp_path, out=str(folder / "run"), data=str(folder), sample_every=0, steps=1), progress=False).is_file()


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


def test_a_resumed_run_logs_each_step_once(tmp_path):
    train(config(tmp_path, steps=2, save_every=2), progress=False)
    log = tmp_path / "run" / "loss.csv"
    # a run that died after step 2's checkpoint had logged steps 3 and 4 already
    log.write_text(log.read_text() + "3,0.5,0.1\n4,0.5,0.1\n")
    train(config(tmp_path, steps=5, save_every=2), progress=False)
    steps = [int(line.split(",")[0]) for line in log.read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4, 5]


def test_ctrl_c_says_training_stopped_and_where_the_checkpoint_is(tmp_path, monkeypatch):
    import ipainter_nb.train as training

    calls = []
    real_update = training._ema_update

    def update_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_update(*args, **kwargs)

    monkeypatch.setattr(training, "_ema_update", update_then_interrupt)
    with pytest.raises(KeyboardInterrupt) as stopped:
        train(config(tmp_path, steps=5, save_every=2), progress=False)
    message = str(stopped.value)
    assert isinstance(stopped.value, TrainingInterrupted)
    assert "training stopped at step 2" in message and "last checkpoint (step 2)" in message
    assert str(tmp_path / "run" / "last.pt") in message and "pictures" not in message


def test_a_corrupt_checkpoint_is_one_error_naming_the_file_and_the_fix(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(CheckpointError, match=r"last\.pt.*delete .*last\.pt.*another --out"):
        train(config(tmp_path, steps=1), progress=False)


def test_init_from_starts_at_exported_weights_with_a_fresh_optimiser(tmp_path, capsys):
    torch.manual_seed(1)
    weights = save_model(build_unet(TINY), tmp_path / "start.safetensors", name="start", unet_config=TINY,
                         variance_type="fixed_small", default_schedule=ScheduleConfig.for_t_T(10), dtype=torch.float32)
    start = load_model(weights, device="cpu", prepack=False).unet.state_dict()
    run = config(tmp_path, steps=1, lr=1e-12, unet={**TINY, "num_channels": 64}, init_from=str(weights))
    state = torch.load(train(run, progress=False), weights_only=True)
    assert "starting from the weights of" in capsys.readouterr().out
    assert state["config"]["unet"]["num_channels"] == 32  # the network of the weights, not the configured one
    for key, value in start.items():
        assert torch.allclose(state["model"][key].float(), value, atol=1e-6), key
    assert state["opt"]["state"][0]["step"] == 1  # a fresh optimiser: one step taken
    # the same command again resumes the run instead of starting over
    resumed = torch.load(train(config(tmp_path, steps=2, lr=1e-12, init_from=str(weights)), progress=False), weights_only=True)
    assert resumed["step"] == 2


def test_settings_are_checked_before_training(tmp_path):
    for bad in (dict(batch_size=0), dict(save_every=0), dict(steps=-5), dict(unet={**TINY, "image_size": 17})):
        with pytest.raises(UserInputError):
            config(tmp_path, **bad)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad, said", [
    (dict(steps="5"), "steps must be a whole number, got str '5'"),  # a TypeError from the comparison
    (dict(steps=True), "steps must be a whole number, got bool True"),  # one step of training
    (dict(save_every=2.5), "save_every must be a whole number, got float 2.5"),
    (dict(lr="1e-3"), "lr must be a number, got str '1e-3'"),  # a TypeError
    (dict(ema_decay=float("nan")), "ema_decay=nan is out of range: it must be a finite number in \\[0, 1\\)"),  # taken
    (dict(bf16="no"), "bf16 must be True or False, got str 'no'"),  # "no" is true: bf16 on
    (dict(threads=100_000), "threads=100000 is out of range: it must be in 1\\.\\."),  # torch crashed (exit 139)
])
def test_a_training_setting_of_the_wrong_kind_is_one_error_naming_it(bad, said, tmp_path):
    with pytest.raises(UserInputError, match=said):
        config(tmp_path, **bad)
    assert not (tmp_path / "run").exists()


def test_more_threads_than_the_machine_has_is_refused_by_the_command(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-m", "ipainter_nb", "train", "--out", str(tmp_path / "run"), "--threads", "100000",
                          "--steps", "1", "--image-size", "16", "--batch-size", "1", "--sample-every", "0", "--no-progress"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr  # it was a segmentation fault inside torch (exit 139)
    assert "argument --threads: must be at most" in run.stderr and not (tmp_path / "run").exists()


def test_the_train_command_resumes_a_run_started_from_weights(tmp_path, capsys):
    from ipainter_nb.cli import main

    weights = save_model(build_unet(TINY), tmp_path / "start.safetensors", name="start", unet_config=TINY,
                         variance_type="fixed_small", default_schedule=ScheduleConfig.for_t_T(10))
    command = ["train", "--init-from", str(weights), "--out", str(tmp_path / "run"), "--batch-size", "2",
               "--save-every", "1", "--sample-every", "0", "--threads", "1", "--device", "cpu", "--no-progress"]
    assert main([*command, "--steps", "1"]) == 0
    assert main([*command, "--steps", "2", "--export", str(tmp_path / "out.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "starting from the weights of" in out and "resuming from" in out
    assert load_model(tmp_path / "out.safetensors", device="cpu").image_size == 16


def test_a_batch_larger_than_the_machines_memory_is_refused_before_anything_is_written(tmp_path):
    """A batch was taken up to what a grid of its pictures may hold (1 GiB of them): with a wide network a step
    then allocated until the system killed the run. 512 channels at 16x16 hold at least 2 MiB of each
    picture at the first level: 349525 of them, 683 GiB, more than this machine has."""
    wide = {**TINY, "num_channels": 512}
    with pytest.raises(UserInputError, match=r"batch_size=349525 cannot fit: one training step on that many 16x16 pictures"):
        train(config(tmp_path, unet=wide, batch_size=349525), progress=False)
    assert not (tmp_path / "run").exists()


def test_an_empty_device_is_refused_as_every_command_refuses_it(tmp_path):
    """``--device "$DEV"`` with DEV unset: paint and demo refused it, train took it as the default device."""
    with pytest.raises(UserInputError, match="--device='' is not a device: use 'cpu', 'cuda' or 'cuda:N'"):
        train(config(tmp_path, device=""), progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("network", ["learn_sigma", "class_cond"])
def test_a_network_the_trainer_cannot_train_is_refused_before_anything_is_written(network, tmp_path, capsys):
    """Weights of a network that learns its variance (the published checkpoints) or needs a class label
    failed at the first step: a RuntimeError traceback (6 output channels against 3) or a missing ``y``."""
    from ipainter_nb.cli import main

    unet = {**TINY, network: True}
    weights = save_model(build_unet(unet), tmp_path / "start.safetensors", name="start", unet_config=unet,
                         variance_type="learned_range" if network == "learn_sigma" else "fixed_small",
                         default_schedule=ScheduleConfig.for_t_T(10))
    command = ["train", "--init-from", str(weights), "--out", str(tmp_path / "run"), "--steps", "1", "--batch-size", "1",
               "--sample-every", "0", "--threads", "1", "--device", "cpu", "--no-progress"]
    assert main(command) == 2
    assert capsys.readouterr().err.startswith(f"ipainter: error: --init-from {weights}: the network ")
    with pytest.raises(UserInputError, match=f"the unet config: the network .*\\({network}"):
        train(config(tmp_path, unet=unet), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["start.safetensors"]


def test_an_export_onto_the_weights_the_run_starts_from_is_refused(tmp_path, capsys):
    """``--init-from m --export m`` replaced the starting weights with the trained ones; a link there is replaced
    instead, as every output's is, and ``export`` onto its own checkpoint is refused too."""
    from ipainter_nb.cli import main

    weights = save_model(build_unet(TINY), tmp_path / "m.safetensors", name="m", unet_config=TINY,
                         variance_type="fixed_small", default_schedule=ScheduleConfig.for_t_T(10))
    before = weights.read_bytes()
    command = ["train", "--init-from", str(weights), "--out", str(tmp_path / "run"), "--steps", "1", "--batch-size", "1",
               "--sample-every", "0", "--threads", "1", "--device", "cpu", "--no-progress"]
    assert main([*command, "--export", str(tmp_path / "." / "m.safetensors")]) == 2
    assert capsys.readouterr().err.endswith("is the file --init-from reads: writing it would replace it; name another file\n")
    assert not (tmp_path / "run").exists() and weights.read_bytes() == before
    (tmp_path / "link.safetensors").symlink_to(weights)
    assert main([*command, "--export", str(tmp_path / "link.safetensors")]) == 0
    assert not (tmp_path / "link.safetensors").is_symlink() and weights.read_bytes() == before
    checkpoint = (tmp_path / "run" / "last.pt").rename(tmp_path / "ckpt.pt")  # out of its run's folder
    with pytest.raises(UserInputError, match="dest .* is the file checkpoint reads"):
        export(checkpoint, tmp_path / "ckpt.pt")
    assert torch.load(checkpoint, weights_only=True)["step"] == 1


def test_an_export_onto_a_file_the_run_writes_is_refused_and_the_run_can_still_resume(tmp_path, capsys):
    """``--export run/last.pt`` replaced the checkpoint with exported weights: the next run could not resume."""
    from ipainter_nb.cli import main

    run = tmp_path / "run"
    command = ["train", "--out", str(run), "--image-size", "16", "--batch-size", "1", "--sample-every", "0", "--threads",
               "1", "--device", "cpu", "--no-progress", "--no-bf16"]
    assert main([*command, "--steps", "1"]) == 0
    written = {name: (run / name).read_bytes() for name in ("last.pt", "config.json", "loss.csv")}
    capsys.readouterr()
    for name in written:
        assert main([*command, "--steps", "2", "--export", str(run / name)]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"ipainter: error: --export {run / name} is a file the training run in {run} writes itself ({name}): "
            f"export to another file, e.g. {run / 'model.safetensors'}"]
    assert {name: (run / name).read_bytes() for name in written} == written  # refused before training
    with pytest.raises(UserInputError, match="dest .*last.pt is a file the training run in"):
        export(run / "last.pt", run / "last.pt")
    assert main([*command, "--steps", "2"]) == 0 and torch.load(run / "last.pt", weights_only=True)["step"] == 2
    precious = tmp_path / "model.safetensors"
    precious.write_text("not weights")  # a file of that name that no export wrote is not replaced
    assert main([*command, "--steps", "2", "--export", str(precious)]) == 2
    assert "exists and is not a safetensors file" in capsys.readouterr().err and precious.read_text() == "not weights"
    precious.unlink()
    for _ in range(2):  # an earlier export is replaced
        assert main([*command, "--steps", "2", "--export", str(precious)]) == 0


def test_python_dash_m_ipainter_nb_train_is_the_train_command(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-m", "ipainter_nb.train", "--out", str(tmp_path / "run"), "--steps", "0"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2  # refused as `ipainter train` refuses it: one line, nothing created
    assert run.stderr.startswith("usage: ipainter train") and "--steps: must be at least 1" in run.stderr
    assert not (tmp_path / "run").exists()


def test_the_export_records_the_model_of_its_training_pictures_and_plans_calibrate_to_it(tmp_path):
    ckpt = train(config(tmp_path, steps=1), progress=False)
    model = load_model(export(ckpt, tmp_path / "m.safetensors"), device="cpu")
    landscapes = ProceduralScenes(TrainConfig.seed, 16)
    assert model.picture_model == GaussianImageModel.fit(landscapes.batch(0, FIT_PICTURES))
    assert surrogate_of(model) == model.picture_model
    keep = centre_hole_keep(16, 6)
    assert plan_schedule(model, keep, target="draft") == plan_schedule(model, keep, target="draft",
                                                                       surrogate=model.picture_model)


def test_an_export_whose_training_folder_is_gone_records_no_picture_model_and_says_so(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    ramp = np.linspace(0, 255, 16, dtype=np.uint8)
    Image.fromarray(np.stack([np.add.outer(ramp, ramp) // 2] * 3, -1).astype(np.uint8)).save(folder / "ramp.png")
    ckpt = train(config(tmp_path, steps=1, data=str(folder)), progress=False)
    (folder / "ramp.png").unlink()
    folder.rmdir()
    with pytest.warns(UserWarning, match="records no picture model.*training folder .* does not exist"):
        weights = export(ckpt, tmp_path / "m.safetensors")
    assert load_model(weights, device="cpu").picture_model is None


def test_a_damaged_picture_model_record_is_one_error_naming_the_file_and_the_missing_key(tmp_path):
    path = save_model(build_unet(TINY), tmp_path / "m.safetensors", name="m", unet_config=TINY,
                      variance_type="fixed_small", default_schedule=ScheduleConfig(), extra={"picture_model": {"beta": 2.0}})
    with pytest.raises(CheckpointError, match=r"m\.safetensors records unreadable settings .*lacks f0, channel_cov, mean"):
        load_model(path, device="cpu")
    with pytest.raises(UserInputError, match="picture_model must be an exact.GaussianImageModel"):
        save_model(build_unet(TINY), tmp_path / "n.safetensors", name="n", unet_config=TINY, variance_type="fixed_small",
                   default_schedule=ScheduleConfig(), picture_model="smooth")
    assert not (tmp_path / "n.safetensors").exists()


def test_a_training_folder_or_checkpoint_that_is_no_path_is_refused_by_name(tmp_path):
    for call, message in ((lambda: TrainConfig(out=None), "out must be a folder path"),
                          (lambda: TrainConfig(out=str(tmp_path), data=3), "data must be a folder path"),
                          (lambda: export(None, tmp_path / "x.safetensors"), "checkpoint must be a file path"),
                          (lambda: export(tmp_path / "last.pt", None), "dest must be a file path")):
        with pytest.raises(UserInputError, match=message):
            call()


def test_a_run_folder_holding_files_no_run_wrote_is_refused_before_anything_is_replaced(tmp_path):
    out = tmp_path / "mine"
    (out / "samples").mkdir(parents=True)
    (out / "config.json").write_text('{"my": "app settings"}')
    (out / "loss.csv").write_text("date,amount\n2024-01-01,5\n")
    (out / "samples" / "step000001.png").write_text("my picture")
    (out / "notes.txt").write_text("not a name a run writes: allowed")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    run = config(tmp_path, out=str(out), steps=1, sample_every=1)
    with pytest.raises(UserInputError, match=r"holds config.json, loss.csv, samples/step000001.png, which a training run did not"):
        train(run, progress=False)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    for name in ("config.json", "loss.csv", "samples/step000001.png"):
        (out / name).unlink()
    train(run, progress=False)  # the same folder, its run's own files and the user's notes: a run, then a resume
    train(config(tmp_path, out=str(out), steps=2, sample_every=1), progress=False)
    assert (out / "notes.txt").read_text() == "not a name a run writes: allowed"


def test_a_checkpoint_that_cannot_be_written_is_the_file_systems_error_naming_the_file(tmp_path, monkeypatch):
    import errno

    from ipainter_nb import train as training

    def full_disk(state, f):  # what torch's zip writer does when the disk fills: its own error over the OS's
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0") from None

    monkeypatch.setattr(training.torch, "save", full_disk)
    run = config(tmp_path, steps=1)
    with pytest.raises(OSError, match="No space left on device") as err:
        train(run, progress=False)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "run" / "last.pt")
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no temp file left


def test_an_image_size_past_the_networks_limit_is_named_as_the_size(tmp_path, capsys):
    from ipainter_nb.cli import main

    assert main(["train", "--out", str(tmp_path / "run"), "--image-size", "8192", "--no-progress"]) == 2
    err = capsys.readouterr().err  # it said "batch_size=32 is out of range", then the size once that was lowered
    assert "argument --image-size: image size 8192 is not a power of two in 16..4096" in err and "batch_size" not in err
