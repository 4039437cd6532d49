"""The ``ipainter`` command, run in-process through ``main(argv)`` on a tiny random model.

The model is random, so the painted pixels are noise; what is checked is the workflow:
which files appear, that kept pixels are exactly the input's, resuming, sharding,
determinism, and what happens with bad input, interruption and two runs at once (one
error line each, nothing lost). Images are 32x32 and schedules ~10 model calls to keep
the module fast on two busy cores; a subprocess is used only where a real process is
the point (pipes, signals, concurrency, a stdout that is not a terminal).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb import images
from ipainter_nb.batch import image_seed, output_path, take_shard
from ipainter_nb.cli import main
from ipainter_nb.core.checkpoints import save_model
from ipainter_nb.core.composition import Composition
from ipainter_nb.core.presets import PRESETS
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.unet import build_unet
from ipainter_nb.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]
SIZE = 32
TINY_SCHEDULE = ["--t-T", "8", "--jump-length", "2", "--jump-n-sample", "2", "--stop-resampling-at", "4"]  # 10 NFE
GOOD = ("lake", "valley")
BAD = ("broken.png", "lonely.png", "notes.txt", "skewed.png", "small.png")  # one error line each


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = dict(image_size=SIZE, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
               num_heads=1, num_head_channels=32, learn_sigma=False)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    # its default schedule is plain with 10 steps: what unset flags fall back to
    save_model(build_unet(cfg), path, name="tiny", unet_config=cfg, variance_type="fixed_small",
               default_schedule=ScheduleConfig(10, jump_n_sample=1, stop_resampling_at=None))
    return path


def _pair(folder: Path, name: str, size: int = SIZE, mask_size: int | None = None, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    m = mask_size or size
    mask = np.zeros((m, m), np.uint8)
    mask[: m // 2, 4:-4] = 255  # white = keep the top half (minus a rim)
    Image.fromarray(mask).save(folder / f"{name}_mask.png")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good pairs and five bad entries, as a user's folder might hold them."""
    src = tmp_path_factory.mktemp("src")
    for i, name in enumerate(GOOD):
        _pair(src, name, seed=i)
    (src / "lonely.png").write_bytes((src / "lake.png").read_bytes())  # no lonely_mask.png
    _pair(src, "skewed", mask_size=SIZE // 2)  # mask of another size
    _pair(src, "small", size=16)  # picture of another size than the model's
    (src / "notes.txt").write_text("not a picture")
    (src / "broken.png").write_bytes(b"this is not a PNG")
    (src / "broken_mask.png").write_bytes((src / "lake_mask.png").read_bytes())
    return src


def _paint(src: Path, dest: Path, model: Path, *extra: str) -> list[str]:
    return ["paint", "-s", str(src), "-d", str(dest), "--model", str(model), "--device", "cpu",
            "--num-samples", "2", *TINY_SCHEDULE, "--quiet", *extra]


@pytest.fixture(scope="module")
def painted(batch: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, str]:
    """One unsharded run over ``batch``: (dest, exit code, stdout, stderr)."""
    dest = tmp_path_factory.mktemp("out")
    out, err = io.StringIO(), io.StringIO()  # capsys is function-scoped; capture by hand
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(_paint(batch, dest, tiny_model))
    return dest, code, out.getvalue(), err.getvalue()


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_paint_folder_paints_good_pairs_and_reports_each_bad_one(batch: Path, painted) -> None:
    dest, code, out, err = painted
    assert code != 0  # some inputs failed
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}_{k}.png" for n in GOOD for k in range(2))
    for name in GOOD:
        keep = _pixels(batch / f"{name}_mask.png")[..., 0] > 127
        given = _pixels(batch / f"{name}.png")
        for k in range(2):
            result = _pixels(dest / f"{name}_{k}.png")
            assert np.array_equal(result[keep], given[keep])  # known pixels untouched
            assert not np.array_equal(result[~keep], given[~keep])  # the rest was painted
    assert not np.array_equal(_pixels(dest / "lake_0.png"), _pixels(dest / "lake_1.png"))
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == len(BAD)
    for bad, line in zip(BAD, lines):
        assert line.startswith(f"ipainter: skipping {bad}:")
    assert "16x16" in lines[BAD.index("small.png")] and "32x32" in lines[BAD.index("small.png")]
    assert "mask" in lines[BAD.index("lonely.png")]
    assert "2 painted, 0 skipped (outputs exist), 5 failed" in out


