"""The ``ipainter`` command, run in-process through ``main(argv)`` on a tiny random model.

The model is random, so the painted pixels are noise; what is checked is the workflow:
which files appear, that kept pixels are exactly the input's, resuming, sharding,
determinism and the error lines. Images are 32x32 and schedules ~10 model calls to keep
the module fast on two busy cores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ipainter_nb.cli import image_seed, main
from ipainter_nb.core.composition import Composition
from ipainter_nb.core.models import PRESETS, save_model
from ipainter_nb.core.schedules import ScheduleConfig
from ipainter_nb.core.unet import build_unet

REPO = Path(__file__).resolve().parents[1]
SIZE = 32
TINY_SCHEDULE = ["--t-T", "8", "--jump-length", "2", "--jump-n-sample", "2", "--stop-resampling-at", "4"]  # 10 NFE
GOOD = ("lake", "valley")
BAD = ("broken.png", "lonely.png", "notes.txt", "skewed.png", "small.png")  # one error line each


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = dict(image_size=SIZE, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions=[],
               num_heads=1, num_head_channels=32, learn_sigma=False)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    # its default schedule is plain with 10 steps: what unset flags fall back to
    save_model(build_unet(cfg), path, name="tiny", unet_config=cfg, variance_type="fixed_small",
               default_schedule=ScheduleConfig(kind="plain", t_T=10))
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


def test_image_seed_is_stable_and_differs_per_name() -> None:
    assert image_seed(0, "lake") == image_seed(0, "lake")
    assert len({image_seed(0, "lake"), image_seed(0, "valley"), image_seed(1, "lake")}) == 3


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
