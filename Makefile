# Cartable: `make dev` runs the whole local stack, `make test` runs every test.
# Both install what they need: a virtualenv and Debian's clamav-daemon and libmagic (as root);
# `make test` also Debian's chromium. infra/system-deps says what it installs, or what to run.

SHELL := /bin/bash
# The newest Python >= 3.12 on PATH or under pyenv (infra/find-python); `make PYTHON=...` chooses one.
# The venv, the tests and `chalice package` (hence the Lambda runtime) all use it.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell infra/find-python)
else
PYTHON := $(shell infra/find-python "$(PYTHON)")
endif
ifeq ($(PYTHON),)
$(error no Python 3.12 or newer: see the message above)
endif
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(PYTHON_VERSION)
export AWS_DEFAULT_REGION ?= eu-west-3

.PHONY: dev try migrate lock test check lint typecheck unit integration integration-postgres browser bench package lint-template deps system-deps browser-deps oidc-deps amqp-deps pg-deps clean

dev: deps oidc-deps $(if $(filter postgres,$(CATALOG)),pg-deps)
	$(BIN)/python -m local.stack $(DEV_ARGS)

# With `make dev` running: grant, upload, wait for the scan, download (the README's quickstart).
try: deps
	$(BIN)/python -m local.quickstart

# Every test on DynamoDB (moto), then the catalog-dependent integration tests again on PostgreSQL (a server
# of the run's own, tests/postgres.py). The fault table gets a column per catalog (tests/artifacts/faults.md);
# the first pass starts it afresh. PYTEST_ARGS goes to both passes; the second runs even when the first
# failed (one CI run tells both), and `make test` fails if either did.
test: deps browser-deps oidc-deps amqp-deps pg-deps check package lint-template
	rm -f tests/artifacts/faults-*.json tests/artifacts/faults.md
	$(BIN)/pytest $(PYTEST_ARGS); first=$$?; $(POSTGRES_PASS) && exit $$first

# The second pass alone: tests/integration (or the paths in PYTEST_ARGS) on PostgreSQL, but for modules marked
# catalog_independent (pyproject.toml: clamd and content types, or tests that pick their catalogs themselves),
# which the first pass ran. Exit status 5 is "nothing selected" (PYTEST_ARGS=tests/unit), not a failure.
POSTGRES_PASS = CARTABLE_TEST_CATALOG=postgres $(BIN)/pytest -o testpaths=tests/integration \
	-m "integration and not catalog_independent" $(PYTEST_ARGS) || [ $$? -eq 5 ]
integration-postgres: deps pg-deps
	$(POSTGRES_PASS)

check: lint typecheck

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

# The PostgreSQL catalog's schema (migrations/, yoyo) at CARTABLE_DATABASE_URL: what is new, once.
migrate: deps
	$(BIN)/python -m chalicelib.adapters.postgres.migrate

# Figures, not assertions: each script prints a table and a JSON line (see BENCHMARKS.md).
# BENCH_QUICK=1 scales them down; BENCH="cold_start scan_throughput" runs only those.
bench: deps
	$(BIN)/python -m bench.run_all $(BENCH)

# The SAM templates for AWS, offline (no credentials): .build/package/<stage>/sam.json (see README, Deploy).
# `make package STAGE=team-maths` packages that staging alone (infra/stages.py: a-z, 0-9, '-', up to 20).
PACKAGE_STAGES ?= $(if $(STAGE),$(STAGE),dev prod)
package: deps
	$(BIN)/python -m infra.package $(PACKAGE_STAGES)

lint-template: package
	$(BIN)/cfn-lint $(foreach stage,$(PACKAGE_STAGES),.build/package/$(stage)/sam.json)

unit: deps
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: deps
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# The web client in a real browser (Playwright driving Debian's chromium); screenshots in tests/artifacts/.
browser: deps browser-deps oidc-deps
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

deps: system-deps $(STAMP)

# The venv is exactly the hashed lock: requirements-dev.txt holds the runtime closure of requirements.txt
# (what `make package` bundles for Lambda) and the tools, each file with its sha256.
$(STAMP): requirements.txt requirements-dev.txt
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != $(PYTHON_VERSION) ]; then \
	  echo "$(VENV) has another Python than $(PYTHON_VERSION): making it anew"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $(STAMP)

# The locks, compiled from the files edited by hand (requirements.in, requirements-dev.in).
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: deps
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

# clamd, libmagic and its database come from Debian, each checked on its own; we never download
# signatures (the project builds its own). `infra/system-deps --dry-run ...` only says what it would do.
SYSTEM_DEPS ?= clamd libmagic magicdb
system-deps:
	@infra/system-deps $(SYSTEM_DEPS_FLAGS) $(SYSTEM_DEPS)

# The browser tests drive Debian's chromium through Playwright; no browser is ever downloaded.
browser-deps:
	@infra/system-deps chromium

# The RabbitMQ queue's tests (tests/integration/test_amqp_queue.py) start Debian's rabbitmq-server as a node
# of their own (local/rabbitmq.py); its system service is never started.
amqp-deps:
	@infra/system-deps rabbitmq

# The PostgreSQL catalog's tests and `make dev CATALOG=postgres` start a server of their own (initdb in a temp
# dir, local/postgres.py) from Debian's postgresql; its system service is never started.
pg-deps:
	@infra/system-deps $(SYSTEM_DEPS_FLAGS) postgres

# Stage local's OpenID provider (local/oidc, Node's oidc-provider): exactly its lock, once per lock change
# (offline afterwards). npm ci's stamp is node_modules/.package-lock.json, newer than the lock.
OIDC := local/oidc
oidc-deps: $(OIDC)/node_modules/.package-lock.json

$(OIDC)/node_modules/.package-lock.json: $(OIDC)/package.json $(OIDC)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "make: the local OpenID provider needs Node.js >= 20.19 and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@cd $(OIDC) && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error || { \
	  echo "make: npm ci failed in $(OIDC): the registry or npm's cache must hold its locked packages (package-lock.json)" >&2; exit 1; }
	@touch $@

clean:
	rm -rf .build .mypy_cache .ruff_cache .pytest_cache