def test_rerun_without_overwrite_paints_nothing(batch: Path, tiny_model: Path, painted, capsys) -> None:
    dest = painted[0]
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    main(_paint(batch, dest, tiny_model))
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before
    assert "0 painted, 2 skipped (outputs exist)" in capsys.readouterr().out


def test_shards_cover_every_name_once_with_the_same_pictures(batch: Path, tiny_model: Path, painted, tmp_path: Path,
                                                             capsys) -> None:
    unsharded = painted[0]
    errors = []
    for i in range(2):
        main(_paint(batch, tmp_path / f"shard{i}", tiny_model, "--shard", f"{i}/2"))
        errors += capsys.readouterr().err.splitlines()
    files = [p for i in range(2) if (tmp_path / f"shard{i}").exists() for p in (tmp_path / f"shard{i}").iterdir()]
    assert sorted(p.name for p in files) == sorted(p.name for p in unsharded.iterdir())  # each once
    for p in files:
        assert np.array_equal(_pixels(p), _pixels(unsharded / p.name))  # per-name seeds
    assert sorted(line.split(":")[1] for line in errors) == sorted(f" skipping {b}" for b in BAD)


def test_shard_auto_reads_torchrun_env(batch: Path, tiny_model: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "7")  # 7 names: shard 3 holds only 'notes.txt'
    assert main(_paint(batch, tmp_path, tiny_model, "--shard", "auto")) == 1
    captured = capsys.readouterr()
    assert "shard 3/7: 1 of 7 names" in captured.out and "notes.txt" in captured.err


