"""The attire detector on onnxruntime: a YOLOv8 export run on pose-guided tiles, with our own letterbox and NMS.

No torch and no ultralytics at run time. The model's manifest (models/attire/attire.json) names its classes, input
size and sha256; loading checks the file against it, so a truncated or swapped file fails with its name instead of
producing silent nonsense.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from models.crops import CLASSIFIER_TILES, PAD_VALUE, PART_CLASSES, Crop, attire_crops
from models.perception import AttireFindings, Box, Keypoints

MODELS_DIR = Path(__file__).resolve().parent  # attire/, footwear/, cuffs/: each model beside its manifest
MODEL_DIR = MODELS_DIR / "attire"


class ModelFileError(RuntimeError):
    """A model file or its manifest is missing, corrupt or does not match."""


@dataclass(frozen=True)
class Manifest:
    path: Path  # the .onnx file
    classes: tuple[str, ...]
    input_size: int
    sha256: str
    thresholds: dict[str, float] = field(default_factory=dict)  # operating points chosen on validation data

    @classmethod
    def load(cls, manifest_path: Path) -> "Manifest":
        if not manifest_path.is_file():
            raise ModelFileError(f"model manifest not found: {manifest_path}")
        try:
            m = json.loads(manifest_path.read_text())
            thresholds = {k: float(v) for k, v in m.get("thresholds", {}).items() if isinstance(v, (int, float))}
            return cls(manifest_path.parent / m["file"], tuple(m["classes"]), int(m["input_size"]), m["sha256"],
                       thresholds)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"model manifest {manifest_path} is unreadable: {exc}") from exc

    def verify(self) -> None:
        if not self.path.is_file():
            raise ModelFileError(f"model file not found: {self.path} (named by its manifest)")
        if sha256_file(self.path) != self.sha256:
            raise ModelFileError(f"model file {self.path} does not match its manifest's sha256 "
                                 f"(corrupt or replaced; reinstall it or retrain with `station train`)")


def sha256_file(path: Path) -> str:
    """A file's sha256, read a megabyte at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio and pad to size x size; returns the image, the scale and the (x, y) pad."""
    h, w = image.shape[:2]
    k = min(size / h, size / w)
    nw, nh = round(w * k), round(h * k)
    if (nw, nh) != (w, h):
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    px, py = (size - nw) / 2, (size - nh) / 2
    out = cv2.copyMakeBorder(image, int(round(py - 0.1)), int(round(py + 0.1)), int(round(px - 0.1)),
                             int(round(px + 0.1)), cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return out, k, (int(round(px - 0.1)), int(round(py - 0.1)))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression over (N, 4) x1y1x2y2 boxes; indices kept, best first."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / (areas[i] + areas[order[1:]] - inter + 1e-9)
        order = order[1:][overlap <= iou]
    return keep


def classwise_nms(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou: float) -> list[int]:
    """NMS within each class in one pass: each class is shifted to its own far-away patch of the plane."""
    return nms(xyxy + (class_ids.astype(np.float32) * 1e5)[:, None], scores, iou)


def to_blob(images: list[np.ndarray]) -> np.ndarray:
    """Equal-size BGR uint8 images -> the (N, 3, H, W) float RGB / 255 input that ultralytics trains on."""
    batch = np.stack(images)[..., ::-1]
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def decode(output: np.ndarray, classes: tuple[str, ...], conf: float, iou: float) -> list[Box]:
    """One image's YOLOv8 output (4 + C, A) -> boxes in input pixels, class-wise NMS."""
    if output.shape[0] != 4 + len(classes):
        raise ModelFileError(f"model output has {output.shape[0] - 4} classes, its manifest {len(classes)}")
    scores = output[4:]
    cls = scores.argmax(axis=0)
    best = scores[cls, np.arange(scores.shape[1])]
    sel = best >= conf
    if not sel.any():
        return []
    cx, cy, w, h = output[:4, sel]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    best, cls = best[sel], cls[sel]
    return [Box(*map(float, xyxy[i]), float(best[i]), classes[cls[i]]) for i in classwise_nms(xyxy, best, cls, iou)]


def open_session(manifest_path: Path, threads: int):
    """The manifest, checked against its file, and an onnxruntime CPU session of that file."""
    import onnxruntime as ort

    manifest = Manifest.load(manifest_path)
    manifest.verify()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    # idle worker threads would otherwise spin for a while after each run, taking the CPU from MediaPipe
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return manifest, ort.InferenceSession(str(manifest.path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
        raise ModelFileError(f"onnxruntime cannot load {manifest.path}: {exc}") from exc


class OnnxDetector:
    """A YOLOv8 ONNX export (dynamic batch) on onnxruntime's CPU provider."""

    def __init__(self, manifest_path: Path = MODEL_DIR / "attire.json", conf: float = 0.25, iou: float = 0.5,
                 threads: int = 2) -> None:
        self.manifest, self.session = open_session(manifest_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.conf, self.iou = conf, iou

    @property
    def classes(self) -> tuple[str, ...]:
        return self.manifest.classes

    def detect_batch(self, images: list[np.ndarray]) -> list[list[Box]]:
        """Boxes for each BGR image, in that image's pixels."""
        if not images:
            return []
        size = self.manifest.input_size
        boxed = [letterbox(im, size) for im in images]
        out = self.session.run(None, {self.input_name: to_blob([b[0] for b in boxed])})[0]
        results = []
        for raw, (_, k, (px, py)) in zip(out, boxed):
            results.append([Box((b.x1 - px) / k, (b.y1 - py) / k, (b.x2 - px) / k, (b.y2 - py) / k, b.score,
                                b.label) for b in decode(raw, self.classes, self.conf, self.iou)])
        return results

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        return self.detect_batch([image_bgr])[0]


class OnnxClassifier:
    """A YOLOv8 classification export (dynamic batch): tile -> probability per class."""

    def __init__(self, manifest_path: Path, threads: int = 2) -> None:
        self.manifest, self.session = open_session(manifest_path, threads)
        self.input_name = self.session.get_inputs()[0].name

    def classify(self, images: list[np.ndarray]) -> list[dict[str, float]]:
        """Class probabilities for each BGR tile (resized to the model's square input)."""
        if not images:
            return []
        size = self.manifest.input_size
        tiles = [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images]
        out = self.session.run(None, {self.input_name: to_blob(tiles)})[0]
        if out.shape[1] != len(self.manifest.classes):
            raise ModelFileError(f"classifier output has {out.shape[1]} classes, its manifest "
                                 f"{len(self.manifest.classes)}")
        return [dict(zip(self.manifest.classes, map(float, row))) for row in out]


class AttireDetector:
    """Badges, jewellery and eyewear for one person: pose-guided tiles -> batched detector runs -> frame boxes; and
    the tile classifiers (footwear: each foot closed / open / unseen; cuffs: each sleeve end and trouser hem down /
    up), each on its own tiles.

    A part may have its own detector (`per_part`, e.g. the torso's, tuned for badges); every other tile goes to the
    default one in a single batch, and a tile whose classes the detector does not have is not run at all. Tiles
    overlap (a hand in front of the torso is in both), so one piece seen twice is merged in frame pixels.
    """

    def __init__(self, detector: OnnxDetector | None = None, classifiers: dict[str, OnnxClassifier] | None = None,
                 min_visibility: float = 0.5, per_part: dict[str, OnnxDetector] | None = None,
                 workers: int = 1) -> None:
        self.detector = detector or OnnxDetector()
        self.classifiers = classifiers or {}
        self.min_visibility = min_visibility
        self.per_part = per_part or {}
        # the models run `workers` at a time, each session on one thread: small tiles give a session's own thread
        # pool too little work per layer to split, and models side by side keep both cores busy (on 2 cores the
        # six models took 34 ms this way against 45 ms one after another with 2 threads each)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="attire") if workers > 1 else None
        for part, other in self.per_part.items():
            if other.classes != self.detector.classes:
                raise ModelFileError(f"the {part} detector {other.manifest.path} has classes {other.classes}, "
                                     f"the default {self.detector.manifest.path} {self.detector.classes}")
        unknown = set(self.classifiers) - set(CLASSIFIER_TILES)
        if unknown:
            raise ModelFileError(f"no tiles are cut for the classifier(s) {sorted(unknown)}")
        self.operating_points = {f"detector.{k}": v for k, v in self.detector.manifest.thresholds.items()}
        for name, classifier in self.classifiers.items():
            self.operating_points.update({f"{name}.{k}": v for k, v in classifier.manifest.thresholds.items()})

    def detect(self, image_bgr: np.ndarray, pose: Keypoints | None,
               classifiers: set[str] | None = None) -> AttireFindings:
        """`classifiers`: the tile classifiers to run (those an enabled rule reads); None: every one loaded."""
        if pose is None:
            return AttireFindings(operating_points=self.operating_points)
        crops: list[Crop] = [c for c in attire_crops(pose, self.min_visibility)
                             if PART_CLASSES[c.part] & set(self.detector.classes)]

        def boxes(detector: OnnxDetector) -> list[Box]:
            mine = [c for c in crops if self.per_part.get(c.part, self.detector) is detector]
            size = detector.manifest.input_size
            return [crop.to_frame(b, size) for crop, in_tile in
                    zip(mine, detector.detect_batch([c.cut(image_bgr, size) for c in mine])) for b in in_tile
                    if b.label in PART_CLASSES[crop.part]]

        def classes(classifier: OnnxClassifier, tiles: Callable[..., list[Crop]]) -> list[tuple[Crop, dict]]:
            mine = tiles(pose, self.min_visibility)
            size = classifier.manifest.input_size
            return list(zip(mine, classifier.classify([c.cut(image_bgr, size) for c in mine])))

        detectors = (self.detector, *self.per_part.values())
        wanted = [(c, CLASSIFIER_TILES[name]) for name, c in self.classifiers.items()
                  if classifiers is None or name in classifiers]
        # the detector first: the largest job, so the other worker takes the classifiers meanwhile
        jobs = [partial(boxes, d) for d in detectors] + [partial(classes, *w) for w in wanted]
        done = list(self._pool.map(lambda job: job(), jobs) if self._pool else (job() for job in jobs))
        found = [b for in_frame in done[:len(detectors)] for b in in_frame]
        classified, tiles = {}, {c.part: c.box for c in crops}
        for crop, probs in (pair for pairs in done[len(detectors):] for pair in pairs):
            classified[crop.part] = probs
            tiles[crop.part] = crop.box
        return AttireFindings(merge_overlaps(found, self.detector.classes), tiles, classified, self.operating_points)


def merge_overlaps(boxes: list[Box], classes: tuple[str, ...], iou: float = 0.4) -> list[Box]:
    """Class-wise NMS across tiles, in frame pixels."""
    if len(boxes) < 2:
        return boxes
    xyxy = np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], dtype=np.float32)
    scores = np.array([b.score for b in boxes], dtype=np.float32)
    return [boxes[i] for i in classwise_nms(xyxy, scores, np.array([classes.index(b.label) for b in boxes]), iou)]
