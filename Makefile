# Client Roi: the two commands (make run, make test) and their helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CLIENTROI_DB ?= data/clientroi.duckdb

.PHONY: run test lint format bench chromium clean help

help:
	@echo "make run    - install if needed, create the database, serve http://localhost:8501"
	@echo "make test   - install with the dev extras (and Chromium), lint, run every test"
	@echo "make bench  - benchmarks (pytest-benchmark, lifelines), figures in docs/benchmarks.md"
	@echo "make lint   - ruff check and format check"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Client Roi needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@ $(VENV)/.installed-dev $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/clientroi serve

chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; \
	else \
		echo "The browser tests need Chromium. Install it, then run make test again:"; \
		echo "    sudo apt-get install chromium    (Debian/Ubuntu)"; \
		exit 1; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: chromium lint
	$(BIN)/python -m pytest --doctest-modules analysis tests --ignore-glob='analysis/*_page.py'

bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest bench --benchmark-only -p no:cacheprovider -o python_files="bench_*.py" --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
