"""What a hostile (or unlucky) user meets: one clear line per mistake, nothing lost, no hang.

Each test is one class of bad input or fault, tried the way a user would (the ``ipainter``
command in-process through ``main(argv)``, or the Python API), and checks the promise: a
one-line message naming the problem and the fix, the exit code argparse would use (2 when
the command cannot run as given, 1 when it ran and something failed), files that were there
left as they were, no temporary files left behind, and no unbounded work. A subprocess is
used only where a real process is the point (a file-size limit).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ipainter_nb import paint
from ipainter_nb.cli import main
from ipainter_nb.core.checkpoints import CheckpointError, WeightsMismatchError, read_checkpoint_info, save_model
from ipainter_nb.core.composition import Composition, CompositionError
from ipainter_nb.core.download import download_file
from ipainter_nb.core.models import load_model
from ipainter_nb.core.sampler import NonFiniteOutputError
from ipainter_nb.core.schedules import MAX_SCHEDULE_STEPS, ScheduleConfig, plain, planned_steps, repaint
from ipainter_nb.core.unet import build_unet
from ipainter_nb.errors import UserInputError
from ipainter_nb.images import claim_output, load_mask, save_png_atomic, signals_deferred
from ipainter_nb.train import TrainConfig, TrainingDiverged, train

REPO = Path(__file__).resolve().parents[1]
SIZE = 16
NET = dict(image_size=SIZE, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
           num_heads=1, num_head_channels=32, learn_sigma=False)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 16x16 model whose default schedule is 3 plain steps (paints in milliseconds)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return save_model(build_unet(NET), path, name="tiny", unet_config=NET, variance_type="fixed_small",
                      default_schedule=ScheduleConfig(3, jump_n_sample=1, stop_resampling_at=None), dtype=torch.float32)


def _pair(folder: Path, name: str) -> None:
    Image.fromarray(np.full((SIZE, SIZE, 3), 90, np.uint8)).save(folder / f"{name}.png")
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[: SIZE // 2] = 255
    Image.fromarray(mask).save(folder / f"{name}_mask.png")


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    _pair(folder, "good")
    return folder


def _one_line(err: str) -> str:
    """The one error line (argparse prints its usage above it, the CLI a hint below it)."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("ipainter") and "Traceback" not in err, err
    return lines[0]


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*")]


# --------------------------------------------------------------------------- limits: no unbounded work


def test_a_schedule_too_long_to_build_is_refused_at_once() -> None:
    start = time.perf_counter()
    for build in (lambda: repaint(250, 10, 10**9), lambda: plain(10**8), lambda: ScheduleConfig(t_T=10**9),
                  lambda: ScheduleConfig(jump_n_sample=10**7)):
        with pytest.raises(UserInputError, match="more than the limit") as err:
            build()
        assert "lower jump_n_sample or t_T" in str(err.value)
    assert time.perf_counter() - start < 1.0  # counted, not built
    # the count is exact for the schedules that are built
    for args in ((250, 10, 10, 100), (100, 5, 5, 40, 80), (7, 3, 4), (20, 1, 2, 0)):
        assert planned_steps(*args) == len(repaint(*args)) - 1
    assert planned_steps(250, 10, 10) < MAX_SCHEDULE_STEPS


