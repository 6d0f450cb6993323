# Cartable: `make dev` runs the whole local stack, `make test` runs every test.
# Both install what they need: a virtualenv and Debian's clamav-daemon (as root).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= eu-west-3

.PHONY: dev test check lint typecheck unit integration bench deps system-deps clean

dev: deps
	$(BIN)/python -m local.stack $(DEV_ARGS)

test: deps check
	$(BIN)/pytest $(PYTEST_ARGS)

check: lint typecheck

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

# Figures, not assertions: each script prints a table and a JSON line (see BENCHMARKS.md).
bench: deps
	$(BIN)/python -m bench.zip_memory

unit: deps
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: deps
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

deps: system-deps $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# clamd and libmagic come from Debian; we never download signatures (the project builds its own).
system-deps:
	@if ! command -v clamd >/dev/null 2>&1 && [ ! -x /usr/sbin/clamd ] || [ ! -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] && ! ldconfig -p | grep -q libmagic.so.1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's clamav-daemon and libmagic1..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon libmagic1 >/dev/null; \
	  else \
	    echo "clamd or libmagic is missing: run 'sudo apt-get install clamav-daemon libmagic1', then this command again." >&2; \
	    exit 1; \
	  fi; \
	fi

clean:
	rm -rf .build .mypy_cache .ruff_cache .pytest_cache
