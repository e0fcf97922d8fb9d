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

.PHONY: demo test coverage lint format bench bench-large airflow airflow-celery compose-config services clean-demo venv fuzz

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
	$(PY) -m inkasso_demo.demo

## test: lint and the whole test suite (SQLite and PostgreSQL on 127.0.0.1:5432), in
## TEST_WORKERS processes (pytest-xdist; default 2, 1 runs them in this process). A test file
## stays in one process, in its order; the slowest files start first (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

## coverage: the suite without the real-scheduler tests under coverage, then the product's line
## coverage (plugins/inkasso, the UI plugin, the five DAG files; not the demo world)
coverage: $(VENV)/.installed
	$(VENV)/bin/coverage erase
	$(VENV)/bin/coverage run -m pytest -q -p no:cacheprovider --ignore=tests/scheduler --ignore=tests/ui
	$(VENV)/bin/coverage run --append -m pytest -q -p no:cacheprovider tests/ui
	$(VENV)/bin/coverage report --sort=cover | tail -25

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

## bench: every benchmark at the scales of issue 12, in one run, then one table of them all
## (flow, scale, database, seconds, floor, ratio, target, peak RSS; bench/table.py): dispatch
## at 500 000 and 1 000 000 invoices, inbound at 200 000 and 1 000 000 closures, bank import at
## 300 000 and 1 000 000 payments, corrections, BgMax parse (and its 500 MB files) and the format
## engine at 300 000, big files (a bank file, and a closure file of about 1 000 000 closures through
## the inbound flow's own chunked path, process_received), the Inkasso view (1M cases) and the demo day at their defaults.
## About 25-30 minutes on 2 quiet cores, the first filling of the view's 1M cases (about 6)
## included (a timed run on a fresh clone, 2026-12-07). A script that fails does
## not stop the others: the table is printed, then make fails naming it. Smaller:
## `make bench BENCH_SCALE=small` (100 000 invoices, 50 000 rows elsewhere, 5-50 MB files,
## 100 000 cases in a database of their own; about 10 minutes, an estimate), or set any
## script's arguments, e.g. `make bench BENCH_INBOUND=50000 BENCH_DISPATCH="--invoices 100000"`.
BENCH_TABLE := $(AIRFLOW_HOME)/bench-table.jsonl
BENCH_FAILED := $(AIRFLOW_HOME)/bench-failed.txt
BENCH_SCALE ?= full
ifeq ($(BENCH_SCALE),full)
BENCH_DISPATCH ?= --invoices 500000 1000000
BENCH_INBOUND ?= 200000 1000000
BENCH_BANK_IMPORT ?= 300000 1000000
BENCH_CORRECTIONS ?= 300000
BENCH_BANK_PARSE ?= 300000
BENCH_FORMAT ?= 300000
BENCH_BIG_FILES ?=
BENCH_BIG_INBOUND ?= --inbound --mb 122
BENCH_UI ?=
else ifeq ($(BENCH_SCALE),small)
BENCH_DISPATCH ?= --invoices 100000
BENCH_INBOUND ?= 50000
BENCH_BANK_IMPORT ?= 50000
BENCH_CORRECTIONS ?= 50000
BENCH_BANK_PARSE ?= 50000 --big 50
BENCH_FORMAT ?= 50000
BENCH_BIG_FILES ?= --mb 5
BENCH_BIG_INBOUND ?= --inbound --mb 6
BENCH_UI ?= --cases 100000 --database inkasso_bench_ui_small
else
$(error BENCH_SCALE is full or small)
endif
BENCH_DEMO_DAY ?=
# one benchmark script: its rows go to $(BENCH_TABLE); a failure is noted, the run goes on
bench_run = BENCH_TABLE=$(BENCH_TABLE) $(PY) bench/$(1) || echo "$(1)" >> $(BENCH_FAILED)
bench: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME) && rm -f $(BENCH_FAILED) && : > $(BENCH_TABLE)
	$(call bench_run,bench_dispatch.py $(BENCH_DISPATCH))
	for n in $(BENCH_INBOUND); do $(call bench_run,bench_inbound.py --rows $$n); done
	for n in $(BENCH_BANK_IMPORT); do $(call bench_run,bench_bank_import.py --payments $$n); done
	$(call bench_run,bench_corrections.py $(BENCH_CORRECTIONS))
	$(call bench_run,bench_bank_parse.py $(BENCH_BANK_PARSE))
	$(call bench_run,bench_format.py $(BENCH_FORMAT))
	$(call bench_run,bench_big_files.py $(BENCH_BIG_FILES))
	$(call bench_run,bench_big_files.py $(BENCH_BIG_INBOUND))
	$(call bench_run,bench_ui.py $(BENCH_UI))
	$(call bench_run,bench_demo_day.py $(BENCH_DEMO_DAY))
	$(PY) bench/table.py $(BENCH_TABLE)
	@if [ -s $(BENCH_FAILED) ]; then echo "failed:"; cat $(BENCH_FAILED); exit 1; fi

## airflow: the embedded default under a real Airflow on the demo's Airflow home: services (agency
## SFTP simulator, SMTP sink, agency robot, demo bank), connections file, api-server (http://127.0.0.1:8080), scheduler,
## dag-processor, triggerer with the LocalExecutor, the five DAGs and inkasso_demo_day. Ctrl-C stops.
airflow: $(AIRFLOW_HOME)/.migrated
	PATH="$(VENV)/bin:$$PATH" $(PY) -m inkasso_demo.simulator.stack

## airflow-celery: the same with the CeleryExecutor and a separate `airflow celery worker`: Redis
## broker on 127.0.0.1:6379, Airflow's metadata (and Celery's results) in the PostgreSQL database
## $(CELERY_META_DB) on 127.0.0.1:5432, created when missing
CELERY_META_DB ?= inkasso_airflow
PG ?= postgresql+psycopg2://postgres@127.0.0.1:5432
airflow-celery: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$(CELERY_META_DB)'" | grep -q 1 \
	  || createdb -h 127.0.0.1 -U postgres $(CELERY_META_DB)
	AIRFLOW__CORE__EXECUTOR=CeleryExecutor \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$(PG)/$(CELERY_META_DB) \
	AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql://postgres@127.0.0.1:5432/$(CELERY_META_DB) \
	AIRFLOW__CELERY__BROKER_URL=redis://127.0.0.1:6379/0 \
	PATH="$(VENV)/bin:$$PATH" $(PY) -m inkasso_demo.simulator.stack

## compose-config: validate docker-compose.yaml (needs docker-compose)
compose-config:
	docker-compose -f docker-compose.yaml config -q

## services: only the demo world's services (agency SFTP simulator, SMTP sink, agency robot, demo
## bank) and the connections file; ports INKASSO_DEMO_SFTP_PORT / _SMTP_PORT, polls INKASSO_DEMO_POLL_SECONDS
services: $(AIRFLOW_HOME)/.migrated
	$(PY) -m inkasso_demo.simulator.stack --services-only

## clean-demo: forget the demo's days and start again from the first one
clean-demo:
	rm -rf $(AIRFLOW_HOME)/inkasso-demo $(AIRFLOW_HOME)/inkasso-files
