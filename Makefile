# The two README commands are `make up` and `make test`; the rest are conveniences.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

up:  ## venv + services + Airflow (LocalExecutor) with the UI on http://localhost:8080
	scripts/up.sh local

up-cluster:  ## the same on CeleryExecutor: one worker per queue (data, analysis, maintenance, default) + Flower
	scripts/up.sh cluster

down:  ## stop everything `make up`/`make test` started (by PID)
	scripts/down.sh

services:  ## start only PostgreSQL, Redis and FerretDB
	scripts/venv.sh
	scripts/services.sh start

test:  ## the whole test suite against real services (what CI runs)
	scripts/test.sh

lint:  ## ruff check (the rules in pyproject.toml; `make test` runs it first)
	scripts/venv.sh
	.venv/bin/ruff check .

bench:  ## run the benchmarks, print a table, write bench/results.json (BENCH=substring to filter)
	scripts/venv.sh
	scripts/services.sh start
	TA_ENV=test bash -c '. scripts/env.sh; python bench/run.py $(BENCH)'

lock:  ## re-resolve requirements*.txt into requirements.lock (needs the package index)
	scripts/lock.sh

.PHONY: help up up-cluster down services test lint bench lock
