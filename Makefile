# The commands a platform engineer types. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
OUT ?= rendered/$(STACK)

# Upstream reference data (schemas, chart defaults, validators) lives beside the repository in
# ../shared and is never copied in. Tests that need it are skipped, saying how to enable them, when
# it is absent (and fail in CI).
SHARED ?= ../shared
export EVENT_PLATFORM_TOOLS ?= $(if $(wildcard $(SHARED)/tools),$(abspath $(SHARED)/tools))
export EVENT_PLATFORM_CRD_SCHEMAS ?= $(if $(wildcard $(SHARED)/schemas/crds),$(abspath $(SHARED)/schemas/crds))
export EVENT_PLATFORM_CHART_DATA ?= $(if $(wildcard $(SHARED)/charts),$(abspath $(SHARED)/charts))
export EVENT_PLATFORM_COMPOSE_SCHEMA ?= $(if $(wildcard $(SHARED)/schemas/compose/compose-spec.json),$(abspath $(SHARED)/schemas/compose/compose-spec.json))

# dev keeps its state in a local file backend inside the checkout; prod brings its own backend.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
# dev's passphrase is the empty one `make up` (scripts/dev-cluster.sh) creates the stack with: the dev
# stack holds no secret config. Yours wins if you set PULUMI_CONFIG_PASSPHRASE or ..._FILE; prod never
# gets a default.
ifeq ($(STACK)|$(origin PULUMI_CONFIG_PASSPHRASE)|$(PULUMI_CONFIG_PASSPHRASE_FILE),dev|undefined|)
export PULUMI_CONFIG_PASSPHRASE :=
endif
# dev's stack lives in the local backend and is created on first use, as `make up` does.
SELECT_DEV = $(if $(filter dev,$(STACK)),mkdir -p .pulumi-state && pulumi stack select --create dev &&)

# What mypy checks (pyproject.toml says how strictly); .pre-commit-config.yaml runs `make lint` too.
MYPY_PATHS := apps/collector/src platform/event_platform policy/event_platform_policies

.PHONY: help venv checkov-venv lint test renovate-check render validate bench up down preview deploy destroy
help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt apps/collector/requirements.txt apps/collector/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e apps/collector
	touch $@

venv: $(VENV)/.installed ## create .venv and install the pinned packages

# checkov gets its own virtualenv: its dependencies clash with requirements.txt (tests/test_checkov.py).
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

checkov-venv: $(CHECKOV_VENV)/.installed ## create .venv-checkov with the pinned checkov

test: venv lint checkov-venv ## lint and types, then every test: config, resource graph, render + schemas, policies, checkov, the collector
	$(PY) -m pytest

render: venv ## write every object of STACK as YAML into OUT (default rendered/STACK)
	PYTHONPATH=platform $(PY) -m event_platform.render --stack $(STACK) --out $(OUT)

validate: render ## render STACK and check it with ../shared/tools/validate-manifests
	$(PY) $(SHARED)/tools/validate-manifests --crd-dir $(SHARED)/schemas/crds \
	  --k8s-version "$$(PYTHONPATH=platform $(PY) -m event_platform.config $(STACK))" $(OUT)

bench: venv ## the collector in its production configuration beside the Go original; writes bench/results.json
	$(PY) -m pip install --quiet -r apps/collector/requirements-dev.txt
	$(PY) apps/collector/bench/bench.py $(BENCH_ARGS)

up: venv ## bring the dev stack up on a local kind cluster (creates the cluster if missing)
	scripts/dev-cluster.sh up

down: venv ## delete the local kind cluster and its registry
	scripts/dev-cluster.sh down

preview: venv ## pulumi preview of STACK, with the policy pack
	$(SELECT_DEV) pulumi preview --stack $(STACK) --diff --policy-pack policy

deploy: venv ## pulumi up of STACK, with the policy pack
	$(SELECT_DEV) pulumi up --stack $(STACK) --policy-pack policy

destroy: ## pulumi destroy of STACK (protected data stops it: docs/data-and-secrets.md)
	pulumi destroy --stack $(STACK)

lint: venv ## ruff and mypy (strict on the collector, standard on the program and the policy pack)
	$(PY) -m ruff check .
	$(PY) -m mypy $(MYPY_PATHS)

# Renovate's own validator, at the version pinned in .ci/renovate (with the Node.js it needs).
RENOVATE_TOOLS := .ci/renovate
renovate-check: venv ## renovate.json through Renovate's validator and its own dependency extraction
	npm ci --prefix $(RENOVATE_TOOLS) --ignore-scripts --no-audit --no-fund --loglevel=error
	RENOVATE_CONFIG_FILE=renovate.json $(RENOVATE_TOOLS)/node_modules/.bin/node \
	  $(RENOVATE_TOOLS)/node_modules/renovate/dist/config-validator.js --strict
	$(PY) $(RENOVATE_TOOLS)/check_extraction.py
