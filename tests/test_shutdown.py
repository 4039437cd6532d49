"""Every thread the Painter starts ends before the interpreter does: a program that makes an edit and
exits at once, or closes the Painter while the edit's pause call runs, exits 0 and prints nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ipainter_nb.widgets.worker import Debouncer

REPO = Path(__file__).resolve().parents[1]
RUNS = 10

# One process imports the toolkit and loads the demo model once, then forks RUNS children. Each
# child builds a Painter, makes an edit (its pause call starts after a click's short pause, then
# renders, plans and queues a draft), waits until that call runs (odd runs) or a moment that differs
# from run to run (even runs), and then either ends (falling off the end of the script: the
# interpreter's own exit, atexit hooks included) or calls close() and goes on for a moment.
# Each child's stderr goes to a file of its own; its exit status is collected by the parent.
PROGRAM = textwrap.dedent("""
    import json, os, sys, threading, time
    import torch
    torch.set_num_threads(1)  # no thread pool in the parent before fork
    import ipainter_nb as ip
    from ipainter_nb.demo.cutouts import make_cutout
    from ipainter_nb.widgets.app import Painter
    model = ip.load_model("demo", device="cpu")
    how, runs, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    statuses = []
    for run in range(runs):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(os.open(os.path.join(folder, f"stderr{run}"), os.O_WRONLY | os.O_CREAT, 0o600), 2)
            painter = Painter(model, cutouts={}, out_dir=folder, edit_pause_s=0.0)
            scene, in_pause = painter.composition, threading.Event()
            render = scene.render
            def slow_render(*args, **kwargs):  # the pause call's render takes a while, as a big scene's does
                if threading.current_thread() is not threading.main_thread():
                    in_pause.set()
                    time.sleep(0.1)
                return render(*args, **kwargs)
            scene.render = slow_render
            scene.add(ip.Layer(make_cutout("sun"), x=4, y=4))  # an edit
            if run % 2:
                in_pause.wait(30)  # mid-pause: the pause call runs
            else:
                time.sleep(0.005 * run)  # at once, or a little later
            if how == "close":
                painter.close()
                time.sleep(0.3)  # the program goes on (a notebook does): a thread left running would speak now
            break
        statuses.append(os.waitpid(pid, 0)[1])
    else:
        print(json.dumps(statuses))
""")



@pytest.mark.parametrize("how", ["exit", "close"])
def test_a_painter_ended_mid_edit_exits_cleanly_every_time(how, tmp_path):
    done = subprocess.run([sys.executable, "-c", PROGRAM, how, str(RUNS), str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"), timeout=600)
    assert done.returncode == 0, done.stderr
    statuses = json.loads(done.stdout.strip().splitlines()[-1])
    codes = [os.waitstatus_to_exitcode(status) for status in statuses]
    errors = {run: (tmp_path / f"stderr{run}").read_text() for run in range(RUNS)}
    assert codes == [0] * RUNS, (codes, errors)
    assert {run: text for run, text in errors.items() if text} == {}


def test_closing_an_edit_pause_waits_for_its_call_and_refuses_later_edits():
    started, calls = threading.Event(), []

    def call() -> None:
        started.set()
        time.sleep(0.2)  # renders and plans
        calls.append(time.monotonic())

    pause = Debouncer(0.0, call)
    pause.trigger()
    assert started.wait(10)
    pause.close()
    closed_at = time.monotonic()
    assert len(calls) == 1 and calls[0] <= closed_at  # the call had ended when close() returned
    pause.trigger()  # an edit after close: no call
    time.sleep(0.1)
    assert len(calls) == 1 and pause.closed and not pause.pending


# A program that paints in a daemon thread (a web handler, a notebook's helper) and ends while the
# run is between two of its steps, or in one: the interpreter's exit stops the run after that step.
THREAD_PROGRAM = textwrap.dedent("""
    import sys, threading, time
    import torch
    import ipainter_nb as ip
    model = ip.load_model(sys.argv[1], device="cpu")
    keep = torch.zeros(1, 32, 32)
    keep[..., :16] = 1
    started = threading.Event()
    def on_step(step):
        started.set()
    def paint():
        ip.paint(model, torch.zeros(3, 32, 32), keep, times=ip.schedules.plain(20), num_samples=2, callback=on_step)
        print("the run ended before the program did", file=sys.stderr)
    threading.Thread(target=paint, daemon=True).start()
    started.wait(60)
    time.sleep(float(sys.argv[2]))
