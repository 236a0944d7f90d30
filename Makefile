# The two commands that matter: `make dev` (run the pipeline locally) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: dev test lint unit logs policies clean

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

## dev: run the emulator, the API on :8000 and the queue consumer; Ctrl-C stops them all
dev: $(INSTALLED)
	$(BIN)/python -m devstack --stage $(STAGE)

## test: lint, type-check and run the whole test suite
test: lint unit

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(INSTALLED)
	$(BIN)/python -m pytest

## logs: print stored logs from the running local stack (TENANT=acme for one tenant)
logs: $(INSTALLED)
	$(BIN)/python -m devstack.show --stage $(STAGE) $(if $(TENANT),--tenant $(TENANT))

## policies: regenerate .chalice/policy-<stage>-<function>.json from infra/iam.py's grants
policies: $(INSTALLED)
	$(BIN)/python -m infra.iam

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
