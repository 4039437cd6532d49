"""The writers that test_stops.py does not stall: ``schedule --plot`` and ``train --export`` folders,
and the one line a run prints about what an earlier run, killed outright, left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

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


def _leftover(folder: Path, target: str, pid: int) -> Path:
    """A temp file as ``atomic_write`` names it, as if process ``pid`` of this machine had been killed writing it."""
    path = folder / f".{target}.{_HOST}-{pid}-abcd1234.tmp"
    path.write_bytes(b"half a picture")
    return path


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