def test_the_cli_refuses_huge_counts_before_any_work(source: Path, model_path: Path, tmp_path: Path, capsys) -> None:
    cases = [
        (["schedule", "--jump-n-sample", "10000000"], "more than the limit"),
        (["schedule", "--t-T", "100000000", "--no-resampling"], "more than the limit"),
        (["paint", "-s", str(source), "-d", str(tmp_path / "o"), "--model", str(model_path), "--num-samples", str(10**12)],
         "must be at most"),
        (["demo", "--out", str(tmp_path / "d"), "--num-samples", str(10**6)], "must be at most"),
        (["demo", "--out", str(tmp_path / "d"), "--seed", str(2**70)], "must be at most"),
        # 2**31 painted the pictures of --seed 0, and -1 those of 2**31 - 1
        (["paint", "-s", str(source), "-d", str(tmp_path / "o"), "--model", str(model_path), "--seed", str(2**31)],
         "argument --seed: must be at most 2147483647 (a larger seed would repeat the pictures of a smaller one)"),
        (["paint", "-s", str(source), "-d", str(tmp_path / "o"), "--model", str(model_path), "--seed", "-1"],
         "argument --seed: must be at least 0"),
        (["train", "--out", str(tmp_path / "t"), "--seed", str(2**70)], "must be at most 4294967295"),
        (["train", "--out", str(tmp_path / "t"), "--lr", "inf"], "positive finite"),
        (["schedule", "--model", "demo", "--t-T", "1001"], "trained with 1000 diffusion steps"),
    ]
    for argv, problem in cases:
        assert main(argv) == 2, argv
        assert problem in _one_line(capsys.readouterr().err), argv
    assert not (tmp_path / "d").exists() and not (tmp_path / "t").exists()


# --------------------------------------------------------------------------- checkpoints that lie


