# Client Roi: the two commands (make run, make test) and their helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CLIENTROI_DB ?= data/clientroi.duckdb
LOCK := requirements/runtime.txt
LOCK_DEV := requirements/dev.txt
# make test runs on every core (pytest-xdist); TEST_WORKERS=0 runs in one process
TEST_WORKERS ?= auto
UV_VERSION := 0.13.9

.PHONY: run test lint format bench chromium postgresql axe clean help lock lock-upgrade

help:
	@echo "make run    - install if needed, create the database, serve http://localhost:8501"
	@echo "make test   - install with the dev extras (and Chromium), lint, run every test"
	@echo "make bench  - benchmarks (pytest-benchmark, lifelines), figures in docs/benchmarks.md"
	@echo "make lint   - ruff check and format check"
	@echo "make lock   - update requirements/*.txt after a change in pyproject.toml"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Client Roi needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions, hashes checked: the same database gives
# byte-identical snapshots on every machine); pyproject.toml keeps the ranges. The project
# itself is then installed editable without dependencies.
$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(LOCK_DEV) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: $(VENV)/.installed-dev  # one lock for dev and bench
	@touch $@

# After a change of the ranges in pyproject.toml: make lock (keeps every other pin);
# make lock-upgrade moves every pin to the newest version the ranges allow. Commit both files.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' --quiet

lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(UV_COMPILE) $(UPGRADE) -o $(LOCK)
	$(UV_COMPILE) $(UPGRADE) --extra dev --extra bench -o $(LOCK_DEV)

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

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

# The PostgreSQL store's tests start their own server (initdb, pg_ctl) in a temporary folder.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's postgresql for the PostgreSQL store tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	else \
		echo "PostgreSQL is not installed: its store tests will be skipped"; \
		echo "    sudo apt-get install postgresql    (Debian/Ubuntu)"; \
	fi

# axe-core, the accessibility rules the browser tests inject (tests/test_accessibility.py): the
# exact version and its integrity hash are in package-lock.json; npm ci installs only that, into
# node_modules/ (git-ignored), and runs no install script. Nothing is fetched while tests run.
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's npm for the accessibility tests"; \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; \
		else \
			echo "The accessibility tests need npm (sudo apt-get install npm), then make test again"; \
			exit 1; \
		fi; }
	npm ci --ignore-scripts --no-audit --no-fund --silent
	@touch $@

axe: $(AXE)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: chromium postgresql axe lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --doctest-modules analysis survey tests \
		--ignore-glob='analysis/*_page.py' --ignore-glob='survey/*_page.py'

bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest bench --benchmark-only -p no:cacheprovider -o python_files="bench_*.py" --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules
