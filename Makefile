# One command to set up and run the station on its demo source, one to run every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test eval bench

$(BIN)/station: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/station

demo: setup
	$(BIN)/station run --source demo --evidence-dir var/demo; test $$? -le 1

test: setup
	$(BIN)/python -m pytest -q

eval: setup
	for set in ../shared/eval/*/; do $(BIN)/station eval $$set --json var/eval/$$(basename $$set).json; done

bench: setup
	$(BIN)/station bench ../shared/eval/ccp-public/images --frames 60
