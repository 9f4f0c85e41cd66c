# Stargate Portal — the two commands: `make run` and `make test` (and `make serve`).
# The first of python3.11, python3.12, python3.13, python3 that runs and is 3.11–3.13;
# PYTHON=… chooses another.
ifndef PYTHON
PYTHON := $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' \
	>/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
METRICS_DIR := $(CURDIR)/var/metrics

.PHONY: run serve test lint architecture typecheck migrations-check pytest pytest-sqlite fuzz \
	bench install install-dev seed clean slurm-up slurm-down run-slurm

# What the platform needs to run (requirements.txt); `make test` adds the dev tools.
$(RUNTIME): requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11, 3.12 or 3.13 is needed (or PYTHON=…)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(RUNTIME)

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(DEV)

install: $(RUNTIME)
install-dev: $(DEV)

# Development: web on http://127.0.0.1:8000 (runserver; PORT=… for another), one Celery worker for every queue,
# beat and a demo workload (Procfile.dev); SQLite, embedded broker, simulated cluster.
# Ctrl-C stops them all.
run: export DEBUG ?= true
run: export PROMETHEUS_MULTIPROC_DIR = $(METRICS_DIR)
run: $(RUNTIME)
	mkdir -p var/broker/queue var/broker/processed
	mkdir -p $(METRICS_DIR) && find $(METRICS_DIR) -maxdepth 1 -name '*.db' -delete
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py demo_site
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile.dev -p $${PORT:-8000}

# Production on one machine: every process of the Procfile (gunicorn, the general worker,
# the admission worker, beat), each started by `manage.py start`. Needs the production
# environment (SECRET_KEY, ALLOWED_HOSTS, SITE_URL, DATABASE_URL …): see docs/deploy.md.
serve: export PROMETHEUS_MULTIPROC_DIR ?= $(METRICS_DIR)
serve: $(RUNTIME)
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"
	find "$$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -f Procfile -p $${PORT:-8000}

# The local Slurm test cluster (Debian's packages, fake GPU nodes gpu1-2: 8 x h100, gpu3: 4 x
# a100), and the platform running against it instead of the simulator.
SLURM_STATE_DIR ?= /tmp/stargate-slurm
SLURM_LOCAL_CONF := $(SLURM_STATE_DIR)/etc/slurm.conf

slurm-up:
	bash deploy/slurm/up.sh $(SLURM_STATE_DIR)
	@echo "export SLURM_CONF=$(SLURM_LOCAL_CONF)"

slurm-down:
	bash deploy/slurm/down.sh $(SLURM_STATE_DIR)

run-slurm: export CLUSTER_BACKEND = slurm
run-slurm: export SLURM_CONF ?= $(SLURM_LOCAL_CONF)
run-slurm:
	SLURM_CONF=$(SLURM_CONF) scontrol ping >/dev/null 2>&1 || bash deploy/slurm/up.sh $(SLURM_STATE_DIR)
	$(MAKE) run

seed: $(RUNTIME)
	$(BIN)/python manage.py seed_demo

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The import-linter contracts in pyproject.toml: features depend one way, no cycles, the
# policy stays pure, services never import pages.
architecture: $(DEV)
	$(BIN)/lint-imports

typecheck: $(DEV)
	$(BIN)/mypy stargate_portal accounts booking

migrations-check: $(DEV)
	DJANGO_SETTINGS_MODULE=stargate_portal.settings_test $(BIN)/python manage.py makemigrations --check --dry-run

pytest: $(DEV)
	$(BIN)/pytest $(PYTEST_ARGS)

# The suite on the embedded default `make run` uses (SQLite, the embedded broker), whatever
# DATABASE_URL says; the tests that need PostgreSQL, Redis or Slurm run in `make test`'s pass.
# .ci/run runs both.
pytest-sqlite: $(DEV)
	env -u DATABASE_URL -u CELERY_BROKER_URL $(BIN)/pytest -m "not postgres and not redis and not slurm" $(PYTEST_ARGS)

# The whole suite: lint, architecture, types, migrations, tests. DATABASE_URL=postgres://… runs it on PostgreSQL.
test: lint architecture typecheck migrations-check pytest

# A larger API fuzzing campaign than the bounded one `make test` runs: more examples per
# operation and schemathesis' coverage phase (every boundary case). PostgreSQL: DATABASE_URL.
fuzz: $(DEV)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} FUZZ_COVERAGE=1 $(BIN)/pytest tests/infra/test_api_fuzz.py $(PYTEST_ARGS)

# The policy alone; then, when DATABASE_URL points at PostgreSQL, whole cycles on a scratch
# database next to it (created by the benchmark, kept for the next steps), every route of it
# with hostile query strings and every form posted with hostile input (on a copy of it), requests
# while the broker or the cache stops answering and behind a locked table (on another copy), requests against gunicorn with 32 clients
# on that site and on the demo site, then every other GET route of both once at a time (then
# both dropped); reconcile with
# 60,000 active jobs; a replay of a mixed workload (waits per tier, utilisation); capacity bookings (availability and
# concurrent bookings with 100,000 bookings stored, on a scratch database of their own); energy
# reports over 1,000,000 job energy records (scratch database too); a call of 3,000
# applications under review (the rankings and the reviewers' inboxes, scratch database); then,
# when SLURM_CONF names a reachable cluster (make slurm-up), submissions and reconciles against
# Slurm.
bench: $(RUNTIME)
	$(BIN)/python -m booking.scheduler.benchmark
	$(BIN)/python -m booking.admission.benchmark --keep
	$(BIN)/python -m booking.admission.form_sweep
	$(BIN)/python -m booking.admission.outage_benchmark
	$(BIN)/python -m booking.admission.load_benchmark --drop-site
	$(BIN)/python -m booking.admission.reconcile_bench
	$(BIN)/python -m booking.admission.replay_benchmark
	$(BIN)/python -m booking.capacity.benchmark
	$(BIN)/python -m booking.energy.benchmark
	$(BIN)/python -m booking.grants.benchmark
	$(BIN)/python -m booking.admission.slurm_benchmark

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
