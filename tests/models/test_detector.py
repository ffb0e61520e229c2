"""The onnxruntime side of the attire detector: letterbox, decoding, NMS and the manifest's guard."""
import json
from pathlib import Path

import numpy as np
import pytest

from models.detector import (MODEL_DIR, AttireDetector, Manifest, ModelFileError, OnnxDetector, decode, letterbox,
                             merge_overlaps, nms)
from models.perception import Box

CLASSES = ("badge", "bracelet", "watch")


def test_letterbox_keeps_aspect_and_centres():
    image = np.zeros((100, 200, 3), np.uint8)
    out, k, (px, py) = letterbox(image, 160)
    assert out.shape == (160, 160, 3) and k == pytest.approx(0.8)
    assert px == 0 and py == 40 and out[0, 0, 0] == 114 and out[80, 80, 0] == 0


def test_nms_drops_overlaps_keeps_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), 0.5) == [0, 2]


def raw_output(rows):
    """A YOLOv8 output (4 + C, A) from (cx, cy, w, h, class index, score) rows."""
    out = np.zeros((4 + len(CLASSES), len(rows)), np.float32)
    for a, (cx, cy, w, h, c, s) in enumerate(rows):
        out[:4, a] = cx, cy, w, h
        out[4 + c, a] = s
    return out


def test_decode_thresholds_and_nms_per_class():
    out = raw_output([(50, 50, 20, 20, 1, 0.9), (51, 50, 20, 20, 1, 0.6),  # the same bracelet twice
                      (51, 50, 20, 20, 2, 0.5),  # another class on the same spot is kept
                      (100, 100, 10, 10, 0, 0.1)])  # below the threshold
    boxes = decode(out, CLASSES, conf=0.25, iou=0.5)
    assert [(b.label, round(b.score, 1)) for b in boxes] == [("bracelet", 0.9), ("watch", 0.5)]
    assert (boxes[0].x1, boxes[0].y1, boxes[0].x2, boxes[0].y2) == (40, 40, 60, 60)
    with pytest.raises(ModelFileError, match="classes"):
        decode(out, CLASSES[:2], conf=0.25, iou=0.5)


def test_merge_overlaps_across_tiles():
    a, b = Box(0, 0, 10, 10, 0.9, "ring"), Box(1, 0, 11, 10, 0.5, "ring")
    c = Box(1, 0, 11, 10, 0.5, "watch")
    assert merge_overlaps([a, b, c], ("ring", "watch")) == [a, c]


