# The two commands that matter: `make dev` (run the pipeline locally) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
SCAN_VENV := .venv-scan
SCAN_INSTALLED := $(SCAN_VENV)/.installed-$(shell cat requirements-scan.txt | cksum | cut -d' ' -f1)
PEERS_VENV := .venv-peers
PEERS_INSTALLED := $(PEERS_VENV)/.installed-$(shell cat requirements-peers.txt | cksum | cut -d' ' -f1)
STAGES := dev prod

.PHONY: help system dev test quick lint unit scan logs tenant-key tenant-keys revoke-key tenant tenant-plan tenant-redaction erase-tenant chaos load erasure-soak redrive bench policies package package-resources package-terraform deploy clean

$(INSTALLED): requirements.txt requirements-dev.txt
	@echo "Installing the project's Python packages into $(VENV) (requirements-dev.txt); the first time takes a minute or two..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@ && echo "Installed."

$(SCAN_INSTALLED): requirements-scan.txt
	@echo "Installing the template scanner into $(SCAN_VENV) (requirements-scan.txt)..."
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	@rm -f $(SCAN_VENV)/.installed-* && touch $@

$(PEERS_INSTALLED): requirements-peers.txt
	@echo "Installing into $(PEERS_VENV) the peers make bench compares us with (requirements-peers.txt)..."
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	@$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-peers.txt
	@rm -f $(PEERS_VENV)/.installed-* && touch $@

## help: list the targets and what each does
help:
	@awk '/^## / { sub(/^## /, ""); print; next } /^##/ { sub(/^##/, ""); print }' $(MAKEFILE_LIST)

## dev: run the emulator, the API on :8000 and the queue consumer; Ctrl-C stops them all
dev: $(INSTALLED)
	$(BIN)/python -m devstack --stage $(STAGE)

