# youtube-etl — `make run` runs the pipeline locally, `make test` runs lint and every test.
# Each target installs what it needs from pyproject.toml/uv.lock into .venv on first use.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE := ../shared/data/youtube
# make run's default: E -> T -> L over the recorded days of $(SAMPLE)/rsrishav_trending, which the local
# runtime's YouTube Data API stand-in serves (local/replay.py; DAYS=n for more of them). DATA=folder lands that
# folder's drops instead; DATA=$(QUICKSTART) first splits the sample's datasnaek files into dated daily drops
# (local/drops.py).
QUICKSTART := .data/quickstart
DATA ?=
DAYS ?= 3
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1

.PHONY: help
help: ## Show this help
	@echo "youtube-etl — YouTube trending analytics on AWS, runnable locally"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: check-prereqs
check-prereqs: ## Check Python 3.11+ and Java 17+ are on this machine
	@bash scripts/check_prereqs.sh

$(VENV)/.synced: pyproject.toml uv.lock | check-prereqs
	@$(UV) --version >/dev/null 2>&1 || { echo "installing uv from the package registry"; $(PYTHON) -m pip install --quiet uv; }
	$(UV) sync --frozen --compile-bytecode
	@touch $@

.PHONY: install
install: $(VENV)/.synced ## Create .venv from uv.lock (done automatically by run/test)

# Every Glue driver JVM maps this archive of the classes Spark loads instead of parsing them anew: a cold job
# run takes about 30% less time (bench/bench_executors_glue.py). Built once per JDK and PySpark, in .venv.
.PHONY: spark-classes
spark-classes: install ## Build the Spark drivers' class archive (once, ~35 s; done automatically by run/test)
	@$(PY) -m localaws spark-classes >/dev/null

.PHONY: run
run: install spark-classes ## Run extract -> ingest -> reporting locally over recorded days (DAYS=3), or a folder's drops (DATA=folder)
ifeq ($(DATA),)
	$(PY) -m local.pipeline --days "$(DAYS)"
else
ifeq ($(patsubst %/,%,$(DATA)),$(QUICKSTART))
	$(PY) -m local.drops --source "$(SAMPLE)" --out "$(QUICKSTART)"
endif
	$(PY) -m local.pipeline --data "$(DATA)"
endif

.PHONY: query
query: install ## Athena query against the lake the last run left (SQL="select ..."; default database: analytics)
	@test -n "$(SQL)" || { echo 'usage: make query SQL="select ..."' >&2; exit 2; }
	@$(PY) -m local query "$$SQL"

.PHONY: cat
cat: install ## Write an object of the lake the last run left to stdout (URI=s3://bucket/key, e.g. a quarantine copy)
	@test -n "$(URI)" || { echo 'usage: make cat URI=s3://bucket/key' >&2; exit 2; }
	@$(PY) -m local cat "$$URI"

.PHONY: lint
lint: install ## ruff (incl. Airflow AIR rules) and mypy on plugins/ and include/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check plugins include localaws local dashboard infra dags tests bench
	$(VENV)/bin/mypy plugins/youtube_etl include local localaws dashboard --exclude localaws/tests/

# make test's pytest-xdist workers: the end-to-end modules in turn on one, the other modules shared by both
# (tests/conftest.py schedules them); TEST_WORKERS=1 runs one worker. make test-fast's modules mostly wait
# (polls, retries, servers), so three workers share them on two cores: 211 s vs 292 s with two, 227 s with
# four (load 2-4, 1,369 tests); FAST_WORKERS=1 runs one.
TEST_WORKERS ?= 2
FAST_WORKERS ?= 3
# Each run leaves its junit report and the load average sampled while it ran: python -m bench suite prints
# the duration of every module from them.
TEST_REPORT = artifacts/test-report.xml
TEST_LOAD_LOG = artifacts/test-load.jsonl
FAST_REPORT = artifacts/test-fast-report.xml
FAST_LOAD_LOG = artifacts/test-fast-load.jsonl

.PHONY: test
test: lint spark-classes ## Lint, then every test (unit, DAG integrity, AWS-level on the local runtime, infra, e2e)
	LOAD_LOG=$(TEST_LOAD_LOG) $(VENV)/bin/pytest -n $(TEST_WORKERS) --junitxml=$(TEST_REPORT) $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: lint ## The inner loop: lint, then every test but Spark and end-to-end runs (-m "not spark and not slow")
	LOAD_LOG=$(FAST_LOAD_LOG) $(VENV)/bin/pytest -n $(FAST_WORKERS) -m "not spark and not slow" \
		--junitxml=$(FAST_REPORT) $(PYTEST_ARGS)

.PHONY: bench
bench: install spark-classes ## Benchmarks: figures printed side by side with their reference
	$(PY) -m bench

.PHONY: clean
clean: ## Remove generated files, the quickstart drops and the lake make run left (keeps .venv)
	rm -rf out .data .lake .pytest_cache .mypy_cache .ruff_cache cdk.out artifacts

# Area-specific targets (infra, airflow, dashboard, ...) live in mk/*.mk.
-include mk/*.mk
