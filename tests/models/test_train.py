"""The training path end to end on a few shared photos: tiles -> one epoch -> ONNX + manifest -> onnxruntime.

Slow and needs the train extra (torch, ultralytics); the full training is not part of the test run.
"""
import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def pil_open_restored():
    """Importing ultralytics replaces PIL's Image.open process-wide (its HEIF fallback); later tests need Pillow's."""
    from PIL import Image

    original = Image.open
    yield
    Image.open = original


def test_tiny_training_run_exports_a_model_the_station_loads(tmp_path, shared_datasets):
    pytest.importorskip("ultralytics", reason="the train extra is not installed (pip install -e .[train])")
    from models.detector import OnnxDetector
    from models.training.detector import CLASSES, export, fit, prepare

    summary = prepare(tmp_path / "tiles", limit=3, copies=1, size=64, pose_cache=tmp_path / "pose")
    assert summary["tiles"]["train"] > 0 and summary["tiles"]["val"] > 0
    assert sum(summary["boxes"]["train"].values()) > 0  # shoes at least: every CCP photo shows feet
    labels = list((tmp_path / "tiles" / "labels" / "train").glob("*.txt"))
    for line in "\n".join(f.read_text() for f in labels).split("\n"):
        if line:
            cls, *xywh = line.split()
            assert 0 <= int(cls) < len(CLASSES) and all(0 <= float(v) <= 1 for v in xywh)
    run = fit(tmp_path / "tiles", "yolov8n.yaml", 1, 64, "cpu", 8, tmp_path / "runs", workers=0, plots=False)
    model = export(run, tmp_path / "model", "test", tmp_path / "tiles")
    manifest = json.loads((tmp_path / "model" / "attire.json").read_text())
    assert manifest["classes"] == list(CLASSES) and manifest["input_size"] == 64 and "validation" in manifest
    detector = OnnxDetector(tmp_path / "model" / "attire.json")
    assert model.exists() and len(detector.detect_batch([np.zeros((64, 64, 3), np.uint8)] * 2)) == 2


def test_tiny_footwear_classifier_run(tmp_path, shared_datasets):
    """The tile-classifier trainer that footwear, cuffs, front and legwear share: labels by eye, resolution copies,
    one epoch, export with operating points scored through the station's runtime."""
    pytest.importorskip("ultralytics", reason="the train extra is not installed (pip install -e .[train])")
    from models.crops import foot_crops
    from models.detector import OnnxClassifier
    from models.training import classifier
    from models.training.footwear import CLASSES, COPIES, samples, score

    few = [s for split in ("train", "val") for kind in CLASSES
           for s in [q for q in samples() if q.split == split and q.labels["foot_left"] == kind][:3]]
    summary = classifier.prepare(tmp_path / "feet", few, CLASSES, foot_crops, COPIES, 64, 0.25,
                                 pose_cache=tmp_path / "pose")
    assert all(summary["tiles"][split]["open"] > 0 for split in ("train", "val"))
    run = classifier.fit(tmp_path / "feet", "yolov8n-cls.yaml", 1, 64, "cpu", 8, tmp_path / "runs", "footwear",
                         workers=0)
    classifier.export(run, tmp_path / "model", "footwear", "test", tmp_path / "feet", CLASSES, score)
    manifest = json.loads((tmp_path / "model" / "footwear.json").read_text())
    assert manifest["classes"] == list(CLASSES) and {"open", "min_tile_px"} <= set(manifest["thresholds"])
    assert 0 <= manifest["validation"]["s100"]["accuracy"] <= 1
    probs = OnnxClassifier(tmp_path / "model" / "footwear.json").classify([np.zeros((50, 80, 3), np.uint8)])
    assert set(probs[0]) == set(CLASSES) and abs(sum(probs[0].values()) - 1) < 1e-3
