"""The one version string of ipainter-nb.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``ipainter_nb.__version__`` and
``ipainter --version`` show it. Change it here only, with a CHANGELOG.md entry.
"""

__version__ = "0.2.0.dev0"
