# The two commands that matter: `make dev` (run the pipeline locally) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: dev test lint unit logs policies package package-resources deploy clean

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

## package: write build/$(STAGE)/sam.json and deployment.zip, one stack with every resource
package: $(INSTALLED)
	$(BIN)/python -m infra.template --stage $(STAGE)

## package-resources: only the queues, table and alarms, for the plain `chalice deploy` path
package-resources: $(INSTALLED)
	$(BIN)/python -m infra.template --stage $(STAGE) --resources-only

## deploy: upload the code to BUCKET and create or update the stack (needs the AWS CLI)
deploy: package
	test -n "$(BUCKET)" || { echo "set BUCKET=<an S3 bucket for the deployment zip>"; exit 2; }
	aws cloudformation package --template-file build/$(STAGE)/sam.json \
		--s3-bucket $(BUCKET) --output-template-file build/$(STAGE)/packaged.json --use-json
	aws cloudformation deploy --template-file build/$(STAGE)/packaged.json \
		--stack-name robust-data-processor-$(STAGE) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
