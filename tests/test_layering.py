"""The package's layout rules, read from the source (ast), so a reader can hold it in mind.

- No module over 600 lines.
- No import cycle.
- Imports go downward only, through these layers (lowest first):
  ``errors, exits, public, progress, images, checks, file_kinds, signals`` < ``core/*`` < ``batch, viz, demo/*``
  < ``widgets/*, train`` < ``cli``.
- Inside ``widgets``, the parts stand on their own: a component never imports the widget composed
  of it (``app`` for the Painter's, ``composer`` for the Composer's), and no widget class is a
  mixin that declares its host's attributes (``if TYPE_CHECKING:`` in a class body) or inherits
  from two bases.

Every import statement counts, also one inside a function (a lazy import still ties the
modules together), except those under ``if TYPE_CHECKING:`` (never run). Package
``__init__`` files and ``__main__`` only gather and re-export names: they are left out of the
layers, but an import of a package counts as an import of its layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "ipainter_nb"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
MAX_LINES = 600

#: layer of each module or package, by dotted name below ``ipainter_nb`` (the longest prefix wins)
LAYERS: dict[str, int] = {
    "_version": 0,
    "errors": 0,
    "exits": 0,  # the interpreter's exit waits for the library's work in other threads
    "public": 0,  # what every public name gets: its arguments named, its calls waited for at exit
    "progress": 0,
    "images": 0,
    "signals": 0,  # one clean stop for every terminating signal (installed by the CLI only)
    "checks": 0,  # argument and path checks shared by the CLI and train
    "file_kinds": 0,  # what kind of file an output is (an output replaces only one of its kind)
    "verdicts": 0,  # the words of a measured claim, from its numbers (notebooks, benchmarks)
    "core": 1,
    "batch": 2,
    "viz": 2,
    "demo": 2,
    "widgets": 3,
    "train": 3,
    "train_fields": 3,  # Gaussian-field training pictures (the neural truth models)
    "train_data": 3,  # the training pictures and the Gaussian model of them the weights carry
    "train_folders": 3,  # a run's folder: the files a run writes, what it must not replace
    "cli": 4,
    "commands": 4,  # one module per ipainter command, under cli
}
LAYER_NAMES = ["errors, exits, public, progress, images, checks, file_kinds, signals", "core/*", "batch, viz, demo/*",
               "widgets/*, train", "cli"]


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its __init__)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def is_package(name: str, mods: dict[str, Path]) -> bool:
    return mods[name].name == "__init__.py"


def layer_of(name: str) -> int | None:
    """The layer of a module or package, or None when the table does not place it."""
    parts = name.split(".")[1:]
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    return None


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, mods: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module of the package, line) for every import statement in module ``name``."""
    tree = ast.parse(mods[name].read_text(encoding="utf-8"))
    here = name if is_package(name, mods) else name.rpartition(".")[0]
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # "from pkg import sub" imports the module pkg.sub; "from mod import name" imports mod
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in mods else source for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in mods and "." in target:  # "import pkg.mod.attr" style
                target = target.rpartition(".")[0]
            if target in mods and target != name:
                found.append((target, node.lineno))
    return sorted(set(found))


def layered(name: str, mods: dict[str, Path]) -> bool:
    return not is_package(name, mods) and not name.endswith("__main__")


def test_no_module_is_longer_than_600_lines():
    mods = modules()
    long = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in mods.items()}
    over = sorted(f"{name}: {n} lines" for name, n in long.items() if n > MAX_LINES)
    assert not over, f"modules over {MAX_LINES} lines (split each by idea):\n" + "\n".join(over)


def test_every_module_has_a_layer():
    mods = modules()
    unplaced = sorted(name for name in mods if layered(name, mods) and layer_of(name) is None)
    assert not unplaced, "modules with no layer (add them to LAYERS in tests/test_layering.py):\n" + "\n".join(unplaced)


def test_imports_only_go_down_the_layers():
    mods = modules()
    wrong = []
    for name in mods:
        if not layered(name, mods) or layer_of(name) is None:
            continue
        for target, line in imports_of(name, mods):
            mine, theirs = layer_of(name), layer_of(target)
            if theirs is not None and theirs > mine:
                wrong.append(f"{mods[name].relative_to(ROOT.parent)}:{line} imports {target}: "
                             f"layer '{LAYER_NAMES[mine]}' may not import from '{LAYER_NAMES[theirs]}'")
    assert not wrong, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(wrong))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle():
    mods = modules()
    graph = {name: {target for target, _ in imports_of(name, mods)} for name in mods}
    found = cycles(graph)
    assert not found, "import cycles (modules that import each other, directly or around a loop):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_the_checks_see_what_they_should():
    """The reader of imports finds relative, absolute, lazy and package imports (or the tests above prove nothing)."""
    mods = modules()
    composition = dict(imports_of(f"{PACKAGE}.core.composition", mods))
    assert f"{PACKAGE}.core.composition_files" in composition  # "from ipainter_nb.core import composition_files as files"
    assert f"{PACKAGE}.images" in composition
    cli = {t for t, _ in imports_of(f"{PACKAGE}.cli", mods)}
    assert f"{PACKAGE}.commands.paint" in cli and f"{PACKAGE}.signals" in cli
    root = {t for t, _ in imports_of(PACKAGE, mods)}
    assert f"{PACKAGE}.widgets" in root  # the lazy import inside ipainter_nb.__getattr__
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of(f"{PACKAGE}.core.sampler") == 1 and layer_of(f"{PACKAGE}.widgets.app") == 3


#: the widgets composed of components, and the modules of their components (which must not import them)
COMPOSED = {
    "widgets.app": ["widgets.painter_runs", "widgets.models_menu", "widgets.draft", "widgets.messages",
                    "widgets.composer", "widgets.schedule_controls", "widgets.gallery", "widgets.preview",
                    "widgets.plots", "widgets.worker", "widgets.number_field"],
    "widgets.composer": ["widgets.composer_edits", "widgets.composer_canvas", "widgets.composer_tools",
                         "widgets.palette", "widgets.scale_control"],
}


def test_widget_components_do_not_import_the_widget_they_compose():
    mods = modules()
    wrong = []
    for whole, parts in COMPOSED.items():
        for part in parts:
            name = f"{PACKAGE}.{part}"
            assert name in mods, f"{part} is listed in COMPOSED but is not a module"
            wrong += [f"{part}:{line} imports {whole}" for target, line in imports_of(name, mods)
                      if target == f"{PACKAGE}.{whole}"]
    assert not wrong, "components that import the widget composed of them (pass what they need instead):\n" + "\n".join(wrong)


def test_no_widget_class_is_a_mixin_of_its_host():
    mods = modules()
    mixins = []
    for name, path in mods.items():
        if not name.startswith(f"{PACKAGE}.widgets."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            if len(node.bases) > 1:
                mixins.append(f"{name}.{node.name}: {len(node.bases)} bases")
            if any(isinstance(item, ast.If) and _type_checking_only(item) for item in node.body):
                mixins.append(f"{name}.{node.name}: declares its host's attributes under TYPE_CHECKING")
    assert not mixins, "widget classes built as mixins (make them components with explicit arguments):\n" + "\n".join(mixins)
