"""How a run ends: every stop signal in every command that writes, a hard kill and the next run,
a refused run that leaves the file system as it was, and warnings said in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ipainter_nb as ip
from ipainter_nb.cli import main
from ipainter_nb.signals import STOP_SIGNALS

REPO = Path(__file__).resolve().parents[1]
STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
SCHEDULE = ["--t-T", "6", "--jump-length", "2", "--jump-n-sample", "2", "--stop-resampling-at", "2"]

# Runs ``ipainter`` with PIL's save stalled once the STALL_AT-th picture's bytes are in its temp file,
# so that a signal arrives mid-write; the marker file says the stall has begun.
STALLED_IPAINTER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from PIL import Image
    real_save, calls = Image.Image.save, [0]
    def save_then_stall(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        calls[0] += 1
        if calls[0] == int(os.environ["STALL_AT"]):
            Path(os.environ["STALL_MARK"]).write_text("stalled")
            time.sleep(float(os.environ.get("STALL_S", "120")))
    Image.Image.save = save_then_stall
    from ipainter_nb.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _pair(folder: Path, name: str = "lake", size: int = 32) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    mask = np.zeros((size, size), np.uint8)
    mask[: size // 2] = 255
    Image.fromarray(mask).save(folder / f"{name}_mask.png")
    return folder


def _start_stalled(args: list[str], tmp_path: Path, stall_at: int, stall_s: float = 120,
                   preexec_fn=None) -> tuple[subprocess.Popen, Path]:
    mark = tmp_path / "stalled.mark"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", STALL_AT=str(stall_at), STALL_MARK=str(mark),
               STALL_S=str(stall_s))
    child = subprocess.Popen([sys.executable, "-c", STALLED_IPAINTER, *args], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    deadline = time.monotonic() + 120
    while not mark.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the run never reached its stalled write"
        time.sleep(0.05)
    mark.unlink()
    return child, mark


def _commands(tmp_path: Path, model: Path) -> dict[str, tuple[list[str], Path, int, list[str]]]:
    """command -> (arguments, output folder, which write stalls, the finished files that must stay)."""
    src = _pair(tmp_path / "src")
    paint = ["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(model), "--device", "cpu",
             "--num-samples", "2", "--batch-size", "1", *SCHEDULE, "--quiet"]
    demo = ["demo", "--out", str(tmp_path / "out"), "--device", "cpu", "--num-samples", "1", "--schedule-steps", "4",
            "--frames", "2", "--quiet"]
    train = ["train", "--out", str(tmp_path / "out"), "--steps", "50", "--batch-size", "1", "--image-size", "16",
             "--sample-every", "1", "--save-every", "1000", "--threads", "1", "--device", "cpu", "--no-progress", "--no-bf16"]
    return {"paint": (paint, tmp_path / "out", 2, ["lake_0.png"]),
            "demo": (demo, tmp_path / "out", 2, ["composition.png"]),
            "train": (train, tmp_path / "out", 1, [])}


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("command", ["paint", "demo", "train"])
@pytest.mark.parametrize("signum", STOPS, ids=[s.name for s in STOPS])
def test_every_stop_signal_mid_write_keeps_finished_outputs_and_leaves_no_temp_or_claim(command, signum, tmp_path,
                                                                                      tiny_model_path):
    args, out, stall_at, kept = _commands(tmp_path, tiny_model_path)[command]
    child, _ = _start_stalled(args, tmp_path, stall_at)
    try:
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err, err
    assert _hidden(out) == []  # no half-written picture, no claim
    for name in kept:
        assert (out / name).is_file()


def test_the_next_run_removes_what_a_killed_run_left_and_says_so_in_one_line(tmp_path, tiny_model_path):
    args, out, stall_at, _ = _commands(tmp_path, tiny_model_path)["paint"]
    child, _ = _start_stalled(args, tmp_path, stall_at)
    child.kill()  # SIGKILL: no handler runs
    child.communicate(timeout=60)
    left = _hidden(out)
    assert any(name.endswith(".claim") for name in left) and any(name.endswith(".tmp") for name in left), left
    done = subprocess.run([sys.executable, "-m", "ipainter_nb.cli", *args], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stdout.splitlines() if "interrupted run left" in line]
    assert len(notices) == 1 and "claim file" in notices[0] and "temporary file" in notices[0], done.stdout
    assert _hidden(out) == [] and sorted(p.name for p in out.iterdir()) == ["lake_0.png", "lake_1.png"]


def test_the_library_installs_no_signal_handler(tiny_model):
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    image, keep = ip.Composition(size=tiny_model.image_size).render()
    ip.paint(tiny_model, image, keep, times=ip.schedules.repaint(4, 2, 2), num_samples=1, seed=0, progress=False)
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before


def _refused(tmp_path: Path, model: Path) -> dict[str, list[str]]:
    src = _pair(tmp_path / "src")
    out = str(tmp_path / "out")  # absent: a refused run must not create it
    paint = ["paint", "-s", str(src), "-d", out, "--model", str(model), "--device", "cpu"]
    return {
        "paint: stop above t_T": [*paint, "--t-T", "10", "--jump-length", "2", "--jump-n-sample", "2", "--stop-resampling-at", "20"],
        "paint: jump longer than the walk": [*paint, "--t-T", "10", "--jump-length", "20", "--jump-n-sample", "2"],
        "paint: t_T beyond the model": [*paint, "--t-T", "5000"],
        "paint: unknown model": ["paint", "-s", str(src), "-d", out, "--model", str(tmp_path / "nope.pt")],
        "paint: no such device": [*paint[:-2], "--device", "tpu"],
        "demo: t_T beyond the model": ["demo", "--out", out, "--schedule-steps", "5000"],
        "demo: unknown model": ["demo", "--out", out, "--model", "no-such-model"],
        "train: no such data folder": ["train", "--out", out, "--data", str(tmp_path / "no-pictures"), "--steps", "1"],
        "train: unknown initial weights": ["train", "--out", out, "--init-from", str(tmp_path / "nope.safetensors")],
        "train: size and weights both": ["train", "--out", out, "--init-from", "demo", "--image-size", "32"],
        "download: bad checksum": ["download", "places256", "--dest-dir", out, "--sha256", "abc", "--url", "https://example.invalid/x"],
        "download: unknown preset": ["download", "no-such-preset", "--dest-dir", out],
        "schedule: jump longer than the walk": ["schedule", "--t-T", "10", "--jump-length", "20", "--plot",
                                                str(tmp_path / "plot.png")],
    }


REFUSED = ["paint: stop above t_T", "paint: jump longer than the walk", "paint: t_T beyond the model",
           "paint: unknown model", "paint: no such device", "demo: t_T beyond the model", "demo: unknown model",
           "train: no such data folder", "train: unknown initial weights", "train: size and weights both",
           "download: bad checksum", "download: unknown preset", "schedule: jump longer than the walk"]


@pytest.mark.parametrize("case", REFUSED)  # names only: building the cases writes into tmp_path
def test_a_refused_run_leaves_the_file_system_as_it_found_it(case, tmp_path, tiny_model_path, capsys):
    refused = _refused(tmp_path, tiny_model_path)
    assert sorted(refused) == sorted(REFUSED)
    args = refused[case]
    before = _tree(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ipainter: error:") and len(err.strip().splitlines()) == 1, err
    assert _tree(tmp_path) == before


def test_a_huge_picture_is_one_warning_line_in_the_products_words(tmp_path, tiny_model_path):
    src = _pair(tmp_path / "src")  # 1024 pixels: over a limit of 800, under twice it
    script = ("import sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = 800; "
              "from ipainter_nb.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, "paint", "-s", str(src), "-d", str(tmp_path / "out"),
                           "--model", str(tiny_model_path), "--device", "cpu", "--num-samples", "1", *SCHEDULE, "--quiet"],
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    warned = [line for line in lines if line.startswith("ipainter: warning:")]
    assert [line for line in warned if "lake.png" in line] == warned[:1], done.stderr  # the picture's line, once
    assert len(warned) == len(set(warned)) == 2 and "lake_mask.png" in warned[1], done.stderr  # and its mask's
    assert not any("Warning:" in line or line.startswith("  ") for line in lines), done.stderr
