"""The command line fuzzed through its parser: whatever the arguments, a refusal is the usage at most,
then one ``ipainter: error:`` line, exit 2, and nothing created; never a traceback.

Arguments are drawn from each command's flags with values good and bad (negative, huge, not a
number, empty, paths that lead nowhere); the models are the tiny test model (a checkpoint file) and
names that are not models. A line that passes runs, kept short by flags added last (``--t-T 2``,
``--steps 1``: the last value of a flag counts), and its outputs are removed again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipainter_nb.cli import main

NUMBERS = st.sampled_from(["0", "1", "2", "-1", "3", "10**6", "1e3", "abc", "", "999999999999999999999", "0.5", "nan"])
FLOATS = st.sampled_from(["0", "0.5", "1", "-0.1", "1.5", "nan", "inf", "x", ""])


def _paths(tmp_path: Path) -> st.SearchStrategy[str]:
    """Output paths of every form, named by what they are (the test builds them once)."""
    as_typed = ("", ".", "~nobody-such/out")  # relative to the current folder, or a ~ that names no user
    return st.sampled_from(["new", "dangling", "loop", "a_file", "a_file/below", "loop/below", "missing/deeper/out",
                            *as_typed]).map(lambda name: name if name in as_typed else str(tmp_path / name))


def _flag(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), values.map(lambda value: [name, value]))


def _schedule_flags() -> st.SearchStrategy[list[str]]:
    flags = [_flag(name, NUMBERS) for name in ("--t-T", "--jump-length", "--jump-n-sample", "--stop-resampling-at",
                                                "--start-resampling-at", "--stride", "--window-levels")]
    flags += [_flag("--eta", FLOATS), _flag("--repeat-ramp", FLOATS),
              st.sampled_from([[], ["--no-resampling"], ["--full-repaint"], ["--schedule", "auto"],
                               ["--schedule", "other"]])]
    return st.tuples(*flags).map(lambda parts: [arg for part in parts for arg in part])


def _argv(tmp_path: Path, model: str) -> st.SearchStrategy[list[str]]:
    paths, models = _paths(tmp_path), st.sampled_from([model, "no-such-model", str(tmp_path / "a_file"), ""])
    source = st.sampled_from([str(tmp_path / "src"), str(tmp_path / "dangling"), str(tmp_path / "new")])
    paint = st.tuples(st.just(["paint", "--device", "cpu", "--quiet"]), source.map(lambda s: ["-s", s]),
                      paths.map(lambda d: ["-d", d]), models.map(lambda m: ["--model", m]), _schedule_flags(),
                      _flag("--num-samples", NUMBERS), _flag("--batch-size", NUMBERS), _flag("--seed", NUMBERS),
                      _flag("--shard", st.sampled_from(["0/1", "1/1", "2/1", "a/b", "auto", "0/0"])),
                      st.just(["--t-T", "2"]))  # the last --t-T counts: a run that passes is short
    schedule = st.tuples(st.just(["schedule"]), _schedule_flags(), _flag("--plot", paths),
                         _flag("--model", st.sampled_from([model, "no-such-model"])))
    demo = st.tuples(st.just(["demo", "--device", "cpu", "--quiet", "--frames", "2"]), _flag("--out", paths),
                     _flag("--num-samples", NUMBERS), _flag("--seed", NUMBERS), _flag("--frames", NUMBERS),
                     _flag("--schedule-steps", NUMBERS), st.just(["--schedule-steps", "2"]))
    train = st.tuples(st.just(["train", "--device", "cpu", "--no-progress"]), _flag("--out", paths),
                      _flag("--steps", NUMBERS), _flag("--batch-size", NUMBERS), _flag("--lr", FLOATS),
                      _flag("--image-size", NUMBERS), _flag("--save-every", NUMBERS), _flag("--export", paths),
                      _flag("--data", paths), st.just(["--steps", "1", "--image-size", "16", "--batch-size", "1",
                                                       "--sample-every", "0", "--threads", "1", "--no-bf16"]))
    download = st.tuples(st.just(["download"]), st.sampled_from([["places256"], ["no-such-preset"], [""]]),
                         _flag("--dest-dir", paths), _flag("--sha256", st.sampled_from(["abc", "0" * 64, ""])),
                         st.just(["--url", "ftp://example.invalid/w.pt"]))
    unknown = st.sampled_from([["bogus"], ["paint"], ["--nope"], ["schedule", "--t-T"], ["models", "extra"]])
    commands = st.one_of(paint, schedule, demo, train, download)
    return st.one_of(commands.map(lambda parts: [arg for part in parts for arg in part]), unknown)


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_path) -> tuple[Path, str]:
    """A folder with every path form in it: a source of one pair, a file, a dangling link and a loop."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("fuzz")
    (root / "src").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "src" / "lake.png")
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(root / "src" / "lake_mask.png")
    (root / "a_file").write_text("a file")
    (root / "dangling").symlink_to(root / "missing")
    (root / "loop").symlink_to(root / "loop")
    return root, str(tiny_model_path)


@given(data=st.data())
def test_a_refused_command_line_is_one_error_line_exit_2_and_creates_nothing(world, data, capsys, monkeypatch):
    root, model = world
    monkeypatch.chdir(root)  # "" and "." are the current folder
    argv = data.draw(_argv(root, model), label="argv")
    before = _tree(root)
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, (argv, err)
    if code == 0:  # a valid line (e.g. `schedule` with good flags): it ran; put the folder back as it was
        _undo(root, before)
        return
    assert code == 2, (argv, code, err)
    lines = err.splitlines()
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and errors[0] == lines[-1] and errors[0].startswith("ipainter: error: "), (argv, err)
    # above it only argparse's usage (for a flag it refuses) or a warning line
    assert all(line.startswith(("usage: ipainter", " ", "ipainter: warning: ")) for line in lines[:-1]), (argv, err)
    assert _tree(root) == before, argv


def _undo(root: Path, before: list[str]) -> None:
    import shutil

    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        if str(path.relative_to(root)) not in before:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
