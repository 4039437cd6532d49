"""The contract at the edges, as a user meets it: inherited signal dispositions, every path form,
refusals that do not depend on what is on disk, and messages that say what happened."""

from __future__ import annotations

import http.server
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_stops import REPO, SCHEDULE, _hidden, _pair, _start_stalled, _tree

from ipainter_nb import errors as ip_errors
from ipainter_nb.cli import main
from ipainter_nb.images import clean_leftovers
from ipainter_nb.images.writes import _HOST

PAINT = ["--device", "cpu", "--num-samples", "2", "--batch-size", "1", *SCHEDULE, "--quiet"]
TRAIN = ["--steps", "2", "--batch-size", "1", "--image-size", "16", "--sample-every", "1", "--save-every", "1000",
         "--threads", "1", "--device", "cpu", "--no-progress", "--no-bf16"]


def _ignoring(*signals: signal.Signals):
    """A ``preexec_fn``: the child starts with ``signals`` ignored, as ``nohup`` or a shell's background job starts it."""
    def ignore() -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
    return ignore


# --------------------------------------------------------------------------- signals ignored at start


IGNORED = {"nohup (SIGHUP)": (signal.SIGHUP,), "a background job (SIGINT, SIGQUIT)": (signal.SIGINT, signal.SIGQUIT)}


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("started_as, command", [(how, "paint") for how in IGNORED] + [("nohup (SIGHUP)", "train")])
def test_a_signal_ignored_when_the_run_started_stays_ignored_and_the_run_finishes(started_as, command, tmp_path,
                                                                                  tiny_model_path):
    out = tmp_path / "out"
    if command == "paint":
        args = ["paint", "-s", str(_pair(tmp_path / "src")), "-d", str(out), "--model", str(tiny_model_path), *PAINT]
        expected = ["lake_0.png", "lake_1.png"]
    else:
        args = ["train", "--out", str(out), *TRAIN]
        expected = ["config.json", "last.pt", "loss.csv", "samples"]
    child, _ = _start_stalled(args, tmp_path, stall_at=1, stall_s=1, preexec_fn=_ignoring(*IGNORED[started_as]))
    try:
        for sig in IGNORED[started_as]:  # the terminal closes; Ctrl-C / Ctrl-\ reach the whole group
            child.send_signal(sig)
        _, err = child.communicate(timeout=240)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == expected and _hidden(out) == []


@pytest.mark.usefixtures("terminal_signals")
def test_a_run_that_ignores_sigint_still_stops_cleanly_on_sigterm(tmp_path, tiny_model_path):
    out = tmp_path / "out"
    args = ["paint", "-s", str(_pair(tmp_path / "src")), "-d", str(out), "--model", str(tiny_model_path), *PAINT]
    child, _ = _start_stalled(args, tmp_path, stall_at=2, preexec_fn=_ignoring(signal.SIGINT, signal.SIGQUIT))
    try:
        child.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert child.poll() is None  # ignored
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1].startswith("ipainter: stopped by SIGTERM")
    assert sorted(p.name for p in out.iterdir()) == ["lake_0.png"]  # the finished picture; no temp, no claim


def _blocking(*signals: signal.Signals, send: signal.Signals | None = None):
    """A ``preexec_fn``: the child starts with ``signals`` blocked (a mask inherited from a parent that
    blocked them for a moment of its own), and with ``send`` already waiting in that mask."""
    def block() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
        if send is not None:
            os.kill(os.getpid(), send)
    return block


@pytest.mark.usefixtures("terminal_signals")
def test_a_stop_signal_blocked_when_the_run_started_still_stops_it_cleanly(tmp_path, tiny_model_path):
    out = tmp_path / "out"
    args = ["paint", "-s", str(_pair(tmp_path / "src")), "-d", str(out), "--model", str(tiny_model_path), *PAINT]
    child, _ = _start_stalled(args, tmp_path, stall_at=2, preexec_fn=_blocking(signal.SIGINT, signal.SIGTERM))
    try:
        child.send_signal(signal.SIGTERM)  # blocked, it would wait until the run had painted everything
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1].startswith("ipainter: stopped by SIGTERM")
    assert sorted(p.name for p in out.iterdir()) == ["lake_0.png"]  # the finished picture; no temp, no claim


