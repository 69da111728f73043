# Feedline — one box: `make up` starts everything, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian's interpreter runs this code about twice as fast as a pyenv build (PERFORMANCE notes in
# the README); any Python 3.11+ works.
PYTHON ?= $(shell for p in /usr/bin/python3.11 /usr/bin/python3 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := shared user-service post-service feed-service fanout-worker gateway
PYPROJECTS := $(wildcard $(addsuffix /pyproject.toml,$(PACKAGES))) requirements-dev.txt

DATABASES := feedline feedline_test feedline_e2e feedline_contract_e2e feedline_scaling_e2e
VHOSTS := feedline_test_users feedline_test_posts feedline_test_feed feedline_test_fanout feedline_test_gateway feedline_e2e feedline_contract_e2e feedline_scaling_e2e

.PHONY: help venv infra db migrate up down logs status test lint format clean chaos bench

help:
	@echo "make up      start PostgreSQL/Redis/RabbitMQ if needed, migrate, start all five processes"
	@echo "make test    bootstrap the servers, then run every test"
	@echo "make down    stop the processes 'make up' started"
	@echo "make logs    tail their logs"
	@echo "make chaos   faults under load, verified (own servers; prints a table)"
	@echo "make bench   benchmarks with ratios to this machine's ceilings"
	@echo "make lint    ruff"

$(BIN)/.installed: $(PYPROJECTS)
	@test -n "$(PYTHON)" || { echo "Python 3.11+ with venv is required (Debian: apt-get install python3-venv)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt $(foreach p,$(wildcard $(PACKAGES)),-e ./$(p))
	@touch $@

venv: $(BIN)/.installed

infra:
	@bash scripts/ensure-infra.sh

db: infra
	@FEEDLINE_VHOSTS="$(VHOSTS)" bash scripts/bootstrap-db.sh $(DATABASES)

migrate: venv db
	@$(BIN)/python scripts/migrate.py

up: venv db migrate
	@$(BIN)/python scripts/processes.py up

down:
	@$(BIN)/python scripts/processes.py down

status:
	@$(BIN)/python scripts/processes.py status

logs:
	@tail -n 50 -F var/log/*.log

test: export FEEDLINE_TEST_TOOLS = 1
test: venv db
	@$(BIN)/python scripts/run_tests.py

chaos: venv db
	$(BIN)/python -m chaos

bench: venv db
	$(BIN)/python -m bench

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: down
	rm -rf $(VENV) var
