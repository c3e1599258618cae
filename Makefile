# The README's two commands. Both create .venv on first use (and whenever pyproject.toml
# changes), install the project into it, and put its bin/ first on PATH for what they run.
#   make run   - the main job: `snakemake --cores 8` on the default dataset
#   make test  - the whole test suite

VENV := .venv
BOOTSTRAP_PYTHON ?= $(shell command -v python3.11 || command -v python3)
INSTALLED := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run test setup clean

run: $(INSTALLED)
	snakemake --cores 8

test: $(INSTALLED)
	python -m pytest

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@test -x $(VENV)/bin/python || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

clean:
	rm -rf .snakemake data search runs results logs