@pytest.mark.usefixtures("terminal_signals")
def test_a_stop_signal_sent_while_blocked_before_the_run_began_ends_it_before_anything_is_written(tmp_path, tiny_model_path):
    out = tmp_path / "out"
    args = ["paint", "-s", str(_pair(tmp_path / "src")), "-d", str(out), "--model", str(tiny_model_path), *PAINT]
    done = subprocess.run([sys.executable, "-m", "ipainter_nb", *args], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=_blocking(signal.SIGTERM, send=signal.SIGTERM))
    assert done.returncode == -signal.SIGTERM, done.stderr  # as if it had come during start-up: the signal's default
    assert "Traceback" not in done.stderr and not out.exists()


# ``ipainter`` with a Ctrl-C that arrives while torch is being imported (the first seconds of every run)
CTRL_C_WHILE_TORCH_LOADS = textwrap.dedent("""
    import importlib.abc, os, signal, sys
    class CtrlC(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
    sys.meta_path.insert(0, CtrlC())
    from ipainter_nb.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.usefixtures("terminal_signals")
def test_a_ctrl_c_while_the_command_starts_is_a_clean_stop_not_a_traceback(tmp_path, tiny_model_path):
    """Importing torch takes seconds; it happened with the package, before the command's handlers were
    there, so a Ctrl-C then was Python's KeyboardInterrupt traceback. The package and the command's
    module now import torch on first use, once the handlers are in place."""
    out = tmp_path / "out"
    args = ["paint", "-s", str(_pair(tmp_path / "src")), "-d", str(out), "--model", str(tiny_model_path), *PAINT]
    done = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_TORCH_LOADS, *args], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (128 + signal.SIGINT, "ipainter: interrupted\n")
    assert not out.exists()


def test_the_package_imports_torch_on_first_use_and_still_offers_its_subpackages():
    code = ("import sys, ipainter_nb as ip; print('torch' in sys.modules); "
            "print(ip.core.exact.__name__, ip.core.schedules.plan.__name__, ip.viz.__name__)")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "ipainter_nb.core.exact", "ipainter_nb.core.schedules.plan", "ipainter_nb.viz"], \
        done.stderr


def test_the_handlers_leave_an_ignored_signal_ignored_and_put_everything_back(tmp_path):
    from ipainter_nb.images import save_png_atomic
    from ipainter_nb.signals import signals_deferred, stop_on_signals

    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGHUP)}
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) == signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            assert callable(signal.getsignal(signal.SIGTERM))  # not ignored: it stops the run
            with signals_deferred():
                signal.raise_signal(signal.SIGINT)  # ignored: the write goes on and nothing is raised after it
                save_png_atomic(torch.zeros(3, 4, 4), tmp_path / "a.png")
        with signals_deferred():  # outside the command (a library caller whose host ignores SIGINT)
            signal.raise_signal(signal.SIGINT)
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert (tmp_path / "a.png").is_file()
        assert all(signal.getsignal(sig) == signal.SIG_IGN for sig in (signal.SIGINT, signal.SIGHUP))
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_a_standard_stream_that_cannot_be_written_is_named_and_keeps_the_exit_code(tmp_path):
    """stdout on a full disk (/dev/full stands in for one) is one line naming standard output, exit 1: it
    was "No space left on device" with a hint to free the disk the outputs go to, or, with stdout
    buffered, Python's two-line "Exception ignored" at exit (code 120). A refusal whose line cannot be
    written to stderr still exits 2; a stdout that was closed before the command began is named too."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    command = [sys.executable, "-m", "ipainter_nb"]
    with open("/dev/full", "w") as full:
        for unbuffered in ("", "1"):
            done = subprocess.run([*command, "schedule", "--t-T", "10"], stdout=full, stderr=subprocess.PIPE, text=True,
                                  env=dict(env, PYTHONPATH=str(REPO), PYTHONUNBUFFERED=unbuffered), timeout=120)
            assert (done.returncode, done.stderr.splitlines()) == (1, [
                "ipainter: error: cannot write to standard output (No space left on device): "
                "send it to a file or device that can take it"]), unbuffered
        done = subprocess.run([*command, "paint", "-s", str(tmp_path / "missing"), "-d", str(tmp_path / "out")],
                              stdout=subprocess.PIPE, stderr=full, text=True, env=dict(env, PYTHONPATH=str(REPO)),
                              timeout=120)
    assert (done.returncode, done.stdout) == (2, "") and not (tmp_path / "out").exists()
    # a flag the parser refuses, its usage and line going to a stderr that is closed (2>&-): still 2
    done = subprocess.run([*command, "schedule", "--bogus"], stdout=subprocess.PIPE, text=True, timeout=120,
                          env=dict(env, PYTHONPATH=str(REPO)), preexec_fn=lambda: os.close(2))
    assert (done.returncode, done.stdout) == (2, "")
    # a stdout closed when the command starts (>&-) cannot take the listing: it was dropped, exit 0
    for argv in (["models"], ["--help"]):
        done = subprocess.run([*command, *argv], stderr=subprocess.PIPE, text=True, timeout=120,
                              env=dict(env, PYTHONPATH=str(REPO)), preexec_fn=lambda: os.close(1))
        assert (done.returncode, done.stderr.splitlines()) == (1, [
            "ipainter: error: cannot write to standard output (Bad file descriptor): send it to a file or device that can "
            "take it"]), argv


# --------------------------------------------------------------------------- path forms


def _links(tmp_path: Path) -> dict[str, Path]:
    """Real symbolic links of every kind, and a file in the way."""
    (tmp_path / "a_file").write_text("not a folder")
    dangling, loop = tmp_path / "dangling", tmp_path / "loop"
    dangling.symlink_to(tmp_path / "missing")
    loop.symlink_to(loop)
    return {"dangling": dangling, "loop": loop, "file": tmp_path / "a_file"}


def _refusals(tmp_path: Path, model: Path) -> dict[str, tuple[list[str], str]]:
    """case -> (arguments, what the one error line says)."""
    links = _links(tmp_path)
    src = str(_pair(tmp_path / "src"))
    paint = ["paint", "-s", src, "--model", str(model), "--device", "cpu"]
    dangling, loop = str(links["dangling"]), str(links["loop"])
    missing = f"{dangling} is a symbolic link to {tmp_path / 'missing'}, which does not exist: create it first, or pass another path"
    looped = f"{loop} is a symbolic link that leads back to itself (a loop, via {loop}): remove it, or pass another path"
    return {
        "paint --dest dangling link": ([*paint, "-d", dangling], f"--dest {dangling}: {missing}"),
        "demo --out dangling link": (["demo", "--out", dangling], f"--out {dangling}: {missing}"),
        "train --out dangling link": (["train", "--out", dangling, "--steps", "1"], f"--out {dangling}: {missing}"),
        "train --export dangling link": (["train", "--out", str(tmp_path / "run"), "--export", dangling],
                                         f"--export {dangling}: {missing}"),
        "download --dest-dir dangling link": (["download", "places256", "--dest-dir", dangling, "--url",
                                               "http://127.0.0.1:9/w.pt"], f"--dest-dir {dangling}: {missing}"),
        "schedule --plot dangling link": (["schedule", "--t-T", "10", "--plot", dangling], f"--plot {dangling}: {missing}"),
        "paint --dest loop": ([*paint, "-d", loop], f"--dest {loop}: {looped}"),
        "demo --out through a loop": (["demo", "--out", f"{loop}/sub"], f"--out {loop}/sub: {looped}"),
        "train --out through a file": (["train", "--out", str(links["file"] / "run")],
                                       f"--out {links['file'] / 'run'}: {links['file']} is a file, so "
                                       f"{links['file'] / 'run'} cannot be created under it; choose another path"),
    }


REFUSALS = ["paint --dest dangling link", "demo --out dangling link", "train --out dangling link",
            "train --export dangling link", "download --dest-dir dangling link", "schedule --plot dangling link",
            "paint --dest loop", "demo --out through a loop", "train --out through a file"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_path_that_leads_nowhere_is_one_error_line_before_anything_is_loaded_or_written(case, tmp_path,
                                                                                       tiny_model_path, capsys):
    refusals = _refusals(tmp_path, tiny_model_path)
    assert sorted(refusals) == sorted(REFUSALS)
    args, said = refusals[case]
    before = _tree(tmp_path)
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [f"ipainter: error: {said}"]
    assert _tree(tmp_path) == before  # the links are still links; nothing was created through them


def test_a_dangling_link_as_dest_is_refused_by_the_command_in_a_shell(tmp_path, tiny_model_path):
    """The same refusal from the installed command's entry point, in a process of its own."""
    args, said = _refusals(tmp_path, tiny_model_path)["paint --dest dangling link"]
    done = subprocess.run([sys.executable, "-m", "ipainter_nb", *args], env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr.splitlines()) == (2, [f"ipainter: error: {said}"])
    assert (tmp_path / "dangling").is_symlink() and not (tmp_path / "missing").exists()


def test_tilde_and_a_link_to_a_folder_are_the_folders_they_name(tmp_path, tiny_model_path):
    home, real = tmp_path / "home", tmp_path / "real_out"
    home.mkdir()
    real.mkdir()
    (home / "out").symlink_to(real)
    src = _pair(tmp_path / "src")
    done = subprocess.run([sys.executable, "-m", "ipainter_nb", "paint", "-s", str(src), "--dest=~/out", "--model",
                           str(tiny_model_path), *PAINT], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO), HOME=str(home), OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in real.iterdir()) == ["lake_0.png", "lake_1.png"]
    assert (home / "out").is_symlink() and not (tmp_path / "~").exists()


def test_a_link_that_leads_nowhere_inside_source_or_where_an_output_goes_is_one_skipping_line(tmp_path, tiny_model_path,
                                                                                              capsys):
    src, dest = _pair(tmp_path / "src"), tmp_path / "dest"
    ghost = src / "ghost.png"
    ghost.symlink_to(tmp_path / "missing.png")
    (src / "ghost_mask.png").symlink_to(src / "lake_mask.png")
    dest.mkdir()
    (dest / "lake_0.png").symlink_to(tmp_path / "elsewhere" / "lake_0.png")  # would be written through into elsewhere/
    code = main(["paint", "-s", str(src), "-d", str(dest), "--model", str(tiny_model_path), *PAINT])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err == [
        f"ipainter: skipping ghost.png: {ghost} is a symbolic link to {tmp_path / 'missing.png'}, which does not exist: "
        "create it first, or pass another path",
        f"ipainter: skipping lake.png: where its output goes, {dest / 'lake_0.png'} is a symbolic link to "
        f"{tmp_path / 'elsewhere' / 'lake_0.png'}, which does not exist: create it first, or pass another path",
    ]
    assert _tree(dest) == ["lake_0.png"] and (dest / "lake_0.png").is_symlink() and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("flag", ["--model", "--config", "--data", "--init-from"])
def test_an_input_path_that_leads_nowhere_is_named_as_a_link(flag, tmp_path, tiny_model_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    if flag in ("--model", "--config"):
        model = str(loop) if flag == "--model" else str(tiny_model_path)
        args = ["paint", "-s", str(_pair(tmp_path / "src")), "-d", str(tmp_path / "out"), "--model", model, *PAINT]
        args += ["--config", str(loop)] if flag == "--config" else []
    else:
        args = ["train", "--out", str(tmp_path / "out"), flag, str(loop), "--steps", "1", "--device", "cpu"]
    what = {"--model": "the model", "--config": "config file", "--data": "training folder", "--init-from": "the model"}[flag]
    assert main(args) == 2
    assert not (tmp_path / "out").exists()
    assert capsys.readouterr().err.splitlines() == [
        f"ipainter: error: {what} {loop} is a symbolic link that leads back to itself (a loop, via {loop}): "
        "remove it, or pass another path"]


def test_training_counts_a_picture_link_that_leads_nowhere_among_the_skipped_files(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (16, 16)).save(data / "a.png")
    (data / "b.png").symlink_to(tmp_path / "gone.png")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *TRAIN, "--sample-every", "0"]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "warning" in line] == [
        f"ipainter: warning: skipped 1 unreadable file(s) of 2: 'b.png' (the first: {data / 'b.png'} is a symbolic link "
        f"to {tmp_path / 'gone.png'}, which does not exist: create it first, or pass another path)"]


