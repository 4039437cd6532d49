"""The writers that test_stops.py does not stall: ``schedule --plot`` and ``train --export`` folders,
and the one line a run prints about what an earlier run, killed outright, left behind."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipainter_nb.cli import main
from ipainter_nb.images import _HOST

REPO = Path(__file__).resolve().parents[1]
STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]

# ``ipainter`` whose first fsync (a temp file fully written, not yet moved into place) stalls
# after touching STALL_MARK, so that a signal arrives mid-write.
STALLED_FSYNC = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    real_fsync = os.fsync
    def fsync_then_stall(fd):
        real_fsync(fd)
        Path(os.environ["STALL_MARK"]).write_text("stalled")
        time.sleep(120)
    os.fsync = fsync_then_stall
    from ipainter_nb.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(child.stdout)


def _lake(src: Path) -> None:
    """SOURCE with one 32x32 picture whose right half is to be painted."""
    src.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(src / "lake.png")
    Image.fromarray(np.tile(np.array([255, 0], np.uint8).repeat(16), (32, 1))).save(src / "lake_mask.png")


def _leftover(folder: Path, target: str, pid: int) -> Path:
    """A temp file as ``atomic_write`` names it, as if process ``pid`` of this machine had been killed writing it."""
    path = folder / f".{target}.{_HOST}-{pid}-abcd1234.tmp"
    path.write_bytes(b"half a picture")
    return path


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("signum", STOPS, ids=[s.name for s in STOPS])
def test_schedule_plot_stopped_mid_write_by_any_signal_leaves_nothing(signum, tmp_path):
    mark, plots = tmp_path / "stalled.mark", tmp_path / "plots"
    plots.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", STALL_MARK=str(mark))
    child = subprocess.Popen([sys.executable, "-c", STALLED_FSYNC, "schedule", "--t-T", "20", "--plot", str(plots / "s.png")],
                             env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the plot was never written"
            time.sleep(0.05)
        assert len(list(plots.iterdir())) == 1  # its temp file, written, not yet in place
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signum, err
    assert err.strip().splitlines() == [f"ipainter: {'interrupted' if signum == signal.SIGINT else f'stopped by {signum.name}'}"]
    assert list(plots.iterdir()) == []


def test_schedule_plot_removes_a_killed_plots_temp_file_with_one_line(tmp_path, capsys):
    dead = _leftover(tmp_path, "s.png", _dead_pid())
    live = _leftover(tmp_path, "t.png", os.getpid())  # a write in progress in this very process: kept
    assert main(["schedule", "--t-T", "20", "--plot", str(tmp_path / "s.png")]) == 0
    notices = [line for line in capsys.readouterr().out.splitlines() if "interrupted run left" in line]
    assert len(notices) == 1 and notices[0].startswith("ipainter: removed 1 half-written temporary file") and dead.name in notices[0]
    assert not dead.exists() and live.exists() and (tmp_path / "s.png").is_file()


def test_train_says_in_one_line_what_a_killed_run_left_in_its_folders(tmp_path, capsys):
    out, pid = tmp_path / "run", _dead_pid()
    (out / "samples").mkdir(parents=True)
    left = [_leftover(out, "last.pt", pid), _leftover(out / "samples", "step_1.png", pid), _leftover(tmp_path, "w.safetensors", pid)]
    claim = out / "samples" / ".step_2.png.claim"
    claim.write_text(f'{{"pid": {pid}, "host": "{_HOST}", "token": "gone", "time": 0}}')
    assert main(["train", "--out", str(out), "--steps", "1", "--batch-size", "1", "--image-size", "16", "--sample-every", "0",
                 "--threads", "1", "--device", "cpu", "--no-progress", "--no-bf16", "--export", str(tmp_path / "w.safetensors")]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "interrupted run left" in line]
    assert len(said) == 2, said  # one for the run's folder (with its samples), one for the export's folder
    assert "2 half-written temporary file(s) and 1 claim file(s)" in said[0] and "samples/.step_1.png" in said[0]
    assert not any(p.exists() for p in [*left, claim])


# ``ipainter`` in which a stop signal arrives the moment an output has been claimed, before the run has
# recorded that it holds the claim (the narrowest window a stop can hit).
SIGNAL_AFTER_CLAIM = textwrap.dedent("""
    import os, sys
    import ipainter_nb.batch as batch
    real_claim, calls = batch.claim_output, [0]
    def claim_then_signal(path):
        claim = real_claim(path)
        calls[0] += 1
        if calls[0] == int(os.environ["SIGNAL_AT"]):
            os.kill(os.getpid(), int(os.environ["SIGNUM"]))
        return claim
    batch.claim_output = claim_then_signal
    from ipainter_nb.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("signal_at, kept", [(1, []), (2, ["lake_0.png"])])
def test_a_stop_right_after_a_claim_leaves_no_claim_behind(signal_at, kept, tmp_path, tiny_model_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _lake(src)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", SIGNAL_AT=str(signal_at), SIGNUM=str(int(signal.SIGTERM)))
    done = subprocess.run([sys.executable, "-c", SIGNAL_AFTER_CLAIM, "paint", "-s", str(src), "-d", str(out), "--model",
                           str(tiny_model_path), "--device", "cpu", "--num-samples", "2", "--batch-size", "1", "--t-T", "4",
                           "--no-resampling", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert sorted(p.name for p in out.iterdir()) == kept  # no .lake_<k>.png.claim left


# ``ipainter`` whose second PNG save stalls (the first picture is done) after touching STALL_MARK.
STALLED_SAVE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from PIL import Image
    real_save, calls = Image.Image.save, [0]
    def save_then_stall(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        calls[0] += 1
        if calls[0] == 2:
            Path(os.environ["STALL_MARK"]).write_text("stalled")
            time.sleep(120)
    Image.Image.save = save_then_stall
    from ipainter_nb.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.usefixtures("terminal_signals")
def test_a_hangup_with_the_terminal_gone_still_stops_cleanly(tmp_path, tiny_model_path):
    """A dropped SSH session: the terminal is closed, then SIGHUP; the stop cannot print, yet cleans up."""
    src, out, mark = tmp_path / "src", tmp_path / "out", tmp_path / "stalled.mark"
    _lake(src)
    terminal, tty = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", STALL_MARK=str(mark))
    child = subprocess.Popen([sys.executable, "-c", STALLED_SAVE, "paint", "-s", str(src), "-d", str(out), "--model",
                              str(tiny_model_path), "--device", "cpu", "--num-samples", "2", "--batch-size", "1", "--t-T", "4",
                              "--no-resampling", "--quiet"], env=env, stdin=tty, stdout=tty, stderr=tty, start_new_session=True)
    os.close(tty)
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert child.poll() is None, "the run ended before its stalled write"
            assert time.monotonic() < deadline, "the run never reached its stalled write"
            time.sleep(0.05)
        os.close(terminal)  # the terminal goes away: writing to it now fails (EIO)
        child.send_signal(signal.SIGHUP)
        child.wait(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signal.SIGHUP
    assert sorted(p.name for p in out.iterdir()) == ["lake_0.png"]  # the finished picture, no temp or claim