## system: the Debian packages the tests drive (syslog-ng and its http() module); installs
##         them when run as root, else says how
SYSTEM_PACKAGES := syslog-ng-core syslog-ng-mod-http
system:
	@if command -v syslog-ng >/dev/null && test -e /usr/lib/syslog-ng/*/libhttp.so; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $(SYSTEM_PACKAGES) (the shipper the tests drive)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	else \
		echo "The tests drive syslog-ng: sudo apt-get install $(SYSTEM_PACKAGES)"; exit 1; \
	fi

## test: lint, type-check, run the whole test suite and scan the deployment templates
test: system lint unit scan

## quick: lint and the tests that need no local stack: the inner loop while editing
quick: lint
	$(BIN)/python -m pytest -m "not e2e" -q

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(INSTALLED)
	$(BIN)/python -m pytest

## scan: package every stage and run checkov on its template; accepted findings carry reasons
scan: $(INSTALLED) $(SCAN_INSTALLED)
	for stage in $(STAGES); do \
		$(BIN)/python -m infra.template --stage $$stage --out build/scan/$$stage && \
		$(SCAN_VENV)/bin/checkov --file build/scan/$$stage/sam.json --framework cloudformation \
			--compact --quiet --skip-download || exit 1; \
	done

## logs: print stored logs from the running local stack (TENANT=acme for one tenant)
logs: $(INSTALLED)
	$(BIN)/python -m ops.show --stage $(STAGE) $(if $(TENANT),--tenant $(TENANT))

## tenant-key: create an API key for TENANT, shown once (AWS=1: the deployed STAGE, else make dev's)
tenant-key: $(INSTALLED)
	@test -n "$(TENANT)" || { echo "set TENANT=<tenant id>"; exit 2; }
	$(BIN)/python -m ops.keys --stage $(STAGE) $(if $(AWS),--aws) create $(TENANT)

## tenant-keys: list API keys (TENANT=acme for one tenant's), never their secrets
tenant-keys: $(INSTALLED)
	$(BIN)/python -m ops.keys --stage $(STAGE) $(if $(AWS),--aws) list $(if $(TENANT),--tenant $(TENANT))

## revoke-key: revoke the API key KEY_ID (from `make tenant-keys`)
revoke-key: $(INSTALLED)
	@test -n "$(KEY_ID)" || { echo "set KEY_ID=<key id>"; exit 2; }
	$(BIN)/python -m ops.keys --stage $(STAGE) $(if $(AWS),--aws) revoke $(KEY_ID)

## tenant: show TENANT's settings and the limits of its plan (AWS=1: the deployed STAGE's)
tenant: $(INSTALLED)
	@test -n "$(TENANT)" || { echo "set TENANT=<tenant id>"; exit 2; }
	$(BIN)/python -m ops.tenants --stage $(STAGE) $(if $(AWS),--aws) show $(TENANT)

## tenant-plan: put TENANT on PLAN (free, team or business); AWS=1 also binds its usage plan
tenant-plan: $(INSTALLED)
	@test -n "$(TENANT)" -a -n "$(PLAN)" || { echo "set TENANT=<tenant id> PLAN=<plan>"; exit 2; }
	$(BIN)/python -m ops.tenants --stage $(STAGE) $(if $(AWS),--aws) set $(TENANT) --plan $(PLAN)

## tenant-redaction: set TENANT's redaction: CLASSES (email,phone: only those; +ip,-phone: changes
##                   to the stage's default), PLACEHOLDER (plain or typed), TERM and PATTERN (one
##                   literal term, one RE2 pattern); ops.tenants takes several (AWS=1: deployed)
tenant-redaction: $(INSTALLED)
	@test -n "$(TENANT)" || { echo "set TENANT=<tenant id> and CLASSES, PLACEHOLDER, TERM or PATTERN"; exit 2; }
	$(BIN)/python -m ops.tenants --stage $(STAGE) $(if $(AWS),--aws) set $(TENANT) \
		$(if $(CLASSES),--redaction-classes '$(CLASSES)') $(if $(PLACEHOLDER),--placeholder $(PLACEHOLDER)) \
		$(if $(TERM),--term '$(TERM)') $(if $(PATTERN),--pattern '$(PATTERN)')

## erase-tenant: erase TENANT's logs, originals and archive (KEYS=1: its API keys too; AWS=1:
##               the deployed STAGE's); resumable, prints what it erased
erase-tenant: $(INSTALLED)
	@test -n "$(TENANT)" || { echo "set TENANT=<tenant id>"; exit 2; }
	$(BIN)/python -m ops.erase --stage $(STAGE) $(if $(AWS),--aws) $(if $(KEYS),--keys) $(TENANT)

## erasure-soak: erase a tenant in the middle of a flood of its logs, under the chaos soak's
##               faults; fails if an erased log comes back or another is lost
erasure-soak: $(INSTALLED)
	$(BIN)/python -m soak.erasure

## chaos: soak the local stack with load, crashes and injected faults, reconcile every log, and
##        write docs/reliability.md from the run; fails if a log is lost, doubled or misplaced
chaos: $(INSTALLED)
	$(BIN)/python -m soak --report docs/reliability.md

## load: drive the local stack at RATE (2500/min) with CHARS (100) a log, TENANTS (20) of which
##       NOISY (1x100: one sending 100x a quiet one's rate), for SECONDS (120) without the flood,
##       with it at CONCURRENCY (250) workers, and with it at OVERLOAD (150, 0: skip) workers;
##       per tenant figures and docs/load.md with a plot
load: $(INSTALLED)
	$(BIN)/python -m soak.load_main --rate $(or $(RATE),2500/min) --chars $(or $(CHARS),100) \
		--tenants $(or $(TENANTS),20) --noisy $(or $(NOISY),1x100) \
		--seconds $(or $(SECONDS),120) --concurrency $(or $(CONCURRENCY),250) \
		--overload-concurrency $(or $(OVERLOAD),150) --report docs/load.md

## redrive: list make dev's dead-letter queue, then move its messages back to the ingest queue
##          (INSPECT=1: only list; AWS=1: the deployed STAGE's, with StartMessageMoveTask)
redrive: $(INSTALLED)
	$(BIN)/python -m ops.redrive --stage $(STAGE) $(if $(AWS),--aws) $(if $(INSPECT),--inspect-only)

## bench: measure cold start, ingest, worker, redaction, the local stack and the package size,
##        ours beside the peers a user would pick instead (FastAPI, Powertools, Presidio, in
##        .venv-peers); print the tables and write docs/benchmarks.md (QUICK=1: a smoke run
##        into build/bench/)
bench: $(INSTALLED) $(PEERS_INSTALLED)
	$(BIN)/python -m bench $(if $(QUICK),--quick)

## policies: regenerate .chalice/policy-<stage>-<function>.json from infra/iam.py's grants
policies: $(INSTALLED)
	$(BIN)/python -m infra.iam

## package: write build/$(STAGE)/sam.json and deployment.zip, one stack with every resource
package: $(INSTALLED)
	$(BIN)/python -m infra.template --stage $(STAGE)

## package-resources: only the queues, table and alarms, for the plain `chalice deploy` path
package-resources: $(INSTALLED)
	$(BIN)/python -m infra.template --stage $(STAGE) --resources-only

## package-terraform: build/$(STAGE)/terraform: chalice's Terraform plus our resources and overrides
package-terraform: $(INSTALLED)
	$(BIN)/python -m infra.terraform --stage $(STAGE) --out build/$(STAGE)/terraform \
		$(if $(TERRAFORM_VERSION),--terraform-version '$(TERRAFORM_VERSION)')

## deploy: upload the code to BUCKET and create or update the stack (needs the AWS CLI);
##         REVIEWER=true adds the read-only reviewer
deploy: package
	@test -n "$(BUCKET)" || { echo "set BUCKET=<an S3 bucket for the deployment zip>"; exit 2; }
	aws cloudformation package --template-file build/$(STAGE)/sam.json \
		--s3-bucket $(BUCKET) --output-template-file build/$(STAGE)/packaged.json --use-json
	aws cloudformation deploy --template-file build/$(STAGE)/packaged.json \
		--stack-name robust-data-processor-$(STAGE) \
		--capabilities CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND \
		$(if $(REVIEWER),--parameter-overrides CreateReviewer=$(REVIEWER))

clean:
	rm -rf $(VENV) $(SCAN_VENV) $(PEERS_VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
