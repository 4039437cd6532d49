"""The notebooks: one source each, committed clean, public API only, and each runs on the demo model.

Each notebook has one source, ``notebooks/<name>.py`` (percent format, what one edits,
reviews and lints), and ``notebooks/<name>.ipynb`` (what users open) is generated from it
with ``jupytext --to ipynb --update notebooks/<name>.py``. The two are NOT paired through
jupytext metadata: a paired notebook that is newer than its .py makes JupyterLab's jupytext
extension show a "notebook newer than its paired file" dialog when a user opens it. The
.ipynb is committed without outputs.

Execution needs the demo model's weights (``ipainter_nb/assets/demo_model.safetensors``).
Without them the execution tests FAIL rather than skip: a checkout whose notebooks cannot
run is broken. While developing, ``IPAINTER_DEMO_MODEL=/path/to/model.safetensors`` makes
the notebooks (and so these tests) use another checkpoint instead of "demo".

Each notebook runs in a temporary copy of ``notebooks/`` with that folder as its working
directory, so the files it saves never land in the repository. Its cells run in order, as
Run All does; the quickstart and the Colab notebook leave the Painter painting in the
background, so the test then does what a user does: waits for the Painter, and runs the
save cell again. The kernel is the
``python3`` kernelspec, pinned to this interpreter (the venv's Python) through a kernelspec
written to a temporary ``JUPYTER_PATH`` entry, with the repository on its ``PYTHONPATH``.
Unless ``OMP_NUM_THREADS`` is already set, the kernel gets 1 thread: on a small shared CI
machine (2 cores, other jobs running) multi-threaded convolutions thrash and run several
times slower, not faster.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # a dev dependency; present in the test venv

REPO = Path(__file__).resolve().parents[1]
NB_DIR = REPO / "notebooks"
EXPECTED = ["01_quickstart.ipynb", "02_resampling_lesson.ipynb", "03_colab_places256.ipynb"]
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 900


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


def pair_differences(ipynb: Path, script: Path) -> list[str]:
    """Where a notebook and the percent-format script it is generated from disagree (cell types
    and sources), and any jupytext pairing left in either."""
    import jupytext

    if not script.is_file():
        return [f"{script.name} is missing"]
    a, b = jupytext.read(ipynb), jupytext.read(script)
    found = []
    if "jupytext" in nbformat.read(str(ipynb), as_version=4).metadata:
        found.append(f"{ipynb.name} holds jupytext metadata: it must not be paired with its .py")
    if b.metadata.get("jupytext", {}).get("formats"):
        found.append(f"{script.name} pairs itself with formats {b.metadata['jupytext']['formats']!r}")
    if len(a.cells) != len(b.cells):
        found.append(f"{len(a.cells)} cells in {ipynb.name}, {len(b.cells)} in {script.name}")
    for i, (x, y) in enumerate(zip(a.cells, b.cells)):
        if (x.cell_type, x.source) != (y.cell_type, y.source):
            found.append(f"cell {i}: {x.cell_type} {x.source[:60]!r} against {y.cell_type} {y.source[:60]!r}")
    return found


def _ids(paths):
    return [p.name for p in paths]


def test_all_notebooks_present():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


# --------------------------------------------------------------------------- one source, committed clean


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_and_its_script_agree(path):
    problems = pair_differences(path, path.with_suffix(".py"))
    assert not problems, (f"{path.name} and {path.stem}.py disagree ({'; '.join(problems)}): edit the .py, "
                          "then run `.venv/bin/jupytext --to ipynb --update notebooks/{path.stem}.py`")


def test_every_script_has_its_notebook():
    scripts = {p.stem for p in NB_DIR.glob("*.py")}
    assert scripts == {p.stem for p in NOTEBOOKS}, "each notebooks/*.py is one half of a pair"


def test_pair_check_sees_an_edited_cell(tmp_path):
    import jupytext

    original = NOTEBOOKS[0]
    script = tmp_path / original.with_suffix(".py").name
    shutil.copy(original.with_suffix(".py"), script)
    assert pair_differences(original, script) == []
    edited = jupytext.read(script)
    edited.cells[-1].source += "\nprint('edited on one side only')"
    jupytext.write(edited, script, fmt="py:percent")
    (problem,) = pair_differences(original, script)
    assert problem.startswith(f"cell {len(edited.cells) - 1}:")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    dirty = [
        f"cell {i} ({'outputs' if cell.get('outputs') else 'execution_count'})"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name} is committed with outputs or execution counts in {', '.join(dirty)}: clear them"


# --------------------------------------------------------------------------- public API only


def _python_of(source: str) -> str:
    """A code cell as plain Python (IPython turns !commands and %magics into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str) -> list[str]:
    """Imports from private modules, imports of private names, and private attributes."""
    tree = ast.parse(_python_of(source))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if any(_private(p) for p in a.name.split("."))]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or any(_private(p) for p in module.split(".")):
                found.append(f"from {'.' * node.level}{module} import ...")
            found += [f"from {module} import {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            found.append(f".{node.attr}")
    return found


def test_private_use_detector():
    assert private_uses("from ipainter_nb.core._x import y") == ["from ipainter_nb.core._x import ..."]
    assert private_uses("import ipainter_nb._impl as q") == ["import ipainter_nb._impl"]
    assert private_uses("from ipainter_nb.core.models import _sha256") == ["from ipainter_nb.core.models import _sha256"]
    assert private_uses("painter._result") == ["._result"]
    assert private_uses("from __future__ import annotations\nx.__class__\n!ls {sys.executable}") == []
    assert private_uses("import ipainter_nb as ip\nip.paint(model)") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_public_api_only(path):
    nb = _read(path)
    problems = {i: private_uses(cell.source) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    problems = {i: p for i, p in problems.items() if p}
    assert not problems, f"{path.name} uses private names (cell: uses): {problems}"


# --------------------------------------------------------------------------- execution


@pytest.fixture(scope="module")
def demo_model_env() -> dict[str, str]:
    """The environment additions that choose the model; fails when the demo weights are absent."""
    override = os.environ.get("IPAINTER_DEMO_MODEL")
    if override:
        if not Path(override).is_file():
            pytest.fail(f"IPAINTER_DEMO_MODEL={override} does not exist")
        return {"IPAINTER_DEMO_MODEL": override}
    from ipainter_nb.core.presets import WeightsNotFoundError, find_weights

    try:
        find_weights("demo")
    except WeightsNotFoundError as exc:
        pytest.fail(f"the notebooks need the demo model, which is missing: {exc}")
    return {}


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory, demo_model_env):
    """A python3 kernelspec that runs this interpreter, and the kernel's environment."""
    spec_root = tmp_path_factory.mktemp("jupyter_path")
    spec_dir = spec_root / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel, test)",
        "language": "python",
    }))
    env = dict(os.environ)
    env.pop("IPAINTER_DEMO_MODEL", None)
    env.update(demo_model_env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(spec_root), env.get("JUPYTER_PATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures must become outputs
    return env


TIMINGS: dict[str, float] = {}


def _execute(name: str, workdir: Path, env: dict[str, str], monkeypatch, then: list[str] = ()):
    """Run every cell in order, as Run All does, then the cells of ``then`` in the same kernel."""
    from nbclient import NotebookClient

    # the kernelspec lookup happens in this process: let it see the pinned spec first
    monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    nb = _read(workdir / name)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    with client.setup_kernel(env=env, cwd=str(workdir)):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        TIMINGS[name] = time.perf_counter() - start
        for source in then:
            nb.cells.append(nbformat.v4.new_code_cell(source))
            client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
    print(f"\n{name}: Run All took {TIMINGS[name]:.1f} s")
    return nb


def _source_of(nb, text: str) -> str:
    """The one code cell that contains ``text`` (to run it again, as a user would)."""
    (source,) = [cell.source for cell in nb.cells if cell.cell_type == "code" and text in cell.source]
    return source


# Run All leaves the Painter painting in the background; a user then waits for "done" and
# runs the save cell again. These follow-up cells do the same.
WAIT_FOR_THE_PAINTER = "assert painter.wait(900) is not None, painter.error_message"


def _text(nb, cell_index: int) -> str:
    parts = []
    for out in nb.cells[cell_index].get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def _all_outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


@pytest.fixture()
def workdir(tmp_path) -> Path:
    """A throwaway copy of the notebooks folder (outputs the notebooks save land there)."""
    target = tmp_path / "notebooks"
    shutil.copytree(NB_DIR, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target


def _repo_notebook_files() -> set[str]:
    return {str(p.relative_to(NB_DIR)) for p in NB_DIR.rglob("*")}


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SAVE_CELL = {"01_quickstart.ipynb": "painter.save_sample(0, folder=out)",
             "03_colab_places256.ipynb": "timesteps_gif("}


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_executes(name, workdir, kernel_env, monkeypatch):
    before = _repo_notebook_files()
    then = []
    if name in SAVE_CELL:
        then = [WAIT_FOR_THE_PAINTER, _source_of(_read(workdir / name), SAVE_CELL[name])]
    nb = _execute(name, workdir, kernel_env, monkeypatch, then)
    errors = [out for out in _all_outputs(nb) if out.get("output_type") == "error"]
    assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    assert _repo_notebook_files() == before, f"{name} wrote into the repository's notebooks folder"

    if name == "01_quickstart.ipynb":
        assert list((workdir / "quickstart_out").glob("*.png")), "the painted sample was not saved"
        assert (workdir / "quickstart_out" / "composition.json").is_file()
        assert list((workdir / "batch_out").glob("my_scene_*.png")), "the CLI cell painted nothing"
        assert any("image/png" in out.get("data", {}) for out in _all_outputs(nb)), "no picture shown"
    elif name == "02_resampling_lesson.ipynb":
        figures = sum("image/png" in out.get("data", {}) for out in _all_outputs(nb))
        assert figures >= 10, f"only {figures} figures: the lesson shows every claim in a figure"
        text = "".join(_text(nb, i) for i in range(len(nb.cells)))
        for label in ("no resampling:", "RePaint:", "truncated at"):
            assert label in text, f"the lesson printed no measurements for {label!r}"
        # a widget view left in the saved outputs reads "Error displaying widget" after a reload
        views = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
                 for out in cell.get("outputs", []) if WIDGET_VIEW in out.get("data", {})]
        assert not views, f"cells {views} of the lesson leave widget views (progress bars?) in their outputs"
    elif name == "03_colab_places256.ipynb":
        text = "".join(_text(nb, i) for i in range(len(nb.cells)))
        import torch

        from ipainter_nb.core.presets import WeightsNotFoundError, find_weights

        try:
            find_weights("places256")
            have_weights = True
        except WeightsNotFoundError:
            have_weights = False
        if not (torch.cuda.is_available() and have_weights):
            assert text.count("FALLBACK:") == 1, "the fallback to the demo model must be said once, clearly"
        assert (workdir / "ipainter_out" / "run.gif").is_file()
