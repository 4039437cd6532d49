# One entry point for set-up on a fresh machine (Python 3.11, no torch).
# torch is pinned to 2.13.0 here because that CPU build lies on this machine's disk;
# an unpinned torch would pull a multi-GB CUDA build. Override with TORCH_SPEC=... elsewhere.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast demo lab docs docs-serve wheel browser-deps truth-models clean

# The dev extra brings the test tools, JupyterLab ([lab]) and the docs tooling ([docs]).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

# The real-browser test needs Debian's chromium (never Playwright's own download).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; }

# Lint, the documentation site with warnings as errors (a renamed function or an undocumented
# argument fails here), then every test (the wheel test included), on every core (pytest-xdist;
# the browser tests share one JupyterLab, so they stay on one worker: --dist loadgroup).
PYTEST_PARALLEL ?= -n auto --dist loadgroup
test: $(STAMP) browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mkdocs build --strict --quiet
	$(PY) -m pytest -q $(PYTEST_PARALLEL)

test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q $(PYTEST_PARALLEL) -m "not browser and not wheel"

demo: $(STAMP)
	$(PY) -m ipainter_nb.cli demo --out demo_out

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/01_quickstart.ipynb

# The documentation site, into site/ (open site/index.html).
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

docs-serve: $(STAMP)
	$(VENV)/bin/mkdocs serve

# The wheel and the sdist, into dist/.
wheel: $(STAMP)
	$(PY) -m build --no-isolation --outdir dist

# The neural truth models of tests/fixtures/truth/ (seeded: the same weights on the same machine and torch).
truth-models: $(STAMP)
	nice -n 10 $(PY) benchmarks/truth_models.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache site dist build
