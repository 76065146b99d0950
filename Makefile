# The README's two commands are `make demo` and `make test`; both bootstrap .venv.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := node_modules/axe-core/axe.min.js
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install vendor browser-tools browser servers demo test test-fast lint bench serve mlflow-ui stop prod-up prod-down clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=69" wheel

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) $(AXE) vendor  ## Create .venv and install the pinned dependencies (and the npm packages)

# axe-core (the accessibility checker the browser tests run inside the page) comes from
# npm, pinned by package-lock.json; node_modules/ is git-ignored. axe-core is never served.
$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || (echo "Installing npm (Debian package) for axe-core"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null)
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(AXE)
browser-tools: $(AXE)  ## npm ci: axe-core for the browser tests' accessibility checks

# Chart.js (the report's charts), from the same npm ci, copied into the git-ignored static
# vendor folder: the page and the standalone reports never fetch anything at run time.
VENDOR := serving/static/vendor
$(VENDOR)/chart.umd.min.js: $(AXE)
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js $@
vendor: $(VENDOR)/chart.umd.min.js  ## Vendor Chart.js for the page and the reports (npm ci first)

# Browser tests drive Debian's Chromium: Playwright's own browser download cannot work
# offline. Installing a system package needs root (as on CI and the dev machines).
CHROMIUM ?= /usr/bin/chromium
browser:  ## Install Debian's chromium for the browser tests, if missing
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Installing chromium (Debian package) for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The production profile's servers (docs/OPERATIONS.md), from Debian's packages as well.
# `talentmap prod up` installs them too; `make test` installs them first so that the
# profile's end-to-end test runs rather than skips on a fresh machine.
servers:  ## Install Debian's postgresql and redis-server for the production profile, if missing
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then \
		echo "Installing postgresql and redis-server (Debian packages) for the production profile"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null) \
			|| echo "Could not install them: the production-profile test will be skipped"; \
	fi

demo: install  ## Generate a world, retrain on it, serve it; prints a shortlist and the URLs
	$(BIN)/talentmap demo

test: install browser servers  ## Lint (ruff, the layer rule), then run the whole test suite
	$(BIN)/ruff check .
	VENV_BIN=$(abspath $(BIN)) .ci/lint-layers
	$(BIN)/pytest

test-fast: install  ## Unit tests only
	$(BIN)/pytest -m "not e2e"

lint: install  ## ruff check, format check and the layer rule (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	VENV_BIN=$(abspath $(BIN)) .ci/lint-layers

# Feature build, Spark against default (issue 10); add 100000 with SPARK_BENCH_SIZES=5000,100000.
SPARK_BENCH_SIZES ?= 5000

bench: install  ## Benchmarks; results printed and written to benchmarks/results/*.json
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.training
	$(BIN)/python -m benchmarks.serving run
	$(BIN)/python -m benchmarks.serving published
	$(BIN)/python -m benchmarks.model
	$(BIN)/python -m benchmarks.spark_build --sizes $(SPARK_BENCH_SIZES)
	$(BIN)/python -m benchmarks.scale

serve: install  ## Start the shortlist service and web page (127.0.0.1:3000)
	$(BIN)/talentmap serve

mlflow-ui: install  ## MLflow server and UI on the embedded tracking store (127.0.0.1:5000)
	$(BIN)/talentmap mlflow-ui

stop:  ## Stop the service and MLflow UI that `make demo` left running
	$(BIN)/talentmap stop

prod-up: install  ## Production profile: PostgreSQL, Redis, MLflow with auth; writes data/prod/production.env
	$(BIN)/talentmap prod up

prod-down:  ## Stop the production profile's servers (their data stays in data/prod)
	$(BIN)/talentmap prod down

clean:  ## Remove generated data and stores (keeps .venv)
	rm -rf data/lake data/worlds data/features data/feast data/feature-versions data/runs data/audit data/serving data/demo
