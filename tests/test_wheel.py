"""The package as pip and Colab users meet it: a wheel, installed outside the repository.

The wheel is built from a copy of the project's files (with caches planted in the copy, to
show they never reach the wheel), with no setuptools warning. It is installed into a fresh
virtual environment in a temporary folder, and there, with the working directory outside the
repository and no ``PYTHONPATH``, ``ipainter --version``, ``ipainter models``, ``ipainter demo``
and ``ip.Painter("demo")`` run on the demo weights and cutouts that came in the wheel.

Installing torch into every fresh environment would cost minutes and gigabytes, so the fresh
environment sees this environment's third-party packages through a ``.pth`` line naming a
folder of links to them (``ipainter_nb`` and its editable-install hooks left out; a folder
named in a ``.pth`` line is added to ``sys.path`` without running its own ``.pth`` files).
pip still resolves the wheel's requirements, offline, against those packages (``--no-index``),
and ``pip check`` reads them again. ``-m "not wheel"`` leaves this test out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.wheel, pytest.mark.xdist_group("wheel")]  # one build for its tests

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "CHANGELOG.md"]
MAX_WHEEL_MB = 16  # the demo weights (13 MB) and a little code


def _clean_env() -> dict[str, str]:
    """This environment without what would put the repository's package in view."""
    drop = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "IPAINTER_WEIGHTS", "IPAINTER_DEMO_MODEL")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=timeout)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{out}"
    return out


def _source_files() -> list[str]:
    """Every file the package ships: its modules and its assets, relative to the repository."""
    package = REPO / "ipainter_nb"
    return sorted(str(p.relative_to(REPO)) for p in package.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """(the wheel, the build's output), built from a copy of the project with planted caches."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "ipainter_nb", src / "ipainter_nb", ignore=shutil.ignore_patterns("__pycache__"))
    for cache in ("ipainter_nb/__pycache__/planted.cpython-311.pyc", "ipainter_nb/assets/__pycache__/planted.pyc",
                  "ipainter_nb/assets/cutouts/.ipynb_checkpoints/planted.png", "ipainter_nb/core/stale.pyc"):
        (src / cache).parent.mkdir(parents=True, exist_ok=True)
        (src / cache).write_bytes(b"not for the wheel")
    # (without PYTHONDONTWRITEBYTECODE: under it distutils says "byte-compiling is disabled", not our warning)
    out = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)], tmp)
    wheels = list((tmp / "dist").glob("*.whl"))
    assert len(wheels) == 1 and len(list((tmp / "dist").glob("*.tar.gz"))) == 1, out
    return wheels[0], out


def test_the_build_prints_no_warning(built):
    _, out = built
    noisy = [line for line in out.splitlines() if "warn" in line.lower() or "deprecat" in line.lower()]
    assert not noisy, "the build warned:\n" + "\n".join(noisy)


def test_the_wheel_holds_the_package_and_its_assets_and_nothing_else(built):
    wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    package = sorted(n for n in names if not n.startswith("ipainter_nb-"))
    assert package == _source_files()  # every module and asset, no cache, no planted file
    assert "ipainter_nb/assets/demo_model.safetensors" in package
    assert sum(n.startswith("ipainter_nb/assets/cutouts/") and n.endswith(".png") for n in package) >= 9
    meta = [n for n in names if n.startswith("ipainter_nb-")]
    assert all(n.split("/")[0].endswith(".dist-info") for n in meta)
    assert any(n.endswith("licenses/LICENSE") for n in meta)
    assert wheel.stat().st_size < MAX_WHEEL_MB * 2**20, f"{wheel.stat().st_size / 2**20:.1f} MB"


def test_the_wheel_declares_the_version_and_keeps_jupyterlab_an_extra(built):
    from ipainter_nb import __version__

    wheel, _ = built
    assert f"ipainter_nb-{__version__}-" in wheel.name
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"ipainter_nb-{__version__}.dist-info/METADATA").decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    plain = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("torch") for r in plain) and any(r.startswith("ipycanvas") for r in plain)
    assert not any(r.startswith(("jupyterlab", "pytest", "mkdocs", "gdown")) for r in plain), plain
    assert "License-Expression: MIT" in meta
    for extra in ("lab", "download", "docs", "dev"):
        assert f"Provides-Extra: {extra}" in meta


def _fresh_venv(tmp: Path) -> Path:
    """A virtual environment in ``tmp`` that sees this one's third-party packages, not ipainter_nb."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).strip())
    deps = tmp / "deps"
    deps.mkdir()
    ours = ("ipainter_nb", "ipainter-nb", "__editable__", "_ipainter_nb")
    for lib in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in Path(lib).iterdir():
            if not entry.name.startswith(ours) and not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    (site / "zz_shared_deps.pth").write_text(f"{deps}\n")
    return python


def test_the_wheel_installed_outside_the_repository_runs_the_demo_and_opens_the_painter(built, tmp_path):
    from ipainter_nb import __version__

    wheel, _ = built
    python = _fresh_venv(tmp_path)
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _run(pip + ["install", "--no-index", "--disable-pip-version-check", str(wheel)], tmp_path)
    check = subprocess.run(pip + ["check"], capture_output=True, text=True, cwd=tmp_path, env=_clean_env())
    assert not [line for line in check.stdout.splitlines() if "ipainter" in line.lower()], check.stdout

    work = tmp_path / "user"  # a user's folder: no repository, no weights, no PYTHONPATH
    work.mkdir()
    env = _clean_env()
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(python.parent.parent),
               HOME=str(work), OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work, env).strip())
    installed = site / "ipainter_nb"
    ipainter = str(python.parent / "ipainter")

    assert _run([ipainter, "--version"], work, env).strip() == f"ipainter {__version__}"
    models = _run([ipainter, "models"], work, env)
    assert f"found {installed / 'assets' / 'demo_model.safetensors'}" in models, models

    _run([ipainter, "demo", "--out", "out", "--num-samples", "1", "--schedule-steps", "10", "--frames", "2", "--quiet"],
         work, env)
    for name in ("composition.png", "mask.png", "composition.json", "sample_0.png", "samples_grid.png"):
        assert (work / "out" / name).stat().st_size > 0, name

    probe = (
        "import ipainter_nb as ip\n"
        "from ipainter_nb.demo import cutout_pack_dir, list_cutouts\n"
        "painter = ip.Painter('demo')\n"
        "print(ip.__file__)\n"
        "print(cutout_pack_dir())\n"
        "print(painter.model_name, len(list_cutouts()))\n"
    )
    out = _run([str(python), "-c", probe], work, env).strip().splitlines()
    assert out[0] == str(installed / "__init__.py")
    assert out[1] == str(installed / "assets" / "cutouts")
    name, cutouts = out[2].split()
    assert name == "demo" and int(cutouts) >= 9