def test_unset_schedule_flags_take_the_models_defaults(tiny_model: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "one")
    args = ["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(tiny_model), "--device", "cpu",
            "--num-samples", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "plain: t_T=10" in out and "10 NFE" in out  # the tiny model's plain 10-step default
    first = tmp_path / "out" / "one_0.png"
    stamp = first.stat().st_mtime_ns
    assert main(args + ["--overwrite", "--t-T", "4"]) == 0
    assert "4 NFE" in capsys.readouterr().out
    assert first.stat().st_mtime_ns != stamp  # --overwrite repaints


def test_a_pipe_or_a_device_among_the_pictures_is_named_not_taken_for_a_missing_file(tiny_model: Path, tmp_path: Path,
                                                                                      capsys) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")
    _pair(src, "pipe")
    (src / "pipe.png").unlink()
    os.mkfifo(src / "pipe.png")  # said "mask without a picture" of its mask, as if the picture were missing
    _pair(src, "zero")
    (src / "zero.png").unlink()
    (src / "zero.png").symlink_to("/dev/zero")
    args = ["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(tiny_model), "--t-T", "2",
            "--jump-length", "1", "--jump-n-sample", "1", "--num-samples", "1", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "pipe.png" in err and "zero.png" in err and err.count("is not a regular file (a named pipe, a device") == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lake_0.png"]


def test_a_name_with_a_newline_is_said_on_one_line(tmp_path: Path, tiny_model: Path, capsys) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad\nname.png").write_bytes(b"not a picture")
    (src / "bad\nname_mask.png").write_bytes(b"not a mask")
    assert main(["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(tiny_model), "--t-T", "2",
                 "--quiet"]) == 1
    skipped = [line for line in capsys.readouterr().err.splitlines() if "skipping" in line]
    assert len(skipped) == 1 and skipped[0].startswith("ipainter: skipping bad\\nname.png: ")  # "bad" and "name.png: ..."
    assert "bad\\nname.png: not a readable image" in skipped[0]


def test_image_seed_is_stable_and_differs_per_name() -> None:
    assert image_seed(0, "lake") == image_seed(0, "lake")
    assert len({image_seed(0, "lake"), image_seed(0, "valley"), image_seed(1, "lake")}) == 3
    for seed in (-1, True, 2.0, "1", 2**31):  # the seeds --seed takes, no others
        with pytest.raises(UserInputError, match="seed"):
            image_seed(seed, "lake")


def test_outputs_and_shards_are_named_from_checked_parts() -> None:
    assert output_path("outs", "lake", 2) == Path("outs") / "lake_2.png"  # a str folder too
    assert take_shard(["a", "b", "c", "d"], (1, 2)) == ["b", "d"]
    for call, message in ((lambda: output_path("outs", "a/b", 0), "name must be a picture's name"),
                          (lambda: output_path("outs", "lake", -1), "k=-1 is out of range"),
                          (lambda: take_shard([], "0/2"), r"shard must be \(i, n\)"),
                          (lambda: take_shard([], (2, 2)), r"i=2 is out of range: it must be in 0\.\.1")):
        with pytest.raises(UserInputError, match=message):
            call()


def test_an_output_file_of_another_kind_is_not_replaced(tmp_path: Path, capsys) -> None:
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("my thesis")
    (tmp_path / "notes.png").write_text("not a picture")
    for target, message in ((thesis, "--plot writes a PNG picture; name a .png file"),
                            (tmp_path / "plot.jpg", "--plot writes a PNG picture; name a .png file"),
                            (tmp_path / "notes.png", "exists and is not a PNG picture, so it is not an earlier output")):
        assert main(["schedule", "--t-T", "20", "--plot", str(target)]) == 2
        assert message in capsys.readouterr().err
    assert thesis.read_text() == "my thesis" and (tmp_path / "notes.png").read_text() == "not a picture"
    assert not (tmp_path / "plot.jpg").exists()
    for _ in range(2):  # an earlier plot is replaced
        assert main(["schedule", "--t-T", "20", "--plot", str(tmp_path / "plot.png")]) == 0


def test_schedule_prints_paper_and_full_repaint_nfe(tmp_path: Path, capsys) -> None:
    assert main(["schedule", "--plot", str(tmp_path / "schedule.png")]) == 0
    out = capsys.readouterr().out
    assert "model calls (NFE): 1510" in out and "2410" in out
    with Image.open(tmp_path / "schedule.png") as im:
        assert im.format == "PNG"
    assert main(["schedule", "--no-resampling", "--t-T", "50"]) == 0
    assert "model calls (NFE): 50" in capsys.readouterr().out


def test_bad_arguments_are_one_line_and_exit_2(batch: Path, tiny_model: Path, tmp_path: Path, capsys) -> None:
    assert main(["schedule", "--jump-length", "300"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "jump_length=300" in err and "Traceback" not in err
    assert main(["schedule", "--full-repaint", "--stop-resampling-at", "5"]) == 2
    assert main(_paint(batch, tmp_path, tiny_model, "--shard", "2/2")) == 2
    assert "shards are numbered from 0" in capsys.readouterr().err


def test_missing_weights_exit_2_with_the_message(batch: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    assert main(_paint(batch, tmp_path / "out", tmp_path / "nope.safetensors")) == 2
    err = capsys.readouterr().err
    assert err.startswith("ipainter: error:") and "nope.safetensors" in err and "Traceback" not in err
    monkeypatch.setitem(PRESETS, "demo", dataclasses.replace(PRESETS["demo"], path=tmp_path / "gone.safetensors"))
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    assert "weights are missing" in capsys.readouterr().err


def test_demo_writes_every_file(tiny_model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(tiny_model), "--out", str(out), "--num-samples", "2",
                 "--schedule-steps", "6", "--device", "cpu", "--quiet"]) == 0
    expected = ["composition.png", "mask.png", "composition.json", "sample_0.png", "sample_1.png",
                "samples_grid.png", "timesteps.gif", "frequency.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    printed = capsys.readouterr().out
    assert all(name in printed for name in expected) and "6 NFE" in printed
    with Image.open(out / "timesteps.gif") as gif:
        assert gif.n_frames > 1
    keep = _pixels(out / "mask.png")[..., 0] > 127
    assert 0 < keep.mean() < 1  # the cutouts landed on the 32x32 canvas
    assert np.array_equal(_pixels(out / "sample_0.png")[keep], _pixels(out / "composition.png")[keep])
    assert len(Composition.from_json(out / "composition.json")) == 5


def test_models_lists_presets_and_found_weights(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("IPAINTER_WEIGHTS", str(tmp_path))
    (tmp_path / "celeba256_250000.pt").write_bytes(b"0" * 1024)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"found {tmp_path / 'celeba256_250000.pt'}" in out
    assert all(name in out for name in PRESETS)


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "ipainter_nb", "schedule"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "1510" in done.stdout


# --------------------------------------------------------------------------- bad input: one line each, before any work


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("ipainter: error:") and "Traceback" not in err, err
    return lines[0]


def test_a_dest_that_cannot_hold_files_is_refused_before_the_model_loads(batch: Path, tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "taken.png"
    a_file.write_bytes(b"x")
    absent_model = tmp_path / "absent.safetensors"  # loading it would fail: the DEST check must come first
    cases = {
        a_file: "is a file",  # DEST is a file
        a_file / "out": "is a file",  # DEST under a file
        tmp_path / "missing" / "out": "does not exist",  # DEST on a missing parent
        Path("/proc"): "cannot write",  # a folder no one may write in, not even root
    }
    for dest, problem in cases.items():
        assert main(_paint(batch, dest, absent_model)) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert "--dest" in line and problem in line and "absent" not in line, line


def test_a_missing_or_unreadable_source_is_one_line(tmp_path: Path, tiny_model: Path, capsys) -> None:
    (tmp_path / "file.png").write_bytes(b"x")
    for source in (tmp_path / "nowhere", tmp_path / "file.png"):
        assert main(_paint(source, tmp_path / "out", tiny_model)) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert "--source" in line and str(source) in line
    assert not (tmp_path / "out").exists()


def test_a_plot_path_that_cannot_be_written_is_refused_before_plotting(tmp_path: Path, capsys) -> None:
    for plot, problem in ((tmp_path / "missing" / "s.png", "does not exist"), (tmp_path, "is a folder")):
        assert main(["schedule", "--plot", str(plot)]) == 2
        assert problem in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "missing").exists()


def test_a_name_that_is_not_utf8_is_painted_like_the_others(tiny_model: Path, tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _pair(src, "lake")
    odd = os.fsencode(src) + b"/caf\xe9"  # Latin-1 bytes: not valid UTF-8
    for suffix in (b".png", b"_mask.png"):
        os.rename(os.fsencode(src / f"lake{suffix.decode()}"), odd + suffix)
    _pair(src, "valley", seed=1)
    # a real process whose stdout is strict UTF-8: printing the name raised UnicodeEncodeError before
    done = subprocess.run([sys.executable, "-m", "ipainter_nb", *_paint(src, dest, tiny_model)[:-1]], cwd=REPO,
                          capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1"},
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert sorted(os.listdir(os.fsencode(dest))) == sorted([b"caf\xe9_0.png", b"caf\xe9_1.png", b"valley_0.png", b"valley_1.png"])
    assert b"caf\\udce9" in done.stdout  # shown escaped, not as a crash


def test_a_checkpoint_under_another_name_needs_preset_or_config(batch: Path, tmp_path: Path, capsys) -> None:
    cfg = dict(image_size=SIZE, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
               num_heads=1, num_head_channels=32, learn_sigma=False)
    torch.manual_seed(0)
    weights = tmp_path / "my_model.pt"
    torch.save(build_unet(cfg).state_dict(), weights)  # a plain state dict, as guided-diffusion saves them
    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")
    assert main(_paint(src, tmp_path / "out", weights)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "my_model.pt" in line and "--preset" in line and "--config" in line
    config_file = tmp_path / "net.json"
    config_file.write_text(json.dumps(cfg))
    assert main(_paint(src, tmp_path / "out", weights, "--config", str(config_file))) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lake_0.png", "lake_1.png"]


def test_files_that_are_not_checkpoints_are_one_line_each(batch: Path, tmp_path: Path, capsys) -> None:
    import pickle

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    with_code = tmp_path / "old.pt"
    with_code.write_bytes(pickle.dumps({"state": dataclasses.make_dataclass}))  # a pickle that names a function
    fake = tmp_path / "random.safetensors"
    fake.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}" + os.urandom(64))
    for model in (garbage, with_code):
        assert main(_paint(batch, tmp_path / "out", model)) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert model.name in line and "weights_only=False" not in line
    assert main(["schedule", "--model", str(fake)]) == 2
    assert fake.name in _one_error_line(capsys.readouterr().err)


def test_train_arguments_are_refused_before_training(tmp_path: Path, capsys) -> None:
    for flags in (["--batch-size", "0"], ["--save-every", "0"], ["--image-size", "17"], ["--steps", "-5"]):
        assert main(["train", "--out", str(tmp_path / "run"), *flags]) == 2
        err = capsys.readouterr().err
        assert flags[0] in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_corrupt_training_checkpoint_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"PK\x03\x04 half a zip")
    assert main(["train", "--out", str(tmp_path / "run"), "--steps", "1", "--no-progress"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "last.pt" in line and "--out" in line


def test_with_stderr_closed_errors_are_dropped_not_written_to_stdout(tmp_path: Path) -> None:
    done = subprocess.run(f"'{sys.executable}' -m ipainter_nb paint -s '{tmp_path / 'nosuch'}' -d '{tmp_path / 'out'}' 2>&-",
                          shell=True, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")  # the error line went to stdout, which a pipeline may read


def test_ctrl_c_while_the_command_loads_ends_it_as_interrupted_without_a_traceback() -> None:
    code = """
import builtins, os, signal, sys
from ipainter_nb import __main__ as entry
load = builtins.__import__
def loading(name, *args, **kwargs):
    if name == "cli":  # the command's modules: Ctrl-C now
        os.kill(os.getpid(), signal.SIGINT)
    return load(name, *args, **kwargs)
builtins.__import__ = loading
sys.argv = ["ipainter", "models"]
sys.exit(entry.run())
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr, done.stdout) == (130, "ipainter: interrupted\n", "")  # a KeyboardInterrupt traceback


def test_models_into_a_closed_pipe_is_quiet() -> None:
    done = subprocess.run(f"'{sys.executable}' -m ipainter_nb models | head -1", shell=True, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("weights are looked for in")
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored" line


@pytest.mark.parametrize("argv", [["models"], ["schedule"], ["--help"], ["--version"], ["paint", "--help"],
                                  ["train", "--help"]])
def test_every_output_into_a_pipe_whose_reader_has_gone_ends_quietly_with_141(argv) -> None:
    """As a program that SIGPIPE ends (``yes | head -1``): 128 + 13, what ``set -o pipefail`` scripts expect.
    It was 1 ("failed") for a command's output and 0 for --help and --version, whose failed write argparse dropped."""
    read, write = os.pipe()
    os.close(read)  # the reader went away before the first line
    try:
        done = subprocess.run([sys.executable, "-m", "ipainter_nb", *argv], stdout=write, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (128 + signal.SIGPIPE, "")


def test_the_schedule_of_only_t_T_keeps_the_models_proportions(capsys) -> None:
    assert main(["schedule", "--model", "demo", "--t-T", "20"]) == 0
    out = capsys.readouterr().out
    default = PRESETS["demo"].default_schedule
    expected = ScheduleConfig.for_t_T(20, like=default)
    assert f"--stop-resampling-at {expected.stop_resampling_at}" in out  # scaled, not the default 40 (above t_T)
    assert f"stop {default.stop_resampling_at} -> {expected.stop_resampling_at}" in out  # and it says so


def test_a_one_step_schedule_paints(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")
    assert main(["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(tiny_model), "--device", "cpu",
                 "--num-samples", "1", "--t-T", "1", "--no-resampling", "--quiet"]) == 0
    keep = _pixels(src / "lake_mask.png")[..., 0] > 127
    assert np.array_equal(_pixels(tmp_path / "out" / "lake_0.png")[keep], _pixels(src / "lake.png")[keep])


# --------------------------------------------------------------------------- nothing lost


def test_micro_batches_paint_the_same_pictures_and_write_each_as_it_is_done(tiny_model: Path, tmp_path: Path,
                                                                           monkeypatch, capsys) -> None:
    import ipainter_nb.commands.paint as cli  # the module where paint is called

    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")
    assert main(_paint(src, tmp_path / "whole", tiny_model, "--num-samples", "3")) == 0
    real_paint, calls = cli.paint, []

    def paint_then_stop(*args, **kwargs):
        if calls:  # the second micro-batch: the user presses Ctrl-C
            raise KeyboardInterrupt
        calls.append(kwargs["num_samples"])
        return real_paint(*args, **kwargs)

    monkeypatch.setattr(cli, "paint", paint_then_stop)
    parts = tmp_path / "parts"
    assert main(_paint(src, parts, tiny_model, "--num-samples", "3", "--batch-size", "2")) == 130
    assert "rerun the same command" in capsys.readouterr().err
    assert sorted(p.name for p in parts.iterdir()) == ["lake_0.png", "lake_1.png"]  # the finished batch is kept
    monkeypatch.setattr(cli, "paint", real_paint)
    assert main(_paint(src, parts, tiny_model, "--num-samples", "3", "--batch-size", "2")) == 0  # resumes
    for k in range(3):
        assert np.array_equal(_pixels(parts / f"lake_{k}.png"), _pixels(tmp_path / "whole" / f"lake_{k}.png"))


def _spawn_paint(src: Path, dest: Path, model: Path, *extra: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ipainter_nb", *_paint(src, dest, model)[:-1], *extra],
                            cwd=REPO, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_two_runs_into_one_dest_share_the_work_and_replace_nothing(tiny_model: Path, tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    names = [f"p{i}" for i in range(4)]
    for i, name in enumerate(names):
        _pair(src, name, seed=i)
    runs = [_spawn_paint(src, dest, tiny_model, "--seed", str(seed), "--batch-size", "1") for seed in (0, 1)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    written = sum(int(line.split(": ")[1].split(" file")[0]) for out, _ in outputs
                  for line in out.splitlines() if line.startswith("painted "))
    assert written == 2 * len(names)  # every output painted once, by one of the two runs
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}_{k}.png" for n in names for k in range(2))
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(_paint(src, dest, tiny_model, "--seed", "7")) == 0  # a later run with another seed
    assert "0 painted" in out.getvalue() and {p.name: p.read_bytes() for p in dest.iterdir()} == before


@pytest.mark.usefixtures("terminal_signals")
def test_sigterm_mid_run_keeps_finished_pictures_and_leaves_no_temp_files(tiny_model: Path, tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    dest.mkdir()
    _pair(src, "lake")
    stale = dest / f".lake_9.png.{images._HOST}-4242-a1b2c3d4.tmp"  # left by a run killed long ago
    stale.write_bytes(b"half a picture")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    run = _spawn_paint(src, dest, tiny_model, "--num-samples", "50", "--batch-size", "1", "--t-T", "30")
    deadline = time.monotonic() + 240
    while not (dest / "lake_0.png").exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=120)
    assert run.returncode != 0 and (dest / "lake_0.png").exists()
    assert not stale.exists()
    assert [p.name for p in dest.iterdir() if p.name.startswith(".")] == []  # no temp or claim files
    for path in dest.iterdir():
        with Image.open(path) as im:
            im.load()  # every file there is a whole picture


def test_progress_in_a_log_file_is_a_few_lines(tiny_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")
    with open(tmp_path / "log.txt", "w") as log:
        run = _spawn_paint(src, tmp_path / "out", tiny_model, "--num-samples", "1", "--t-T", "30", stdout=log)
        _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    lines = (tmp_path / "log.txt").read_text().splitlines() + err.replace("\r", "\n").splitlines()
    assert len([line for line in lines if line.strip()]) <= 12, lines


def test_demo_never_replaces_files_without_overwrite(tiny_model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "sample_0.png").write_bytes(b"someone else's picture")
    args = ["demo", "--model", str(tiny_model), "--out", str(out), "--num-samples", "1", "--schedule-steps", "4",
            "--device", "cpu", "--quiet"]
    assert main(args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "sample_0.png" in line and "--overwrite" in line
    assert (out / "sample_0.png").read_bytes() == b"someone else's picture"
    assert sorted(p.name for p in out.iterdir()) == ["sample_0.png"]
    assert main([*args, "--overwrite"]) == 0
    with Image.open(out / "sample_0.png") as im:
        assert im.size == (SIZE, SIZE)
    (out / "mask.png").unlink()
    (out / "mask.png").symlink_to(tmp_path / "not yet made.png")  # a link to nowhere is the user's too
    assert main(args) == 2 and "mask.png" in _one_error_line(capsys.readouterr().err)
    assert (out / "mask.png").is_symlink()


def test_a_full_disk_is_one_line_with_a_hint_and_debug_shows_the_traceback(tiny_model: Path, tmp_path: Path,
                                                                           monkeypatch, capsys) -> None:
    import errno

    from ipainter_nb.images import OutputClaim

    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")

    def disk_full(self, picture):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(OutputClaim, "save_png", disk_full)
    assert main(_paint(src, tmp_path / "out", tiny_model)) == 1
    err = capsys.readouterr().err
    assert _one_error_line(err).startswith("ipainter: error: No space left on device") and "lake_0.png" in err
    assert "ipainter: hint: free some space" in err
    assert main(["--debug", *_paint(src, tmp_path / "out", tiny_model)]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # no claim or temp file left behind


def test_a_bug_keeps_its_traceback(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    import ipainter_nb.commands.paint as cli  # the module where paint is called

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "paint", broken)
    src = tmp_path / "src"
    src.mkdir()
    _pair(src, "lake")
    with pytest.raises(ZeroDivisionError):
        main(_paint(src, tmp_path / "out", tiny_model))
