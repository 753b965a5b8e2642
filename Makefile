# Changeflow: `make run` serves the API with the shipped processes; `make test` runs every test.
# Both set up a virtual environment in .venv first (Python 3.11+ and pip are all they need).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The suite runs on SQLite always, and on PostgreSQL when this server is reachable (else those tests skip).
CHANGEFLOW_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
export CHANGEFLOW_TEST_POSTGRES_URL

.PHONY: setup run test lint bench clean assets browsers screenshots

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/python app.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Two workers, one per core (-n auto). Each test file runs whole on one worker, in order (--dist loadfile): the
# browser journeys build on each other.
test: lint
	$(BIN)/pytest -n auto --dist loadfile

# The diagram viewer bundle (web/static/diagram-viewer.*) is committed, so `make run` needs no Node. After
# changing web/assets/ (sources, package.json, lockfile), rebuild it with Node 20+ and npm, and commit it.
assets:
	cd web/assets && npm ci --no-audit --no-fund && npm run build

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser download is not used).
browsers:
	apt-get install -y chromium

# Screenshots of the main pages for the README, taken by the browser journeys.
screenshots: setup
	CHANGEFLOW_SCREENSHOTS=docs/images CHANGEFLOW_REQUIRE_BROWSER=1 $(BIN)/pytest tests/browser -q

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