""")


@pytest.mark.parametrize("after_s", [0.0, 0.05, 0.2])
def test_a_program_that_ends_while_a_thread_paints_exits_cleanly(after_s, tiny_model_path):
    done = subprocess.run([sys.executable, "-c", THREAD_PROGRAM, str(tiny_model_path), str(after_s)], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"), timeout=120)
    assert done.returncode == 0, done.stderr  # it aborted: "terminate called without an active exception", 134
    assert "terminate called" not in done.stderr and "the run ended" not in done.stderr


# The library's other long computations in a daemon thread, as THREAD_PROGRAM paints in one: the
# program ends while the work is under way. ``work`` calls the library only (its arguments are made
# before): a torch call of the program's own in that thread would be cut as any would.
WORK_IN_A_THREAD = {
    "train": """
        import os, tempfile
        from ipainter_nb.train import TrainConfig, train
        config = TrainConfig(out=tempfile.mkdtemp() + "/run", steps=200, batch_size=2, sample_every=0, save_every=1,
                             threads=1, device="cpu", bf16=False)
        work = lambda: train(config, progress=False)
        ready = lambda: os.path.exists(config.out + "/last.pt")  # past its set-up: in its steps
    """,
    "exact schedule_error": """
        import torch
        import ipainter_nb as ip
        model = ip.exact.ExactDiffusionModel.create(size=32)
        image, keep, times = torch.zeros(3, 32, 32), ip.exact.centre_hole_keep(32, 16), ip.schedules.repaint(250, 10, 10, 100)
        work = lambda: [ip.exact.schedule_error(model, image, keep, times) for _ in range(20)]
    """,
    "GaussianImageModel.fit": """
        import torch
        from ipainter_nb.core.exact import GaussianImageModel
        pictures = GaussianImageModel(2.5, 0.02, ((0.1, 0.0, 0.0), (0.0, 0.1, 0.0), (0.0, 0.0, 0.1))).sample(16, 256)
        work = lambda: [GaussianImageModel.fit(pictures) for _ in range(100)]
    """,
    "radial_power_spectrum": """
        import torch
        import ipainter_nb as ip
        pictures = torch.rand(16, 3, 256, 256)
        work = lambda: [ip.frequency.radial_power_spectrum(pictures) for _ in range(100)]
    """,
    "timesteps_gif": """
        import tempfile, torch
        import ipainter_nb as ip
        from ipainter_nb import viz
        model = ip.exact.ExactDiffusionModel.create(size=64)
        result = ip.paint(model, torch.zeros(3, 64, 64), ip.exact.centre_hole_keep(64, 32), times=ip.schedules.plain(60),
                          num_samples=8, max_frames=60, progress=False)
        folder = tempfile.mkdtemp()
        work = lambda: [viz.timesteps_gif(result, f"{folder}/{i}.gif") for i in range(20)]
    """,
}
END_WHILE_IT_WORKS = """
    import sys, threading, time
    started = threading.Event()
    def run():
        started.set()
        work()
        print("the work ended before the program did", file=sys.stderr)
    threading.Thread(target=run, daemon=True).start()
    started.wait(60)
    while not globals().get("ready", lambda: True)():
        time.sleep(0.01)
    time.sleep(float(sys.argv[1]))
"""


@pytest.mark.parametrize("after_s", [0.0, 0.3])
@pytest.mark.parametrize("work", sorted(WORK_IN_A_THREAD))
def test_a_program_that_ends_while_a_thread_trains_or_computes_exits_cleanly(work, after_s):
    """Training, the exact laws, model fits, measures, figures and GIFs stop at the interpreter's exit as
    paint() does: they aborted the process (exit 134) when it ended during one of their torch calls."""
    program = textwrap.dedent(WORK_IN_A_THREAD[work]) + textwrap.dedent(END_WHILE_IT_WORKS)
    done = subprocess.run([sys.executable, "-c", program, str(after_s)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "terminate called" not in done.stderr and "the work ended" not in done.stderr
