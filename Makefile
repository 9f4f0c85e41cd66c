# Stargate Portal — the two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint architecture typecheck migrations-check pytest fuzz bench install seed clean

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

# A larger API fuzzing campaign than the bounded one `make test` runs: more examples per
# operation and schemathesis' coverage phase (every boundary case). PostgreSQL: DATABASE_URL.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} FUZZ_COVERAGE=1 $(BIN)/pytest tests/infra/test_api_fuzz.py $(PYTEST_ARGS)

# The policy alone; then, when DATABASE_URL points at PostgreSQL, whole cycles on a scratch
# database next to it (created and dropped by the benchmark).
bench: $(STAMP)
	$(BIN)/python -m booking.scheduler.benchmark
	$(BIN)/python -m booking.admission.benchmark

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