def test_every_writer_replaces_an_output_that_is_a_link_to_a_file_and_leaves_the_file_it_named(tmp_path, capsys):
    """One rule for every output a user names (images/writes.py): the new file takes the link's
    place; the file the link pointed at is never written through."""
    import ipainter_nb as ip

    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"not yours to overwrite")
    links = {name: tmp_path / name for name in ("plot.png", "export.pt", "scene.json")}
    for link in links.values():
        link.symlink_to(kept)
    assert main(["schedule", "--t-T", "10", "--plot", str(links["plot.png"])]) == 0
    assert main(["train", "--out", str(tmp_path / "run"), "--export", str(links["export.pt"]), *TRAIN]) == 0
    ip.Composition(size=8).to_json(links["scene.json"])
    capsys.readouterr()
    assert [link.is_symlink() for link in links.values()] == [False, False, False]
    assert links["plot.png"].read_bytes().startswith(b"\x89PNG") and links["scene.json"].read_text().startswith("{")
    assert kept.read_bytes() == b"not yours to overwrite"


@pytest.mark.parametrize("in_the_way, said", [
    (lambda p: p.symlink_to(p.parent / "missing"), "is a symbolic link to .*missing, which does not exist"),
    (lambda p: p.symlink_to(p), "is a symbolic link that leads back to itself"),
    (lambda p: p.write_text("a file"), "is a file"),
])
def test_every_folder_a_library_writer_makes_takes_the_command_lines_rule_for_what_is_in_its_way(in_the_way, said,
                                                                                               tmp_path):
    """The cutouts' folder of a composition saved with its cutouts beside it, the demo cutout pack's folder and a
    download's folder were made with mkdir: a FileExistsError for each of these (a download said "File exists")."""
    import ipainter_nb as ip
    from ipainter_nb.core.download import download_file
    from ipainter_nb.demo import write_cutout_pack

    def never(*args, **kwargs):
        raise AssertionError("nothing may be fetched")

    scene = ip.Composition(size=8)
    scene.add(ip.Layer(Image.new("RGBA", (4, 4), (255, 0, 0, 255)), name="sun"))
    writes = {"scene_layers": lambda: scene.to_json(tmp_path / "scene.json", embed_images=False),
              "pack": lambda: write_cutout_pack(tmp_path / "pack"),
              "weights": lambda: download_file("http://example.invalid/w.pt", tmp_path / "weights" / "w.pt", progress=False,
                                               opener=never)}
    for folder, write in writes.items():
        in_the_way(tmp_path / folder)
        with pytest.raises(ip_errors.UserInputError, match=f"{folder}.* {said}"):
            write()
    assert not (tmp_path / "missing").exists() and not (tmp_path / "scene.json").exists()


