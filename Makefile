# The README's two commands: `make demo` (the main job end to end on the local stack) and `make test`.
# Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install tools system-deps demo demo-cluster demo-secure secure-stack-down cluster-up cluster-down smoke bench-ingest bench-changefeed bench-hotpath bench-hotpath-alarms bench-api bench-api-load bench-redis-tls bench-enrich faults serve test test-unit lint format stack-up stack-down stack-status schema manifests strip-notebooks notebooks clean-stack

$(INSTALLED): pyproject.toml setup.cfg smartspaces/pins/requirements.txt smartspaces/pins/requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

system-deps:
	./scripts/install-system-deps.sh

# The Spark connectors are resolved once per pin set (Spark's Ivy, into the project's Ivy cache), so that no job
# resolves them at start-up; a run finds them recorded and starts with spark.jars. The driver JVM's class-data
# archive is built once per JDK and pin set beside them (smartspaces/class_archive.py), and so is the jar of the
# project's own JVM classes (smartspaces/project_jar.py), which connector_jars prints with the connectors.
install: system-deps $(INSTALLED)
	$(BIN)/python -m smartspaces.connector_jars >/dev/null
	$(BIN)/python -m smartspaces.class_archive >/dev/null

stack-up: install
	$(BIN)/smartspaces stack up

stack-down:
	@if [ -x $(BIN)/smartspaces ]; then $(BIN)/smartspaces stack down; else echo "nothing installed, nothing running"; fi

stack-status: install
	$(BIN)/smartspaces stack status

cluster-up: install
	$(BIN)/smartspaces cluster up

cluster-down:
	@if [ -x $(BIN)/smartspaces ]; then $(BIN)/smartspaces cluster down; else echo "nothing installed, nothing running"; fi

schema: stack-up
	$(BIN)/smartspaces schema apply

# The main pipeline on the local stack: simulated campus → Kafka → streaming ingest (drained) → Cassandra →
# change feed (critical events, alarms, Redis) → enrichment of yesterday and today into PostgreSQL's star schema.
# The random events cover the last DEMO_SPAN_MINUTES, so each sensor reports every minute or two as real ones do
# (spread over a day, they would be silent long enough to raise offline alarms); the alarm scenarios end now.
DEMO_EVENTS ?= 20000
DEMO_SPAN_MINUTES ?= 120
# $(1): the name of a function that gives a step's command prefix from the step's name: the environment the job
# runs with (demo-cluster's Spark master, demo-secure's users and passwords).
local_job =
define demo_pipeline
	$(call $(1),simulate) $(BIN)/smartspaces run simulate --count $(DEMO_EVENTS) --span-minutes $(DEMO_SPAN_MINUTES) \
		--scenario all --bad-fraction 0.001 --duplicate-fraction 0.01 --late-fraction 0.01
	$(call $(1),reference) $(BIN)/smartspaces run reference
	$(call $(1),ingest) $(BIN)/smartspaces run ingest --drain
	$(call $(1),changefeed) $(BIN)/smartspaces run changefeed --once
	$(call $(1),enrich) $(BIN)/smartspaces run enrich --days 2
endef

demo: schema
	$(call demo_pipeline,local_job)

# The same pipeline on a Spark standalone cluster of this machine (a master and two workers, each its own JVM):
# every job's executors run in the workers' JVMs, the drivers in the jobs' processes.
cluster_job = SMARTSPACES__SPARK__MASTER=$$($(BIN)/smartspaces cluster url)
demo-cluster: schema cluster-up
	$(call demo_pipeline,cluster_job)

# The same pipeline, and the smoke flow first, on a stack of its own whose servers run as Azure's do (conf/secure.yaml):
# TLS only, passwords, and each job as its own users (the enrichment as reporting_writer and Cassandra's
# read-only role). The passwords reach each job in its environment (`smartspaces exec`), as on AKS.
secure_job = $(BIN)/smartspaces --env secure exec --as $(1) --
demo-secure: install
	$(BIN)/smartspaces --env secure stack up
	$(call secure_job,platform) $(BIN)/smartspaces schema apply
	$(call secure_job,smoke) $(BIN)/smartspaces run smoke
	$(call demo_pipeline,secure_job)

secure-stack-down:
	@if [ -x $(BIN)/smartspaces ]; then $(BIN)/smartspaces --env secure stack down; else echo "nothing installed, nothing running"; fi

# Every connection of the platform, end to end (Kafka, Delta, Cassandra, PostgreSQL, Redis).
smoke: schema
	$(BIN)/smartspaces run smoke

bench-ingest: schema
	$(BIN)/python -m bench.ingest_bench --events $(or $(EVENTS),1000000)

bench-changefeed: schema
	$(BIN)/python -m bench.changefeed_bench

# The hot path end to end: capacity, then 25 % and 50 % of it, the ingest alone, and the plain-consumer floor.
bench-hotpath: schema
	$(BIN)/python -m bench.hotpath_bench

faults: schema
	$(BIN)/python -m bench.faults

# What the alarm rules cost the hot path: the same load with the change feed's alarms on and off, alternated.
bench-hotpath-alarms: schema
	$(BIN)/python -m bench.hotpath_alarms

bench-api: schema
	$(BIN)/python -m bench.api_bench

# New Redis connections over TLS: redis-py's own (a context per connection) against the platform's (one per CA).
bench-redis-tls: install
	$(BIN)/python -m bench.redis_tls_connect

# The read API under wrk: hits, misses and unknown ids at rising concurrency until errors, 60 s a step.
bench-api-load: schema
	$(BIN)/python -m bench.api_load

# Enrichment of SMALL and LARGE events loaded straight into Cassandra, and JDBC against COPY into PostgreSQL.
bench-enrich: schema
	$(BIN)/python -m bench.enrich_bench --small $(or $(SMALL),1000000) --large $(or $(LARGE),10000000)

# The cache-aside read API and its web page, on the local stack (http://127.0.0.1:8080/).
serve: schema
	$(BIN)/smartspaces serve

# The integration tests start whatever part of the stack is not running, and stop only that at the end.
# Two workers: the integration tests (one unit of work, in order, on the shared stack) beside the unit tests.
test: install tools
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The inner loop: the unit tests alone, no server needed, one lean Spark session without connector jars.
test-unit: install tools
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

# The Go tools the tests use (kustomize, for the overlays), built once per pin from the Go module proxy.
tools: install
	$(BIN)/python -m smartspaces.stack.go_tools

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

manifests: install
	$(BIN)/smartspaces manifests render

strip-notebooks: install
	$(BIN)/python -m smartspaces.notebooks notebooks/*.ipynb

# Every notebook executed on what the stores hold now (`make demo` first; `make smoke` for 01) and rendered to
# .local-stack/notebooks/<name>.html, its figures also as PNG files in .local-stack/notebooks/figures/.
NOTEBOOKS_OUT := .local-stack/notebooks
notebooks: schema
	SMARTSPACES_NOTEBOOK_FIGURES=$(CURDIR)/$(NOTEBOOKS_OUT)/figures \
		$(BIN)/python -m smartspaces.notebooks --render $(NOTEBOOKS_OUT) notebooks/*.ipynb

clean-stack: stack-down cluster-down secure-stack-down
	rm -rf .local-stack
