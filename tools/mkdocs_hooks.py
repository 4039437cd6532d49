"""mkdocs hooks: the docs build checks that every public function and class documents its arguments.

Each problem ``tools/docstring_check.py`` finds is logged as a warning, so ``mkdocs build
--strict`` (what ``make test`` runs) fails when a public object lacks a docstring or an
argument is missing from its ``Args:`` section.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docstring_check  # noqa: E402  (beside this file, not a package)

log = logging.getLogger("mkdocs.hooks.docstrings")


def on_pre_build(config) -> None:
    """Warn once per public object whose docstring is missing or incomplete.

    Args:
        config: the mkdocs configuration (unused; the package is read from the repository).
    """
    for problem in docstring_check.check(docstring_check.load()):
        log.warning("docstring: %s", problem)