def test_no_writer_replaces_a_named_pipe_or_a_link_to_one(tmp_path, capsys):
    """An output is written beside its name and moved into place, which replaces what is there: a
    device or a pipe at an output's name (``--plot /dev/full`` run as root replaced the device) is
    refused by every writer before anything is written."""
    import ipainter_nb as ip
    from ipainter_nb.images import save_png_atomic

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    link = tmp_path / "link.png"
    link.symlink_to(pipe)
    for target in (pipe, link):
        assert main(["schedule", "--t-T", "10", "--plot", str(target)]) == 2
        assert main(["train", "--out", str(tmp_path / "run"), "--export", str(target), *TRAIN]) == 2
        with pytest.raises(ip.UserInputError, match="is a named pipe"):
            ip.Composition(size=8).to_json(target)
        with pytest.raises(ip.UserInputError, match="is a named pipe"):
            save_png_atomic(np.zeros((4, 4, 3), np.uint8), target)
    err = capsys.readouterr().err
    assert err.count("is a named pipe (FIFO), not a file") == 4 and "name a regular file" in err
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.png", "pipe"]  # nothing written beside them


def test_a_plot_onto_the_file_the_command_reads_is_refused_and_a_link_to_it_is_replaced(tmp_path, tiny_model_path, capsys):
    """``schedule --model m --plot m`` replaced the weights with a PNG."""
    model = tmp_path / "model.safetensors"
    model.write_bytes(tiny_model_path.read_bytes())
    config = tmp_path / "net.json"
    config.write_text("{}")
    assert main(["schedule", "--model", str(model), "--plot", str(model)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"ipainter: error: --plot {model} is the file --model reads: writing it would replace it; name another file"]
    assert main(["schedule", "--model", str(model), "--config", str(config), "--plot", str(config)]) == 2
    assert "is the file --config reads" in capsys.readouterr().err
    assert model.read_bytes() == tiny_model_path.read_bytes() and config.read_text() == "{}"
    link = tmp_path / "plot.png"
    link.symlink_to(model)  # a link is replaced, never written through: the model stays
    assert main(["schedule", "--model", str(model), "--plot", str(link)]) == 0
    assert not link.is_symlink() and model.read_bytes() == tiny_model_path.read_bytes()


def test_a_write_whose_name_is_a_folder_or_empty_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """The picture was written to a temp file and only its move failed: onto a folder an OSError, onto
    ``""`` (the current folder) "Device or resource busy"."""
    from ipainter_nb.images import save_png_atomic, write_bytes_atomic

    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name, shown in ((folder, str(folder)), (".", ".")):
        with pytest.raises(ip_errors.UserInputError) as err:
            save_png_atomic(np.zeros((4, 4, 3), np.uint8), name)
        assert str(err.value) == f"{shown} is a folder: name a file in it, e.g. {Path(shown) / 'out.png'}"
        with pytest.raises(ip_errors.UserInputError, match="is a folder: name a file in it"):
            write_bytes_atomic(name, b"data")
    for write in (lambda: save_png_atomic(np.zeros((4, 4, 3), np.uint8), ""), lambda: write_bytes_atomic("", b"data")):
        with pytest.raises(ip_errors.UserInputError, match="path must be a file path .*, got str ''"):
            write()
    assert _tree(tmp_path) == ["out"]  # no temp file beside it, nothing in it


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        self.send_error(404)

    def log_message(self, *args) -> None:
        pass


def test_a_failed_download_into_a_new_folder_leaves_no_folder(tmp_path, capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        new = tmp_path / "new" / "weights"
        code = main(["download", "places256", "--dest-dir", str(new), "--quiet", "--url",
                     f"http://127.0.0.1:{server.server_address[1]}/w.pt"])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 1 and "HTTP 404" in err and "nothing was written" in err, err
    assert list(tmp_path.iterdir()) == []  # neither weights/ nor new/


# --------------------------------------------------------------------------- refusals and messages


def test_a_refusal_of_schedule_auto_does_not_depend_on_what_dest_holds(tmp_path, tiny_model_path, capsys):
    src, fresh, finished = _pair(tmp_path / "src"), tmp_path / "fresh", tmp_path / "finished"
    finished.mkdir()
    for k in range(2):
        Image.new("RGB", (32, 32)).save(finished / f"lake_{k}.png")
    said = []
    for dest in (fresh, finished):
        code = main(["paint", "-s", str(src), "-d", str(dest), "--model", str(tiny_model_path), "--device", "cpu",
                     "--num-samples", "2", "--schedule", "auto", "--jump-length", "3", "--quiet"])
        said.append((code, capsys.readouterr().err))
    assert said[0] == said[1] and said[0][0] == 2
    assert said[0][1].startswith("ipainter: error: --schedule auto chooses --jump-length itself")
    assert not fresh.exists()


@pytest.mark.usefixtures("terminal_signals")
def test_a_stop_during_the_first_checkpoint_write_says_that_checkpoint_was_written(tmp_path, monkeypatch, capsys):
    out, real_save = tmp_path / "run", torch.save

    def save_then_stop(obj, f, *args, **kwargs):  # SIGTERM arrives while last.pt is being written
        real_save(obj, f, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(torch, "save", save_then_stop)
    code = main(["train", "--out", str(out), "--steps", "5", "--batch-size", "1", "--image-size", "16", "--save-every",
                 "1", "--sample-every", "0", "--threads", "1", "--device", "cpu", "--no-progress", "--no-bf16"])
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM
    assert f"the last checkpoint (step 1) is {out / 'last.pt'}; run the same command to resume" in err, err
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 1 and _hidden(out) == []


def test_a_temp_file_whose_pid_was_reused_counts_as_ended(tmp_path):
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # holds the pid now
    try:
        time.sleep(0.5)
        # two temp files whose names say process `later.pid` wrote them
        reused, live = (tmp_path / f".{name}.{_HOST}-{later.pid}-abcd1234.tmp" for name in ("a.png", "b.png"))
        reused.write_bytes(b"half a picture")
        live.write_bytes(b"half a picture")
        a_minute_ago = time.time() - 60  # well under the 10 minutes after which any temp file goes
        os.utime(reused, (a_minute_ago, a_minute_ago))  # last changed before that process started: not its file
        found = clean_leftovers(tmp_path)
    finally:
        later.kill()
        later.wait()
    assert found.temps == [reused.name]
    assert _hidden(tmp_path) == [live.name]  # changed after `later` started: it may be its write in progress


def _picture(folder: Path, name: str, mode: str) -> None:
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    if mode == "I;16":
        Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257).save(folder / f"{name}.png")
    elif mode == "CMYK":
        rgb.convert("CMYK").save(folder / f"{name}.png", format="JPEG")  # read by its content, not its name
    else:
        rgb.convert(mode).save(folder / f"{name}.png")
    mask = np.zeros((32, 32), np.uint8)
    mask[:16] = 255
    Image.fromarray(mask).save(folder / f"{name}_mask.png")


def test_converted_pictures_in_paint_and_resized_ones_in_train_get_one_warning_line_each(tmp_path, tiny_model_path,
                                                                                        capsys):
    src = tmp_path / "src"
    src.mkdir()
    modes = {"palette": "P", "sixteen": "I;16", "grey_alpha": "LA", "print": "CMYK", "plain": "RGB"}
    for name, mode in modes.items():
        _picture(src, name, mode)
    assert main(["paint", "-s", str(src), "-d", str(tmp_path / "out"), "--model", str(tiny_model_path), "--device", "cpu",
                 "--num-samples", "1", "--t-T", "2", "--no-resampling", "--quiet"]) == 0
    warned = sorted(line for line in capsys.readouterr().err.splitlines() if line.startswith("ipainter: warning:"))
    assert warned == sorted([
        f"ipainter: warning: {src / 'grey_alpha.png'}: LA picture converted to RGB (its alpha channel is ignored)",
        f"ipainter: warning: {src / 'palette.png'}: palette picture converted to RGB",
        f"ipainter: warning: {src / 'print.png'}: CMYK picture converted to RGB",
        f"ipainter: warning: {src / 'sixteen.png'}: I;16 (16-bit) greyscale picture scaled to 8 bits and converted to RGB",
    ])

    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (40, 30)).save(data / "wide.png")
    Image.new("RGB", (16, 16)).save(data / "fits.png")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *TRAIN, "--sample-every", "0"]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "warning" in line] == [
        "ipainter: warning: wide.png: centre-cropped from 40x30 to 30x30 and downscaled from 30x30 to 16x16"]