@pytest.fixture()
def recorded(model_path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    with safe_open(str(model_path), "pt") as f:
        return load_file(str(model_path)), json.loads(f.metadata()["ipainter_nb"])


@pytest.mark.parametrize("change, problem", [
    ({"variance_type": "wobbly"}, "variance_type='wobbly'"),
    ({"beta_schedule": "zigzag"}, "beta_schedule='zigzag'"),
    ({"num_train_steps": "lots"}, "num_train_steps='lots'"),
    ({"unet_config": "big"}, "must be a JSON object"),
    ({"unet_config": {**NET, "num_channels": "many"}}, "num_channels must be an integer"),
    ({"unet_config": {**NET, "image_size": 18, "channel_mult": [1, 2, 4]}}, "cannot be halved"),
])
def test_settings_a_file_records_are_checked_when_it_is_read(recorded, tmp_path: Path, change, problem) -> None:
    tensors, info = recorded
    path = tmp_path / "liar.safetensors"
    save_file(tensors, str(path), metadata={"ipainter_nb": json.dumps({**info, **change})})
    with pytest.raises(CheckpointError) as err:
        read_checkpoint_info(path)  # `ipainter schedule --model` reads only this: the error comes before any painting
    message = str(err.value)
    assert len(message.splitlines()) == 1 and str(path) in message and problem in message, message


def test_weights_of_the_right_shapes_but_integer_types_are_refused(recorded, tmp_path: Path) -> None:
    tensors, info = recorded
    path = tmp_path / "int8.safetensors"
    save_file({k: v.to(torch.int8) for k, v in tensors.items()}, str(path), metadata={"ipainter_nb": json.dumps(info)})
    with pytest.raises(WeightsMismatchError, match="holds int8 \\(expected floating point\\)"):
        load_model(path, device="cpu")


def test_a_network_config_with_wrong_types_names_the_key(tmp_path: Path, model_path: Path, capsys) -> None:
    config = tmp_path / "net.json"
    config.write_text('{"image_size": NaN, "num_channels": 32}')  # json.loads reads NaN
    assert main(["schedule", "--model", str(model_path), "--config", str(config)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "image_size must be an integer, got nan" in line and str(config) in line
    with pytest.raises(UserInputError, match="learn_sigma true"):
        read_checkpoint_info("places256", config={**NET, "image_size": 256, "channel_mult": [1, 1, 2, 2, 4, 4]})


def test_a_file_that_is_no_checkpoint_says_so_before_asking_for_its_network(tmp_path: Path) -> None:
    garbage = tmp_path / "weights.pt"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint or safetensors file"):
        read_checkpoint_info(garbage)  # `schedule --model` too, not only loading
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_model(garbage)  # not "pass --preset / --config", which would not help
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_model(fifo)  # and no hang waiting for a writer


def test_model_names_devices_and_weight_folders_a_user_can_get_wrong(model_path: Path, tmp_path: Path, monkeypatch) -> None:
    for bad in (None, 123, "", " "):  # "" was the current folder: ". is a folder, not a checkpoint file"
        with pytest.raises(UserInputError, match="preset name .* or a checkpoint path"):
            load_model(bad)
    with pytest.raises(UserInputError, match="config must be a file path .*got str ''"):
        load_model(model_path, config="")
    with pytest.raises(UserInputError, match="'quantum' is not a device"):
        load_model(model_path, device="quantum")
    # IPAINTER_WEIGHTS names a file: the file itself when it is the preset's, else said plainly
    monkeypatch.setenv("IPAINTER_WEIGHTS", str(model_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="a file, not a folder: IPAINTER_WEIGHTS lists folders"):
        load_model("places256")


# --------------------------------------------------------------------------- paint() arguments


def test_a_device_this_pytorch_lacks_is_one_error_for_the_api_and_the_command(model_path: Path, tmp_path: Path, capsys) -> None:
    # mps off a Mac used to be a RuntimeError from deep inside torch; meta would load weights with no data
    absent = next(t for t, here in (("mps", torch.backends.mps.is_available()), ("xpu", torch.xpu.is_available())) if not here)
    with pytest.raises(UserInputError, match=f"cannot make tensors on '{absent}' devices.*use 'cpu' or 'cuda'"):
        load_model(model_path, device=absent)
    with pytest.raises(UserInputError, match="the meta device holds no data"):
        load_model(model_path, device="meta")
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (SIZE, SIZE)).save(src / "a.png")
    Image.new("L", (SIZE, SIZE)).save(src / "a_mask.png")
    assert main(["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(model_path), "--device", absent]) == 2
    assert f"--device='{absent}': this PyTorch" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_paint_refuses_devices_and_dtypes_it_cannot_use(model_path: Path) -> None:
    model = load_model(model_path, device="cpu")
    image, keep = torch.zeros(3, SIZE, SIZE), torch.ones(1, SIZE, SIZE)
    with pytest.raises(UserInputError, match="'nonsense' is not a device"):
        paint(model, image, keep, device="nonsense", progress=False)
    with pytest.raises(UserInputError, match="not a floating-point torch dtype"):
        paint(model, image, keep, dtype=torch.int64, progress=False)


def test_a_model_with_nan_weights_is_blamed_on_its_weights_not_on_half_precision(model_path: Path) -> None:
    model = load_model(model_path, device="cpu", prepack=False)
    with torch.no_grad():
        next(model.unet.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteOutputError, match="weights are probably damaged") as err:
        paint(model, torch.zeros(3, SIZE, SIZE), torch.zeros(1, SIZE, SIZE), progress=False)
    assert "half precision" not in str(err.value)


# --------------------------------------------------------------------------- files and names


def test_a_picture_name_near_the_file_system_limit_is_painted(source: Path, model_path: Path, tmp_path: Path) -> None:
    long = "a" * 240  # <name>_mask.png fits in 255 bytes; the hidden temp and claim names would not
    _pair(source, long)
    dest = tmp_path / "out"
    assert main(["paint", "-s", str(source), "-d", str(dest), "--model", str(model_path), "--num-samples", "1", "--quiet"]) == 0
    assert (dest / f"{long}_0.png").is_file() and (dest / "good_0.png").is_file() and not _hidden(dest)
    # the same holds for the helpers themselves
    claim = claim_output(tmp_path / f"{'é' * 124}.png")  # 248 bytes of UTF-8
    assert claim is not None
    claim.save_png(torch.zeros(3, 4, 4))
    assert not _hidden(tmp_path)


def test_a_mask_held_in_the_alpha_channel_alone_keeps_where_it_is_opaque(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)  # black everywhere; the mask is the alpha
    rgba[:4, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha_mask.png")
    keep = load_mask(tmp_path / "alpha_mask.png")
    assert keep[0, :4].eq(1).all() and keep[0, 4:].eq(0).all()
    # a mask drawn in white on a transparent layer still reads the same
    rgba[..., :3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "drawn_mask.png")
    assert torch.equal(load_mask(tmp_path / "drawn_mask.png"), keep)


def test_composition_files_cannot_reach_outside_their_folder(tmp_path: Path) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    Image.new("RGBA", (8, 8), (255, 0, 0, 255)).save(outside / "secret.png")
    scene = tmp_path / "scene"
    scene.mkdir()
    (scene / "link.png").symlink_to(outside / "secret.png")
    head = {"format": "ipainter-nb/composition", "version": 1, "size": [32, 32]}
    for ref in ("../private/secret.png", str(outside / "secret.png"), "link.png", "../../../../etc/passwd"):
        (scene / "c.json").write_text(json.dumps({**head, "layers": [{"file": ref}]}))
        with pytest.raises(CompositionError, match="points outside the composition's folder") as err:
            Composition.from_json(scene / "c.json")
        assert "copy the cutout into that folder" in str(err.value)
    with pytest.raises(CompositionError, match="without folders"):
        Composition(size=32).export_batch(scene, "../escape")
    # a cutout beside the JSON still loads
    Image.new("RGBA", (8, 8), (0, 0, 255, 255)).save(scene / "ok.png")
    (scene / "c.json").write_text(json.dumps({**head, "layers": [{"file": "ok.png"}]}))
    assert len(Composition.from_json(scene / "c.json").layers) == 1


def test_a_download_into_a_path_that_cannot_hold_it_is_a_user_error(tmp_path: Path) -> None:
    a_file = tmp_path / "taken"
    a_file.write_bytes(b"keep me")

    def never(*args, **kwargs):
        raise AssertionError("nothing may be fetched")

    with pytest.raises(UserInputError, match="the download folder .*taken is a file, not a folder"):
        download_file("http://example.invalid/w.pt", a_file / "w.pt", progress=False, opener=never)
    with pytest.raises(UserInputError, match="is a folder"):
        download_file("http://example.invalid/w.pt", tmp_path, progress=False, opener=never)
    assert a_file.read_bytes() == b"keep me"


# --------------------------------------------------------------------------- faults: disk limits, signals, divergence


def test_a_file_size_limit_while_writing_outputs_is_one_line_and_leaves_no_temp(source: Path, model_path: Path,
                                                                              tmp_path: Path) -> None:
    dest = tmp_path / "out"

    def limit_files() -> None:  # like a full disk: writes past 200 bytes (a claim fits, a picture does not) fail
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "ipainter_nb", "paint", "-s", str(source), "-d", str(dest), "--model",
                           str(model_path), "--num-samples", "1", "--quiet"], capture_output=True, text=True, env=env,
                          preexec_fn=limit_files, timeout=120)
    assert done.returncode == 1
    assert "File too large" in _one_line(done.stderr) and "raise the limit" in done.stderr
    assert not list(dest.iterdir())  # no output, no temp file, no claim


@pytest.mark.usefixtures("terminal_signals")
def test_an_interrupt_during_a_write_that_must_not_be_cut_waits_for_its_end(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while torch.save writes
            save_png_atomic(torch.zeros(3, 4, 4), target)
            finished = True
    assert finished and target.is_file() and not _hidden(tmp_path)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_training_stops_on_a_nan_loss_and_clears_leftover_temps(tmp_path: Path, monkeypatch) -> None:
    from ipainter_nb import train as training

    out = tmp_path / "run"
    out.mkdir()
    leftover = out / ".last.pt.deadbeef-999999-abcdef12.tmp"  # a checkpoint write that was killed
    leftover.write_bytes(b"half")
    os.utime(leftover, (0, 0))
    monkeypatch.setattr(training.ProceduralScenes, "batch", lambda self, step, n: torch.full((n, 3, SIZE, SIZE), float("nan")))
    config = TrainConfig(out=str(out), unet=dict(NET), steps=3, batch_size=1, save_every=1, sample_every=0, bf16=False)
    with pytest.raises(TrainingDiverged, match="at step 1, so training stopped .*lower --lr"):
        train(config, progress=False)
    assert not leftover.exists() and not (out / "last.pt").exists()
    # the command ran as asked and failed, as on a full disk: 1, not 2 (the code of a refused argument)
    assert main(["train", "--out", str(out), "--steps", "3", "--batch-size", "1", "--image-size", "16", "--sample-every", "0",
                 "--threads", "1", "--device", "cpu", "--no-progress", "--no-bf16"]) == 1


def test_training_checks_its_output_folder_before_it_starts(tmp_path: Path, capsys) -> None:
    assert main(["train", "--out", "/proc/ipainter-run", "--steps", "1"]) == 2  # not even root may write there
    assert "--out /proc/ipainter-run" in _one_line(capsys.readouterr().err)


def test_devices_pipes_and_giant_files_are_refused_before_they_are_read(tmp_path: Path) -> None:
    from ipainter_nb.images import MAX_IMAGE_FILE_BYTES, ImageLoadError, load_picture

    giant = tmp_path / "giant.png"
    with open(giant, "wb") as f:
        f.truncate(MAX_IMAGE_FILE_BYTES + 1)  # sparse: takes no disk, would take the memory if read
    with pytest.raises(ImageLoadError, match="more than the .* such a file may have"):
        load_picture(giant)
    for endless in ("/dev/zero", "/dev/urandom"):  # read forever if read at all
        with pytest.raises(ImageLoadError, match="not a regular file"):
            load_picture(endless)
        with pytest.raises(CompositionError, match="not a regular file"):
            Composition.from_json(endless)
        with pytest.raises(UserInputError, match="not a regular file"):
            read_checkpoint_info("places256", config=endless)


def test_paint_hooks_that_cannot_be_called_are_refused_before_the_run(model_path: Path) -> None:
    model = load_model(model_path, device="cpu")
    image, keep = torch.zeros(3, SIZE, SIZE), torch.ones(1, SIZE, SIZE)
    for hooks, problem in (({"callback": 5}, "callback must be a function"), ({"on_samples": "x"}, "on_samples must be a function"),
                           ({"cancel": True}, "cancel must have an is_set")):
        with pytest.raises(UserInputError, match=problem):
            paint(model, image, keep, progress=False, **hooks)


def test_paths_the_file_system_refuses_are_one_line_before_any_work(source: Path, model_path: Path, tmp_path: Path,
                                                                    capsys) -> None:
    too_long = tmp_path / ("d" * 300)  # a name longer than 255 bytes: every stat of it fails
    loop = tmp_path / "loop"
    loop.symlink_to(loop)  # a link to itself
    for argv in (["paint", "-s", str(source), "-d", str(too_long), "--model", str(model_path)],
                 ["paint", "-s", str(too_long), "-d", str(tmp_path / "o"), "--model", str(model_path)],
                 ["schedule", "--plot", str(too_long / "s.png")],
                 ["train", "--out", str(too_long), "--steps", "1"],
                 ["paint", "-s", str(source), "-d", str(loop / "o"), "--model", str(model_path)]):
        assert main(argv) == 2, argv
        line = _one_line(capsys.readouterr().err)
        assert "too long" in line or "loop" in line or "Too many levels" in line, line
    assert not (tmp_path / "o").exists()


def test_a_user_without_a_home_folder_can_still_list_and_load_models(monkeypatch, tmp_path: Path, capsys) -> None:
    import pwd

    from ipainter_nb.core.presets import default_download_dir

    def no_such_user(uid: int) -> None:
        raise KeyError(uid)

    monkeypatch.delenv("HOME", raising=False)  # a container user with no HOME and no passwd entry
    monkeypatch.setattr(pwd, "getpwuid", no_such_user)
    monkeypatch.chdir(tmp_path)
    assert main(["models"]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(UserInputError, match="no home folder .* set HOME"):
        default_download_dir()
    assert load_model("demo", device="cpu").name == "demo"


def test_a_folder_where_an_output_goes_is_reported_not_taken_for_a_picture(source: Path, model_path: Path, tmp_path: Path,
                                                                           capsys) -> None:
    dest = tmp_path / "out"
    (dest / "good_0.png").mkdir(parents=True)  # someone's folder, named like the output
    (dest / "good_0.png" / "keep.txt").write_text("mine")
    assert main(["paint", "-s", str(source), "-d", str(dest), "--model", str(model_path), "--num-samples", "1"]) == 1
    captured = capsys.readouterr()
    assert "skipping good.png" in captured.err and "is a folder" in captured.err and "Traceback" not in captured.err
    assert "1 failed" in captured.out and (dest / "good_0.png" / "keep.txt").read_text() == "mine"


def test_errors_of_several_lines_reach_the_terminal_as_one(source: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("IPAINTER_WEIGHTS", str(tmp_path))  # the places searched are a list in the library's message
    monkeypatch.chdir(tmp_path)
    assert main(["paint", "-s", str(source), "-d", str(tmp_path / "o"), "--model", "places256"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Looked in: " in err and "To get it" in err
    wrong = tmp_path / "wrong.safetensors"
    save_file({"w": torch.zeros(3)}, str(wrong))
    assert main(["paint", "-s", str(source), "-d", str(tmp_path / "o"), "--model", str(wrong), "--config",
                 str(_net_json(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "does not fit this network" in err and "missing" in err


def _net_json(folder: Path) -> Path:
    path = folder / "net.json"
    path.write_text(json.dumps(NET))
    return path


def test_a_claim_whose_pid_now_belongs_to_another_process_is_taken_over(tmp_path: Path) -> None:
    from ipainter_nb.images import _HOST

    output = tmp_path / "p_0.png"
    claim = tmp_path / ".p_0.png.claim"
    # written by a run that ended long ago; its pid has since gone to a live process (here: this one)
    claim.write_text(json.dumps({"pid": os.getpid(), "host": _HOST, "token": "old", "time": 0.0}))
    taken = claim_output(output)
    assert taken is not None
    taken.release()
    # the same pid with a claim written after that process started is a live run: left alone
    claim.write_text(json.dumps({"pid": os.getpid(), "host": _HOST, "token": "live", "time": time.time()}))
    assert claim_output(output) is None and json.loads(claim.read_text())["token"] == "live"


def test_a_picture_or_mask_of_the_wrong_size_is_refused_from_its_header_without_decoding(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    import struct
    import zlib

    from PIL import ImageFile

    from ipainter_nb.images import ImageLoadError, load_picture_and_mask

    def png(width: int, height: int) -> bytes:  # a greyscale PNG of zeros, written by hand: no encoder at this size
        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        rows = zlib.compress(b"\0" * ((width + 1) * height))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", rows) + chunk(b"IEND", b""))

    _pair(tmp_path, "p")
    (tmp_path / "p_mask.png").write_bytes(png(6000, 6000))  # 36 megapixels, under PIL's bomb limit
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.raises(ImageLoadError, match="mask .*p_mask.png is 6000x6000 but picture .* is 16x16"):
        load_picture_and_mask(tmp_path / "p.png", tmp_path / "p_mask.png", SIZE)
    assert (6000, 6000) not in decoded and (SIZE, SIZE) in decoded
    # a photo stored sideways (EXIF orientation 6) is judged by the size it is shown at
    Image.new("RGB", (SIZE * 2, SIZE)).save(tmp_path / "side.jpg", exif=_orientation(6))
    Image.new("L", (SIZE, SIZE * 2), 255).save(tmp_path / "side_mask.png")
    image, keep = load_picture_and_mask(tmp_path / "side.jpg", tmp_path / "side_mask.png", (SIZE, SIZE * 2))
    assert image.shape == (3, SIZE * 2, SIZE) and keep.shape == (1, SIZE * 2, SIZE)


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif
