# Two commands for a new user (see README.md):
#   make sandbox   bring up the sandbox (the production topology as local containers), run site.yml on it, deploy the demo app
#   make test      run every test: lint, argument specs, unit, every Molecule scenario, the sandbox
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export NO_COLOR := 1
# The sandbox's demo vault identity (public, NOT a secret), named for sandbox commands only.
SANDBOX_VAULT := sandbox@inventories/sandbox/DEMO-vault-password.txt
SANDBOX := -i inventories/sandbox --vault-id $(SANDBOX_VAULT)
ifdef PROFILE
export ANSIBLE_CALLBACKS_ENABLED := ansible.posix.profile_tasks,ansible.posix.timer
endif

.PHONY: help venv engine image prerequisites sandbox sandbox-up sandbox-converge sandbox-check sandbox-reset \
        sandbox-deploy sandbox-destroy test lint unit molecule drift go-live scan-tools security-scan

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/ansible-playbook: requirements.txt requirements-deploy.txt
	@scripts/venv.sh $(VENV)

venv: $(BIN)/ansible-playbook ## Create .venv from the pinned requirements.txt

engine: ## Install (from Debian) and start the Docker engine when it is not running
	@scripts/docker-engine.sh

image: engine ## Build the Debian 12 systemd test-host image unless it exists
	@scripts/build-test-image.sh

prerequisites: venv engine image

sandbox: prerequisites sandbox-up sandbox-converge sandbox-deploy ## Bring up the sandbox, run site.yml on it and deploy the demo app

sandbox-up: prerequisites ## Start the sandbox containers (idempotent)
	ansible-playbook $(SANDBOX) sandbox/up.yml

sandbox-converge: venv ## Run playbooks/site.yml on the sandbox
	ansible-playbook $(SANDBOX) playbooks/site.yml

sandbox-check: venv ## Run playbooks/site.yml on the sandbox in check and diff mode (changes nothing)
	ansible-playbook $(SANDBOX) playbooks/site.yml --check --diff

sandbox-deploy: venv ## Deploy the demo app (examples/portfolio_app) to the sandbox with Kamal
	ansible-playbook $(SANDBOX) playbooks/deploy.yml

sandbox-reset: prerequisites ## Destroy the sandbox and bring it up fresh
	ansible-playbook $(SANDBOX) sandbox/down.yml
	ansible-playbook $(SANDBOX) sandbox/up.yml

sandbox-destroy: venv ## Remove the sandbox containers, volumes, network and keys
	ansible-playbook $(SANDBOX) sandbox/down.yml

test: prerequisites ## Run every test suite; ends with "N passed, N failed"
	@$(BIN)/python scripts/test-all.py

lint: venv ## yamllint, ansible-lint (production profile), ruff
	@$(BIN)/python scripts/test-all.py lint

unit: venv ## Filter plugin and playbook unit tests, argument_specs check
	@$(BIN)/python scripts/test-all.py argspecs unit

molecule: prerequisites ## Every Molecule scenario (SCENARIO=role/name for one)
	@$(BIN)/python scripts/test-all.py molecule $(if $(SCENARIO),--scenario $(SCENARIO))

DRIFT_INVENTORY = $(or $(INVENTORY),inventories/sandbox)
DRIFT_VAULT_ID = $(or $(VAULT_ID),$(if $(INVENTORY),@prompt,$(SANDBOX_VAULT)))
DRIFT_METRICS = reports/drift-$(notdir $(DRIFT_INVENTORY)).prom

drift: venv ## Drift report: site.yml in check+diff mode; exit 2 on drift (INVENTORY=... VAULT_ID=... PUBLISH=1)
	@rc=0; $(BIN)/python scripts/drift-report.py $(DRIFT_INVENTORY) --vault-id $(DRIFT_VAULT_ID) \
	  --metrics-file $(DRIFT_METRICS) || rc=$$?; \
	if [ -n "$(PUBLISH)" ]; then \
	  $(BIN)/ansible-playbook -i $(DRIFT_INVENTORY) --vault-id $(DRIFT_VAULT_ID) playbooks/drift-metrics.yml \
	    -e drift_metrics_file=$(DRIFT_METRICS) || rc=1; \
	fi; exit $$rc

go-live: venv ## Go-live checklist, read-only: a pass/fail table; non-zero on a failure (INVENTORY=... VAULT_ID=...)
	$(BIN)/ansible-playbook -i $(DRIFT_INVENTORY) --vault-id $(DRIFT_VAULT_ID) playbooks/go-live-check.yml

scan-tools: ## Install the security scan's tools (nmap, testssl.sh, Wapiti from Debian; .venv-scan with sslyze, httpobs)
	@scripts/scan-tools.sh

security-scan: venv scan-tools ## Security scans with one report: ssh-audit, open ports, TLS, headers, Lynis, DAST where enabled (INVENTORY=... VAULT_ID=... SCAN_ARGS=...)
	$(BIN)/ansible-playbook -i $(DRIFT_INVENTORY) --vault-id $(DRIFT_VAULT_ID) playbooks/security-scan.yml $(SCAN_ARGS)
