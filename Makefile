# The README's two commands. Both create .venv on first use (and whenever pyproject.toml
# changes), install the project into it, and put its bin/ first on PATH for what they run.
#   make run   - the main job: snakemake on all cores (workflow/profiles/default) on the default dataset
#   make test  - the whole test suite
#   make test-cluster - the tiny workflow through a real single-node SLURM it starts (root, apt)

VENV := .venv
BOOTSTRAP_PYTHON ?= $(shell command -v python3.11 || command -v python3)
INSTALLED := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run test test-cluster setup clean

run: $(INSTALLED)
	snakemake --workflow-profile workflow/profiles/default

test: $(INSTALLED)
	python -m pytest

test-cluster: $(INSTALLED)
	python -m pip install --quiet -e '.[test,cluster]'
	python -m pytest -m cluster tests/test_cluster.py

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@test -x $(VENV)/bin/python || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

clean:
	rm -rf .snakemake data search runs results logs
