# Cartable: `make dev` runs the whole local stack, `make test` runs every test.
# Both install what they need: a virtualenv and Debian's clamav-daemon (as root); `make test` also Debian's chromium.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= eu-west-3

.PHONY: dev test check lint typecheck unit integration browser bench package lint-template deps system-deps browser-deps clean

dev: deps
	$(BIN)/python -m local.stack $(DEV_ARGS)

test: deps browser-deps check package lint-template
	$(BIN)/pytest $(PYTEST_ARGS)

check: lint typecheck

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

# Figures, not assertions: each script prints a table and a JSON line (see BENCHMARKS.md).
# BENCH_QUICK=1 scales them down; BENCH="cold_start scan_throughput" runs only those.
bench: deps
	$(BIN)/python -m bench.run_all $(BENCH)

# The SAM templates for AWS, offline (no credentials): .build/package/<stage>/sam.json (see README, Deploy).
PACKAGE_STAGES ?= dev prod
package: deps
	$(BIN)/python -m infra.package $(PACKAGE_STAGES)

lint-template: package
	$(BIN)/cfn-lint $(foreach stage,$(PACKAGE_STAGES),.build/package/$(stage)/sam.json)

unit: deps
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: deps
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# The web client in a real browser (Playwright driving Debian's chromium); screenshots in tests/artifacts/.
browser: deps browser-deps
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

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

# The browser tests drive Debian's chromium through Playwright; no browser is ever downloaded.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium', then this command again." >&2; \
	    exit 1; \
	  fi; \
	fi

clean:
	rm -rf .build .mypy_cache .ruff_cache .pytest_cache
