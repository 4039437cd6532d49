"""Does every public function and class of ipainter_nb say what it takes? (read with griffe, no import)

Public means: exported by ``ipainter_nb`` (its ``__all__``), or a public name (in ``__all__``
when the module has one, else not starting with ``_``) of a public module (no ``_`` in its
dotted name), and the public methods and properties of those classes. Each needs a
docstring, and every parameter of a function, method or class constructor (``self`` and
``cls`` aside) must appear in its Google-style ``Args:`` section (a class may document its
constructor in the class docstring, the ``__init__`` docstring, or dataclass fields under
``Attributes:``).

Used by the docs build (``tools/mkdocs_hooks.py``: each problem is a warning, so
``mkdocs build --strict`` fails) and on its own::

    python tools/docstring_check.py            # every problem, grouped by file; exit 1 if any
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import griffe

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "ipainter_nb"


@dataclass(frozen=True)
class Problem:
    """One public object whose docstring is missing or incomplete."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


def load(package: str = PACKAGE, search_path: Path = REPO) -> griffe.Module:
    """The package as griffe reads it from source (Google docstrings, no import)."""
    return griffe.load(package, search_paths=[str(search_path)], docstring_parser="google",
                       allow_inspection=False, resolve_aliases=False)


def _public_name(name: str) -> bool:
    return not name.startswith("_")


def public_modules(module: griffe.Module) -> Iterator[griffe.Module]:
    """The module and its public submodules, depth first, in name order."""
    yield module
    for name, sub in sorted(module.modules.items()):
        if _public_name(name) and not sub.is_alias:
            yield from public_modules(sub)


def _exported(module: griffe.Module) -> list[griffe.Object | griffe.Alias]:
    if module.exports is not None:
        names = [n for n in module.exports if isinstance(n, str)]
        return [module.members[n] for n in names if n in module.members]
    return [m for n, m in module.members.items() if _public_name(n) and not m.is_alias]


def _documented(docstring: griffe.Docstring | None, kinds: tuple[str, ...] = ("parameters",)) -> set[str]:
    if docstring is None:
        return set()
    names = set()
    for section in docstring.parsed:
        if section.kind.value in kinds:
            names.update(item.name.lstrip("*") for item in section.value)
    return names


def _location(obj: griffe.Object, root: Path) -> tuple[str, int]:
    path = Path(obj.filepath) if not isinstance(obj.filepath, list) else Path(obj.filepath[0])
    try:
        shown = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        shown = str(path)
    return shown, obj.lineno or 0


def _parameters(function: griffe.Function, is_method: bool) -> list[str]:
    names = [p.name for p in function.parameters]
    if is_method and names and names[0] in ("self", "cls") and "staticmethod" not in function.labels:
        names = names[1:]
    return names


def _check_function(fn: griffe.Function, shown: str, is_method: bool, root: Path) -> Iterator[Problem]:
    file, line = _location(fn, root)
    if not fn.docstring:
        yield Problem(file, line, shown, "no docstring")
        return
    missing = [p for p in _parameters(fn, is_method) if p not in _documented(fn.docstring)]
    if missing:
        yield Problem(file, line, shown, f"parameters missing from Args: {', '.join(missing)}")


def _check_class(cls: griffe.Class, shown: str, root: Path) -> Iterator[Problem]:
    file, line = _location(cls, root)
    if not cls.docstring:
        yield Problem(file, line, shown, "no docstring")
    init = cls.members.get("__init__")
    params = [p.name for p in cls.parameters][1:] if init is not None or "dataclass" in cls.labels else []
    documented = _documented(cls.docstring, ("parameters", "attributes"))
    if isinstance(init, griffe.Function):
        documented |= _documented(init.docstring)
    missing = [p for p in params if p not in documented and _public_name(p)]  # a private field is no one's argument
    if missing and cls.docstring:
        yield Problem(file, line, shown, f"constructor parameters missing from Args: {', '.join(missing)}")
    for name, member in cls.members.items():
        if not _public_name(name) or member.is_alias:
            continue
        if isinstance(member, griffe.Function):
            yield from _check_function(member, f"{shown}.{name}", True, root)
        elif isinstance(member, griffe.Attribute) and "property" in member.labels and not member.docstring:
            yield Problem(*_location(member, root), f"{shown}.{name}", "property without a docstring")
        elif isinstance(member, griffe.Class):
            yield from _check_class(member, f"{shown}.{name}", root)


def check(package: griffe.Module, root: Path = REPO) -> list[Problem]:
    """Every public function, class, method or property whose docstring is missing or incomplete.

    Args:
        package: The package as ``load`` returns it.
        root: File names are shown relative to this folder.

    Returns:
        The problems, sorted by file and line.
    """
    seen: set[str] = set()
    problems: list[Problem] = []
    targets: list[griffe.Object] = []
    for module in public_modules(package):
        for member in _exported(module):
            if member.is_alias:  # checked where it is defined, also when that module is private
                try:
                    member = member.final_target
                except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                    continue
                if not member.path.startswith(package.path + "."):
                    continue
            targets.append(member)
    for obj in targets:
        if obj.path in seen:
            continue
        seen.add(obj.path)
        if isinstance(obj, griffe.Function):
            problems.extend(_check_function(obj, obj.path, False, root))
        elif isinstance(obj, griffe.Class):
            problems.extend(_check_class(obj, obj.path, root))
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.path))


def report(problems: list[Problem]) -> str:
    """The problems grouped by file, with a count per file and in all.

    Args:
        problems: As ``check`` returns them.

    Returns:
        Text for a terminal or a log.
    """
    if not problems:
        return "every public function and class documents its arguments"
    lines, current = [], None
    by_file: dict[str, int] = {}
    for p in problems:
        by_file[p.file] = by_file.get(p.file, 0) + 1
    for p in problems:
        if p.file != current:
            current = p.file
            lines.append(f"{p.file} ({by_file[p.file]}):")
        lines.append(f"  line {p.line}: {p.path}: {p.message}")
    lines.append(f"{len(problems)} public objects without complete docstrings in {len(by_file)} files")
    return "\n".join(lines)


def main() -> int:
    """Print the report; exit status 1 when something is missing."""
    problems = check(load())
    print(report(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