@pytest.mark.parametrize("argv, flag", [
    (["demo", "--out", ""], "--out"),
    (["paint", "-s", "", "-d", "out"], "-s/--source"),
    (["demo", "--model", " "], "--model"),
    (["train", "--out", "", "--steps", "1"], "--out"),
])
def test_an_empty_path_from_an_unset_variable_is_refused_not_taken_as_the_current_folder(argv, flag, tmp_path, monkeypatch,
                                                                                          capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ipainter: error: argument {flag}: an empty path: name a file or folder (. for the current folder)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, unknown", [(["demo", "--sched", "5"], "--sched 5"), (["demo", "--schedule", "auto"], "--schedule auto")])
def test_a_flag_is_taken_whole_never_as_the_start_of_another(argv, unknown, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"ipainter: error: unrecognized arguments: {unknown}"


def test_a_training_batch_too_large_to_hold_is_one_error_line_not_a_memory_error(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--batch-size", "100000000", "--image-size", "64", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "ipainter: error: batch_size=100000000 is out of range: it must be in 1..21845"]
    assert not out.exists()


def test_a_current_folder_deleted_under_the_shell_is_named_not_a_crash_of_torch(tmp_path):
    """From a folder another terminal removed, torch's math library ended the command with exit 2 and a
    line about loading libtorch_cpu.so, for every command, --version included."""
    gone = tmp_path / "gone"
    gone.mkdir()
    for args in (["schedule", "--t-T", "10"], ["train", "--steps", "1"], ["--version"]):
        script = f'cd "{gone}" && rmdir "{gone}" && exec "{sys.executable}" -m ipainter_nb "$@"'
        done = subprocess.run(["sh", "-c", script, "sh", *args], env=dict(os.environ, PYTHONPATH=str(REPO)),
                              capture_output=True, text=True, timeout=120)
        gone.mkdir()
        assert done.returncode == 2 and done.stderr == ("ipainter: error: the current folder no longer exists (it was deleted "
                                                        "or moved after the shell entered it): cd to a folder that exists and "
                                                        "run the command again\n"), done.stderr
