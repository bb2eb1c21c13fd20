# `make run` and `make test` work on a fresh clone with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed
DEV_ENV := MEMBERSHIP_ENV=development FLASK_APP=wsgi

.PHONY: run test lint install browser clean messages

# Compiled message catalogues, built from the translations kept in git.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard membership/translations/*/LC_MESSAGES/messages.po))

install: $(STAMP) $(CATALOGUES)

# Reinstall whenever the pins change; requirements.lock fixes every transitive version.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@ >/dev/null

# After changing strings: extract them again and merge them into every catalogue; new
# strings come out untranslated and the catalogue test names them.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --no-wrap --sort-output \
	  --project membership -o membership/translations/messages.pot .
	$(BIN)/pybabel -q update -i membership/translations/messages.pot -d membership/translations \
	  --no-wrap --no-fuzzy-matching --ignore-obsolete

run: $(STAMP) $(CATALOGUES)
	$(DEV_ENV) $(BIN)/flask db upgrade
	$(DEV_ENV) $(BIN)/flask seed-demo --donations 2000
	@echo ""
	@echo "  Membership is running at http://127.0.0.1:$(PORT)/"
	@echo ""
	$(DEV_ENV) $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

test: $(STAMP) $(CATALOGUES)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# bandit reads the app's code (tests assert and use fixed secrets on purpose); each
# exclusion is a `# nosec` with its reason on the line above.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit --quiet --recursive membership wsgi.py

# Debian's Chromium for the browser tests (Playwright's own download needs the internet),
# and axe-core from npm for their accessibility checks.
browser:
	bash scripts/install-chromium.sh
	bash scripts/install-axe.sh

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts node_modules