def test_missing_or_corrupt_model_files_fail_with_their_name(tmp_path):
    with pytest.raises(ModelFileError, match="manifest not found"):
        OnnxDetector(tmp_path / "attire.json")
    (tmp_path / "attire.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="unreadable"):
        Manifest.load(tmp_path / "attire.json")
    shipped = json.loads((MODEL_DIR / "attire.json").read_text())
    (tmp_path / "attire.json").write_text(json.dumps(shipped))
    with pytest.raises(ModelFileError, match="attire.onnx"):
        OnnxDetector(tmp_path / "attire.json")
    (tmp_path / "attire.onnx").write_bytes(b"truncated")
    with pytest.raises(ModelFileError, match="sha256"):
        OnnxDetector(tmp_path / "attire.json")
    shipped["sha256"] = __import__("hashlib").sha256(b"truncated").hexdigest()
    (tmp_path / "attire.json").write_text(json.dumps(shipped))
    with pytest.raises(ModelFileError, match="onnxruntime cannot load"):
        OnnxDetector(tmp_path / "attire.json")


def test_shipped_model_runs_on_a_tile():
    detector = OnnxDetector()
    assert detector.classes[:3] == CLASSES
    tiles = [np.full((160, 160, 3), 114, np.uint8), np.full((90, 200, 3), 30, np.uint8)]
    results = detector.detect_batch(tiles)
    assert len(results) == 2 and all(isinstance(r, list) for r in results)


class TileDetector:
    """Stands in for an OnnxDetector: every tile gets the same boxes (tile pixels); records the batch sizes."""

    def __init__(self, boxes, classes=("badge", "necklace", "ring")):
        self.boxes, self.batches = boxes, []
        self.manifest = Manifest(MODEL_DIR / "x.onnx", classes, 160, "")

    @property
    def classes(self):
        return self.manifest.classes

    def detect_batch(self, tiles):
        self.batches.append(len(tiles))
        return [list(self.boxes) for _ in tiles]


def test_attire_detector_routes_parts_and_keeps_each_tiles_own_classes():
    from factories import make_keypoints

    from models.detector import AttireDetector

    general = TileDetector([Box(70, 70, 90, 90, 0.9, "badge"), Box(10, 10, 30, 30, 0.8, "ring")])
    torso = TileDetector([Box(70, 70, 90, 90, 0.7, "badge")])
    found = AttireDetector(general, per_part={"torso": torso}).detect(np.zeros((720, 1280, 3), np.uint8),
                                                                       make_keypoints())
    assert torso.batches == [1] and general.batches == [3]  # head and both hands in one batch
    badges = [b for b in found.boxes if b.label == "badge"]
    assert len(badges) == 1 and badges[0].score == 0.7  # a badge comes from the torso tile only
    assert sum(b.label == "ring" for b in found.boxes) == 2  # one per hand tile
    assert set(found.examined) == {"torso", "head", "hand_left", "hand_right"}  # no footwear classifier here
    with pytest.raises(ModelFileError, match="classes"):
        AttireDetector(general, per_part={"torso": TileDetector([], ("badge",))})


class CountingClassifier:
    """Stands in for an OnnxClassifier: counts the tiles it is shown."""

    def __init__(self, classes=("none", "beard")):
        self.manifest = Manifest(MODEL_DIR / "x.onnx", classes, 64, "", thresholds={"beard": 0.3})
        self.tiles = 0

    def classify(self, tiles):
        self.tiles += len(tiles)
        return [{c: 1 / len(self.manifest.classes) for c in self.manifest.classes} for _ in tiles]


def test_a_classifier_no_enabled_rule_reads_is_not_run():
    from factories import make_keypoints

    from models.detector import AttireDetector

    beard, footwear = CountingClassifier(), CountingClassifier(("closed", "open", "unseen"))
    detector = AttireDetector(TileDetector([]), {"beard": beard, "footwear": footwear})
    frame, kp = np.zeros((720, 1280, 3), np.uint8), make_keypoints()
    found = detector.detect(frame, kp, {"footwear", "attire"})
    assert beard.tiles == 0 and footwear.tiles == 2 and "chin" not in found.classified
    assert found.operating_points["beard.beard"] == 0.3  # still loaded: switching the rule on needs no reload
    assert set(detector.detect(frame, kp).classified) == {"chin", "foot_left", "foot_right"} and beard.tiles == 1


@pytest.mark.slow
def test_the_shipped_models_side_by_side_find_exactly_what_they_find_one_after_another(real_models):
    """`detector.threads` models at a time, each session on one thread: the same boxes, tiles and probabilities."""
    from station.config import StationConfig
    from station.imageio import read_image
    from station.pipeline import load_attire

    photo = read_image(Path(__file__).resolve().parents[2] / "station/demo/people/2-ccp_0714.jpg")
    pose = real_models.pose.estimate(photo)
    side_by_side, _ = load_attire(StationConfig())
    one_at_a_time = AttireDetector(side_by_side.detector, side_by_side.classifiers, side_by_side.min_visibility)
    assert side_by_side._pool is not None and one_at_a_time._pool is None
    a, b = side_by_side.detect(photo, pose), one_at_a_time.detect(photo, pose)
    assert {"torso", "legs", "front", "foot_left", "foot_right"} <= set(a.examined)
    assert a.boxes == b.boxes and a.tiles == b.tiles and a.classified == b.classified
