# make demo: create .venv, install hyperplug, run the digits grid study.
# make test: create .venv if needed, run the whole test suite.
# make docs: build the documentation site into site/, strictly (CI runs it).
# make lock: recompile requirements.lock (every version dev and CI install) after a change
#            to pyproject.toml's requirements or to the pins in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock

.PHONY: install demo test lint format docs bench lock clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	rm -rf *.egg-info  # a stale one in the working directory shadows the installed entry points
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hyperplug +experiment=digits_grid

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# strict: a broken link or anchor, a page left out of the nav, or a public name of the API
# reference without a docstring fails the build. `python -m mkdocs`, not the mkdocs
# script: the script's folder (.venv/bin) would come first on sys.path, and griffe would
# take the `hyperplug` console script there for the package.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Universal (every OS and Python the package supports), for the dev, bench and every
# plugin extra; constraints.txt holds the versions chosen by hand (torch above all).
lock: $(STAMP)
	$(BIN)/python -m uv pip compile --quiet pyproject.toml --extra dev --extra bench \
		-c constraints.txt --universal --python-version 3.11 \
		--custom-compile-command 'make lock' -o $(LOCK)

clean:
	rm -rf $(VENV) .hyperplug .pytest_cache .ruff_cache site
