# Stargate Portal — the two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint architecture typecheck migrations-check pytest bench install seed clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Web on http://127.0.0.1:8000 + Celery worker + Celery beat; SQLite, embedded broker,
# simulated cluster. Ctrl-C stops all three.
run: export DEBUG ?= true
run: $(STAMP)
	mkdir -p var/broker/queue var/broker/processed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py demo_site
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile

seed: $(STAMP)
	$(BIN)/python manage.py seed_demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The import-linter contracts in pyproject.toml: features depend one way, no cycles, the
# policy stays pure, services never import pages.
architecture: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy stargate_portal accounts booking

migrations-check: $(STAMP)
	DJANGO_SETTINGS_MODULE=stargate_portal.settings_test $(BIN)/python manage.py makemigrations --check --dry-run

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The whole suite: lint, architecture, types, migrations, tests. DATABASE_URL=postgres://… runs it on PostgreSQL.
test: lint architecture typecheck migrations-check pytest

# The policy alone; then, when DATABASE_URL points at PostgreSQL, whole cycles on a scratch
# database next to it (created and dropped by the benchmark), and capacity bookings (availability
# and concurrent bookings with 100,000 bookings stored, on a scratch database of their own).
bench: $(STAMP)
	$(BIN)/python -m booking.scheduler.benchmark
	$(BIN)/python -m booking.admission.benchmark
	$(BIN)/python -m booking.capacity.benchmark

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
