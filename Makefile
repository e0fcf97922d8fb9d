# inkasso-airflow: `make demo` runs one day of the daily cycle, `make test` runs the tests.
# Both create what they need: the virtualenv (.venv) and an Airflow home inside the project.

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export PYTHONPATH := $(CURDIR)/plugins

.PHONY: demo test lint format bench bench-large airflow services clean-demo venv fuzz

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

$(AIRFLOW_HOME)/.migrated: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	touch $@

## demo: the next day of the daily cycle on the embedded default (SQLite, SFTP agency simulator)
demo: $(AIRFLOW_HOME)/.migrated
	$(PY) -m inkasso.demo

## test: lint and the whole test suite (SQLite and PostgreSQL on 127.0.0.1:5432)
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

## fuzz: every reader against long Hypothesis runs of mutated files (FUZZ_EXAMPLES per format)
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=long $(VENV)/bin/pytest -q -m fuzz -p no:cacheprovider tests/inkasso/formats/test_fuzz_readers.py

## bench-large: dispatch at 1M invoices (PostgreSQL and SQLite, beside the floor), then the peak
## memory at 1M and 10M invoices (PostgreSQL); outside CI: an hour or more on 2 cores
bench-large: $(VENV)/.installed
	$(PY) bench/bench_dispatch.py --invoices 1000000
	$(PY) bench/bench_dispatch.py --memory-only --invoices 1000000 10000000

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: the benchmarks under bench/ (print figures)
bench: $(VENV)/.installed
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

## airflow: the embedded default under a real Airflow on the demo's Airflow home: services (agency
## SFTP simulator, SMTP sink), connections file, api-server (http://127.0.0.1:8080), scheduler,
## dag-processor, triggerer with the LocalExecutor, the five DAGs and inkasso_demo_day. Ctrl-C stops.
airflow: $(AIRFLOW_HOME)/.migrated
	PATH="$(VENV)/bin:$$PATH" $(PY) -m inkasso.simulator.stack

## services: only the demo world's services (agency SFTP simulator, SMTP sink) and the connections file
services: $(AIRFLOW_HOME)/.migrated
	$(PY) -m inkasso.simulator.serve

## clean-demo: forget the demo's days and start again from the first one
clean-demo:
	rm -rf $(AIRFLOW_HOME)/inkasso-demo $(AIRFLOW_HOME)/inkasso-files
