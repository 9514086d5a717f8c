# Yiwang: two commands on a fresh machine.
#   make run   - Kafka, PostgreSQL, the five services, Prometheus and demo traffic; Ctrl-C stops it all
#   make test  - lint, type check, unit and integration tests against real Kafka and PostgreSQL
# Each installs what it needs (uv, Python packages, Kafka jars) by itself.

SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PY := $(UV) run --frozen python

.PHONY: help bootstrap run test lint unit integration infra stop topics clean deploy-tools contract-tools up down

help:
	@echo "make run    - start Kafka, PostgreSQL, the five services and demo traffic (Ctrl-C stops)"
	@echo "make test   - lint, type check and run every test against real Kafka and PostgreSQL"
	@echo "make infra  - start Kafka and PostgreSQL in the background and print the settings"
	@echo "make stop   - stop the services and the infrastructure started by make run/infra"
	@echo "make topics - create the registered Kafka topics (idempotent)"
	@echo "make up     - (with Docker) the whole system with Prometheus, Grafana and Jaeger; make down"

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
	  || { echo "installing uv from PyPI..."; python3 -m pip install --quiet --disable-pip-version-check uv; }
	@$(UV) sync --frozen --quiet
	@$(PY) infra/stack.py ensure-jars

run: bootstrap
	@bash tests/deploy/install_tools.sh prometheus
	@$(PY) infra/run.py

test: bootstrap lint deploy-tools contract-tools
	@$(UV) run --frozen pytest

unit: bootstrap
	@$(UV) run --frozen pytest -m "not integration"

integration: bootstrap
	@$(UV) run --frozen pytest -m integration

# promtool (Debian's prometheus package) and kubectl for the offline deploy checks.
deploy-tools:
	@bash tests/deploy/install_tools.sh

# The official AsyncAPI parser (npm @asyncapi/parser, pinned) that validates docs/asyncapi/.
contract-tools:
	@test -d tests/contract/node_modules/@asyncapi/parser \
	  || npm ci --prefix tests/contract --no-audit --no-fund --silent

# With Docker: the whole system plus Prometheus, Grafana and Jaeger (see docker-compose.yml).
up:
	docker compose up -d --build

down:
	docker compose down

lint:
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check --quiet .
	@$(UV) run --frozen mypy libs/common/src services/*/src

infra: bootstrap
	@$(PY) infra/stack.py up

topics: bootstrap
	@$(PY) -m yiwang.common.topic_admin create

stop:
	@$(PY) infra/run.py --stop 2>/dev/null || true
	@$(PY) infra/stack.py down

clean: stop
	rm -rf .local
