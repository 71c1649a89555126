# Provenant. `make run` serves a demo on http://127.0.0.1:$(PORT); `make test` runs every CI check.
# Both create .venv (python3 -m venv) and install the project into it on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
# Rebuilt whenever the lock or pyproject.toml changes (or .venv is deleted).
INSTALLED := $(VENV)/.provenant-installed
# Every dependency pinned with its hashes (pip-tools): base.lock the runtime (the Docker image), dev.lock runtime
# + dev (make run, make test). `make lock` regenerates both from pyproject.toml.
BASE_LOCK := requirements/base.lock
DEV_LOCK := requirements/dev.lock
PIP_COMPILE_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
# Debian packages: Pango and fonts for the PDF report (WeasyPrint); Chromium for the browser tests, driven by
# Playwright for Python (never a browser Playwright downloads itself).
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core
TEST_PACKAGES := $(RUN_PACKAGES) chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# Installs the Debian packages in $(1) that are missing (apt-get, as root or through sudo). Elsewhere it
# names them and goes on: install their equivalents yourself.
define debian_packages
	@missing=""; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "not a Debian system: make sure these (or their equivalents) are installed: $(1)"; exit 0; \
	fi; \
	for package in $(1); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

.DEFAULT_GOAL := help
.PHONY: help install lock lock-upgrade system-packages test-system-packages run test test-fast lint typecheck bench clean distclean

help:
	@echo "make run        migrate, seed the demo organization, serve on 127.0.0.1:$(PORT) with a Celery worker"
	@echo "                (SQLite under var/, no server needed; PORT=8001 make run for another port)"
	@echo "make test       ruff, mypy, migration check, OpenAPI check and pytest on PostgreSQL + Redis (127.0.0.1)"
	@echo "make test-fast  the inner loop: ruff and pytest without the integration and browser suites"
	@echo "make lint       ruff only;  make typecheck: mypy"
	@echo "make bench      consent-ingest benchmark (bench/*.py has the others)"
	@echo "make lock       re-pin requirements/*.lock (with hashes) after editing pyproject.toml; lock-upgrade: newest"
	@echo "make clean      caches and collected static files;  make distclean: also .venv and var/"

# Only what the lock names, each file checked against its hash; then the project itself and its Python client
# (clients/python: httpx, requests and cryptography are in the lock), without dependencies and with the locked
# setuptools as its build backend.
$(INSTALLED): pyproject.toml clients/python/pyproject.toml $(DEV_LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . -e ./clients/python
	touch $@

install: $(INSTALLED)

# Re-pins after a change to pyproject.toml, keeping every version that still fits; lock-upgrade takes the newest
# of everything. Commit both files. Needs pip-tools (in the dev extra): bootstraps it in .venv when missing.
lock:
	test -x $(BIN)/pip-compile || { test -x $(PY) || $(PYTHON) -m venv $(VENV); $(PY) -m pip install --quiet pip-tools; }
	$(BIN)/pip-compile $(PIP_COMPILE_FLAGS) --output-file $(BASE_LOCK) pyproject.toml requirements/build.in
	$(BIN)/pip-compile $(PIP_COMPILE_FLAGS) --extra dev --output-file $(DEV_LOCK) pyproject.toml requirements/build.in

lock-upgrade:
	$(MAKE) lock PIP_COMPILE_FLAGS="$(PIP_COMPILE_FLAGS) --upgrade"

system-packages:
	$(call debian_packages,$(RUN_PACKAGES))

test-system-packages:
	$(call debian_packages,$(TEST_PACKAGES))

# Development settings (SQLite in var/ unless DATABASE_URL is set; filesystem Celery broker unless
# CELERY_BROKER_URL is set). Every step is idempotent: run it as often as you like.
run: export DJANGO_SETTINGS_MODULE := config.settings.base
run: $(INSTALLED) system-packages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	$(PY) manage.py run_dev --port $(PORT)

# PostgreSQL and Redis on 127.0.0.1 (DATABASE_URL / CELERY_BROKER_URL override config/settings/test.py).
# makemigrations --check: no database holds applied migrations here, so only that warning is silenced.
# pytest's exit code 5 (no tests collected) fails the target like any other failure.
test: export DJANGO_SETTINGS_MODULE := config.settings.test
test: $(INSTALLED) test-system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(PY) -W "ignore:Got an error checking a consistent migration history:RuntimeWarning" \
		manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: everything but the suites that start Celery workers, HTTP servers and Chromium.
test-fast: export DJANGO_SETTINGS_MODULE := config.settings.test
test-fast: $(INSTALLED)
	$(BIN)/ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not integration and not browser" $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .

typecheck: $(INSTALLED)
	$(BIN)/mypy .

bench: $(INSTALLED)
	$(PY) bench/consent_ingest.py

clean:
	rm -rf staticfiles build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also deletes the development database, its generated secrets, the admin password and the demo key.
distclean: clean
	rm -rf $(VENV) var
