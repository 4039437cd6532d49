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

The one execution of each notebook also serves two checks of what it shows: every verdict
sentence must follow from the numbers printed with it (``notebook_claims``), and every
figure's text must be legible in JupyterLab at a laptop's width (``figure_text``: an IPython
startup file makes the kernel record each displayed figure's text sizes next to its PNG).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import time
from pathlib import Path

import figure_text
import pytest
from notebook_claims import markdown_problems, verdict_problems, verdicts_of

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
    # an IPython startup file makes every displayed figure carry its text sizes (figure_text.install)
    startup = spec_root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-figure-text.py").write_text(
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import figure_text\nfigure_text.install()\ndel sys.path[0]\n")
    env["IPYTHONDIR"] = str(spec_root / "ipython")
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
# the quickstart's command-line cell leaves the command painting and a thread waiting for it
WAIT_FOR_THE_COMMAND = "watcher.join(900)\nassert not watcher.is_alive() and batch.returncode == 0, batch.returncode"


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


def figure_records(nb) -> list[tuple[int, dict]]:
    """The text records of the matplotlib figures an executed notebook shows, by output number.

    Raises AssertionError when a figure was shown without one (the recorder was not installed)."""
    found = []
    for i, out in enumerate(_all_outputs(nb)):
        data = out.get("data", {})
        if data.get("text/plain", "").startswith("<Figure size"):
            assert figure_text.MIME in data, f"output {i}, a figure, carries no text record"
            found.append((i, data[figure_text.MIME]))
    return found


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
    if name == "01_quickstart.ipynb":
        then.insert(0, WAIT_FOR_THE_COMMAND)
    nb = _execute(name, workdir, kernel_env, monkeypatch, then)
    errors = [out for out in _all_outputs(nb) if out.get("output_type") == "error"]
    assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    assert _repo_notebook_files() == before, f"{name} wrote into the repository's notebooks folder"
    problems = verdict_problems(nb)
    assert not problems, f"{name}: sentences that do not follow from their numbers:\n" + "\n".join(problems)
    figures = figure_records(nb)
    small = {i: figure_text.too_small(rec) for i, rec in figures}
    small = {i: found for i, found in small.items() if found}
    assert not small, (f"{name}: figure text under {figure_text.MIN_TEXT_PX} px in a {figure_text.OUTPUT_WIDTH_PX} px "
                       f"output area (output: texts): {small}")

    if name == "01_quickstart.ipynb":
        assert list((workdir / "quickstart_out").glob("*.png")), "the painted sample was not saved"
        assert (workdir / "quickstart_out" / "composition.json").is_file()
        assert list((workdir / "batch_out").glob("my_scene_*.png")), "the CLI cell painted nothing"
        assert any("image/png" in out.get("data", {}) for out in _all_outputs(nb)), "no picture shown"
    elif name == "02_resampling_lesson.ipynb":
        pngs = sum("image/png" in out.get("data", {}) for out in _all_outputs(nb))
        assert pngs >= 10, f"only {pngs} figures: the lesson shows every claim in a figure"
        assert len(figures) >= 9, f"only {len(figures)} of the lesson's figures were measured for legibility"
        assert len(verdicts_of(nb)) >= 15, "the lesson's verdicts must be ipainter_nb.verdicts outputs"
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


# --------------------------------------------------------------------------- words agree with numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_text_cells_state_no_measured_outcome(path):
    problems = markdown_problems(_read(path))
    assert not problems, f"{path.name}: measured outcomes belong in printed verdicts, not in text:\n" + "\n".join(problems)


def _notebook_showing(*outputs, markdown: str = "Some text."):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data) if isinstance(data, dict)
                    else nbformat.v4.new_output("stream", name="stdout", text=data) for data in outputs]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), cell]
    return nb


def _shown(verdict) -> dict:
    """A verdict as a notebook keeps it (its mime bundle, through JSON as in the .ipynb)."""
    return json.loads(json.dumps(verdict._repr_mimebundle_()))


def test_claim_checker_accepts_verdicts_that_follow_from_their_numbers():
    from ipainter_nb import verdicts

    nb = _notebook_showing(
        _shown(verdicts.paired("A fits better than B", [0.10, 0.12, 0.11], [0.20, 0.21, 0.22])),
        _shown(verdicts.paired("A is sharper than B", [0.10, 0.30, 0.12], [0.20, 0.11, 0.22])),
        _shown(verdicts.exact("A costs less than B", 150 - 190, 0, "150 against 190")),
        _shown(verdicts.keeps_most_of_gain("stopping keeps most of the gain", none=[4.29], stopped=[4.27], full=[2.66])),
        "model calls: 190 | the paper's settings: ...\n")
    assert [rec["word"] for _, rec, _ in verdicts_of(nb)] == ["seen", "too close to call", "seen", "NOT seen"]
    assert verdict_problems(nb) == []


