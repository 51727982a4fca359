# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# What CI tested is what a fresh machine gets: the installs come from the hashed lock files in
# requirements/ (`make lock` regenerates them from pyproject.toml), the project itself without
# its dependencies on top. `make run` installs the runtime only; `make install` (and so
# `make test`) everything a developer and CI need.
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed
export CRM_ENV ?= development

.PHONY: security messages install runtime translations migrate seed run test browser lint lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A lock file names every package it needs, each pinned and hashed: pip installs exactly those
# (--no-deps) and `pip check` then proves nothing is missing. Resolving them again would let an
# older pip fail on a dependency's extra (pip-audit's CacheControl[filecache]) once a newer
# release of it is out.
$(RUNTIME_STAMP): requirements/runtime.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/runtime.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "the lock files miss what pyproject.toml asks for: run make lock"; exit 1; }
	touch $@

$(STAMP): requirements/dev.txt $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "the lock files miss what pyproject.toml asks for: run make lock"; exit 1; }
	touch $@

translations: $(RUNTIME_STAMP)
	$(BIN)/pybabel compile -d crm/translations >/dev/null

runtime: $(RUNTIME_STAMP) translations

install: $(STAMP) translations

# Regenerate the lock files after a change to pyproject.toml's dependencies. Versions already
# locked are kept (uv prefers the pins in the output file), so rerunning changes only what the
# change needs; `make lock UPGRADE=--upgrade` moves everything to the newest releases.
# dev.txt is constrained by runtime.txt: the runtime packages have the same pins in both.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command "make lock" $(UPGRADE)
lock: | $(BIN)/python
	test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(UV_COMPILE) --extra server -o requirements/runtime.txt
	$(UV_COMPILE) --all-extras -c requirements/runtime.txt -o requirements/dev.txt

migrate: runtime
	$(BIN)/crm db upgrade

seed: migrate
	$(BIN)/crm demo seed --if-empty --customers 3000

# The web app and, beside it, the scheduler process (nightly runs and runs queued from the UI).
PORT ?= 5000
run: seed
	@echo ""
	@cat instance/demo-logins.txt 2>/dev/null || true
	@echo "Serving on http://127.0.0.1:$(PORT) with the scheduler beside it (Ctrl-C stops both)"
	@$(BIN)/crm scheduler run >instance/scheduler.log 2>&1 & sched=$$!; \
	  trap 'kill $$sched 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/crm run --host 127.0.0.1 --port $(PORT)

# Debian's Chromium for the browser tests (Playwright cannot download its own here), and a
# CJK font so that screenshots of the Chinese UI are legible.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; } || { \
	  echo "installing Debian's chromium and a CJK font for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# The suite on every core (pytest-xdist; TEST_WORKERS=0 runs it in this one process). Each
# worker has its own instance directory and PostgreSQL database (tests/conftest.py).
TEST_WORKERS ?= auto
test: install browser
	CRM_ENV=test $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Ruff: lint and format check (CI runs it first; settings in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/import_customers.py

clean:
	rm -rf $(VENV) instance test-artifacts

# After changing UI strings: extract them into the template and merge it into the catalogue, where
# translators fill in the new ones (tests/test_translations.py fails on an untranslated one);
# `make translations` compiles the catalogue. No fuzzy guesses: an unchecked guess would not compile.
MESSAGES_POT := crm/translations/messages.pot
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output \
	  --project insurance-crm --version 1 -o $(MESSAGES_POT) .
	$(BIN)/pybabel update -i $(MESSAGES_POT) -d crm/translations --no-fuzzy-matching

# Static security checks (CI runs them after the tests): bandit must find nothing of medium
# severity or above; pip-audit reports known vulnerabilities in the installed packages.
security: $(STAMP)
	$(BIN)/bandit -q -r crm partners segmentation -ll
	$(BIN)/pip-audit --skip-editable --progress-spinner off
