# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export CRM_ENV ?= development

.PHONY: security messages install translations migrate seed run test browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,server,distributed]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile -d crm/translations >/dev/null

install: $(STAMP) translations

migrate: install
	$(BIN)/crm db upgrade

seed: migrate
	$(BIN)/crm demo seed --if-empty --customers 3000

# The web app and, beside it, the scheduler process (nightly runs and runs queued from the UI).
run: seed
	@echo ""
	@cat instance/demo-logins.txt 2>/dev/null || true
	@echo "Serving on http://127.0.0.1:5000 with the scheduler beside it (Ctrl-C stops both)"
	@$(BIN)/crm scheduler run >instance/scheduler.log 2>&1 & sched=$$!; \
	  trap 'kill $$sched 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/crm run --host 127.0.0.1 --port 5000

# Debian's Chromium for the browser tests (Playwright cannot download its own here), and a
# CJK font so that screenshots of the Chinese UI are legible.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; } || { \
	  echo "installing Debian's chromium and a CJK font for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

test: install browser
	CRM_ENV=test $(BIN)/python -m pytest $(PYTEST_ARGS)

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