def test_claim_checker_catches_a_sentence_that_contradicts_its_numbers():
    from ipainter_nb import verdicts

    honest = _shown(verdicts.paired("A fits better than B", [0.10, 0.12, 0.11], [0.20, 0.21, 0.22]))
    # the same numbers, called the other way round (as a wrong sign in the notebook would)
    flipped = json.loads(json.dumps(honest))
    flipped[verdicts.MIME]["word"] = "NOT seen"
    flipped["text/plain"] = flipped["text/plain"].replace("seen              ", "NOT seen          ", 1)
    problems = " | ".join(verdict_problems(_notebook_showing(flipped)))
    assert "is called 'NOT seen', its numbers say 'seen'" in problems
    assert "says 'NOT seen', its numbers say 'seen'" in problems
    # the record right, the sentence shown wrong
    worded = json.loads(json.dumps(honest))
    worded["text/plain"] = worded["text/plain"].replace("seen              ", "too close to call ", 1)
    problems = " | ".join(verdict_problems(_notebook_showing(worded)))
    assert "says 'too close to call', its numbers say 'seen'" in problems
    # a share of the gain that contradicts the word
    gain = _shown(verdicts.keeps_most_of_gain("stopping keeps most of the gain", none=[4.29], stopped=[4.27], full=[2.66]))
    gain["text/plain"] = gain["text/plain"].replace("keeps 1%", "keeps 97%")
    problems = " | ".join(verdict_problems(_notebook_showing(gain)))
    assert "says 'NOT seen' but keeps 97% of the gain" in problems
    # a verdict printed by hand, without its numbers
    (problem,) = verdict_problems(_notebook_showing("seen               truncated is sharper than RePaint\n"))
    assert "without its numbers" in problem


def test_markdown_check_catches_measured_outcomes_in_text():
    nb = _notebook_showing(markdown="The command ends in seconds; the truncated schedule is less blurry "
                                    "(0.033 against 0.031) and keeps 97% of the gain at 0.67x the calls, in 19 s.")
    found = " | ".join(markdown_problems(nb))
    for phrase in ("in seconds", "less blurry", "0.033", "97%", "0.67x", "19 s"):
        assert phrase in found, phrase
    facts = "Its 2.2 GB of weights; a 95% interval; 100 of 250 steps on 64×64 pictures; part 6."
    assert markdown_problems(_notebook_showing(markdown=facts)) == []


def test_markdown_check_catches_a_call_count_that_depends_on_the_model():
    """03 once said the paper's 1510 calls above a cell that printed the demo model's default."""
    old_03 = ("The default schedule is the paper's: 250 steps, jumps of 10 repeated 10 times, no\n"
              "resampling below t = 100: **1510 model calls** (RePaint needs 2410), so even on a GPU a\n"
              "batch takes a while.")
    (problem,) = markdown_problems(_notebook_showing(markdown=old_03))
    assert "'1510 model calls' depends on the model that runs" in problem
    words = "the number of model calls it costs (NFE) is shown below; it prints its model calls"
    assert markdown_problems(_notebook_showing(markdown=words)) == []


# --------------------------------------------------------------------------- legible figures


def _figure(width_in: float, panels: int, fontsize: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, 2.8))
    FigureCanvasAgg(fig)
    for ax in fig.subplots(1, panels):
        ax.plot([0, 1], [0, 1])
        ax.set_title("a title", fontsize=fontsize)
    return fig


def test_figure_text_record_measures_the_png_the_notebook_shows():
    import io

    from PIL import Image

    fig = _figure(17, 5, 9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # as the inline backend writes it
    rec = figure_text.record(fig)
    assert abs(rec["png_width"] - Image.open(buf).size[0]) <= 1
    assert ("a title", 9.0) in [tuple(t) for t in rec["texts"]]


def test_a_wide_figure_with_small_text_is_caught_and_the_same_plots_narrower_pass():
    wide = figure_text.record(_figure(17, 5, 9))  # 5 panels in a row, 9 pt titles: scaled to about half
    assert any(text == "a title" for text in " ".join(figure_text.too_small(wide)).split("'")[1::2])
    narrow = figure_text.record(_figure(figure_text.OUTPUT_WIDTH_PX / 100 - 0.5, 3, 9))
    assert figure_text.too_small(narrow) == []
