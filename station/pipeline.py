"""frame -> perception -> checks -> verdict, as named stages with per-stage timing (like ultralytics' predictor)."""
from __future__ import annotations

import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from checks.base import CheckResult, Status
from checks.registry import build_checks
from models.interfaces import AttireDetector, FaceDetector, PersonSegmenter, PoseEstimator
from models.perception import AttireFindings, Box, Keypoints, Perception
from models.regions import body_scale, build_regions, feet_on_silhouette
from station.config import StationConfig
from station.framing import assess_framing, body_speed, with_motion

BESIDE_POSE = ("segmentation", "skin")  # the stages a pipeline's side worker runs while pose runs
MAX_SIDE = 1920  # larger frames are shrunk first: MediaPipe runs at 256 px inside, detail beyond this buys nothing
MOTION_SPAN_S = 0.15  # a live body's speed is measured over this much time (station.framing.body_speed)
HEAD_CROP = 1.6  # the side of the square cut round the head for a second face search, in shoulder widths


@dataclass
class FrameResult:
    perception: Perception
    results: dict[str, CheckResult]
    timings_ms: dict[str, float]
    scale: float = 1.0  # processed frame size / input frame size

    @property
    def overall(self) -> Status:
        return overall_status(self.results.values(), self.perception.framing)

    def to_dict(self) -> dict:
        """JSON of the verdict; evidence coordinates are in the input's own pixels (the frame judged may have been
        shrunk: `scale` says by how much)."""
        f = self.perception.framing
        return {
            "overall": self.overall.value,
            "framing": {"ok": f.ok, "people": f.people, "issues": list(f.issues),
                        "instruction_zh": f.instruction_zh, "instruction_en": f.instruction_en},
            "checks": {k: r.to_dict(1.0 / self.scale) for k, r in self.results.items()},
            "scale": round(self.scale, 6),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


NEVER_PASS = ("several_people", "too_dark", "no_person")  # a frame like this can never mean "seen and compliant"


def overall_status(results, framing=None) -> Status:
    """FAIL if any rule fails; PASS only when every rule passed and the frame showed one person in usable light;
    otherwise UNKNOWN (judge again)."""
    statuses = [r.status for r in results]
    if Status.FAIL in statuses:
        return Status.FAIL
    if framing is not None and any(i in NEVER_PASS for i in framing.issues):
        return Status.UNKNOWN
    if statuses and all(s == Status.PASS for s in statuses):
        return Status.PASS
    return Status.UNKNOWN


@dataclass
class Models:
    pose: PoseEstimator
    segmenter: PersonSegmenter
    faces: FaceDetector
    skin: object  # models.skin.SkinModel (or a fake with the same adapted_probability)
    attire: AttireDetector | None = None  # None: the checks fall back to what skin and pose alone can tell
    version: str = "shipped"  # the installed model version these came from (station.model_versions)

    @classmethod
    def load(cls, tracking: bool = False, config: StationConfig | None = None) -> "Models":
        from models.mediapipe_models import MediaPipeFaces, MediaPipePose, MediaPipeSegmenter
        from models.skin import SkinModel

        attire, version = load_attire(config or StationConfig())
        return cls(MediaPipePose(tracking=tracking), MediaPipeSegmenter(), MediaPipeFaces(), SkinModel.load(),
                   attire, version)


def load_attire(config: StationConfig) -> tuple[AttireDetector, str]:
    """The learned models (attire detector and tile classifiers) of the installed version that is active now, and
    that version's name. A model path in the config wins over the installed version (it pins that model)."""
    from models.detector import AttireDetector as OnnxAttireDetector
    from models.detector import OnnxClassifier, OnnxDetector
    from station.model_versions import MODEL_NAMES, ModelStore

    cfg = config.detector
    installed = ModelStore(config.resolve(config.learn.models_dir))
    version = installed.active()
    active = installed.manifests(version)

    def manifest(name: str):
        pinned = getattr(cfg, cfg.key_of(name))
        return config.resolve(pinned) if pinned else active[name]

    detector = OnnxDetector(manifest("attire"), conf=cfg.conf, threads=1)
    per_part = {"torso": OnnxDetector(config.resolve(cfg.torso_model), conf=cfg.conf, threads=1)} \
        if cfg.torso_model else {}
    classifiers = {name: OnnxClassifier(manifest(name), threads=1)
                   for name in MODEL_NAMES if name != "attire" and getattr(cfg, cfg.key_of(name)) != "none"}
    return OnnxAttireDetector(detector, classifiers, config.framing.min_visibility, per_part,
                              workers=cfg.threads), version


@dataclass
class StageTimer:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + (time.perf_counter() - t0) * 1000


def select_person(faces: list[Box], width: int, height: int) -> Box | None:
    """With several people in view, the one to judge: the largest face, favouring the centre of the frame."""
    if not faces:
        return None

    def weight(b: Box) -> float:
        off_centre = abs(b.center[0] - width / 2) / (width / 2)
        return b.area * (1.0 - 0.5 * off_centre)

    return max(faces, key=weight)


def faces_at_head(detector: FaceDetector, image: np.ndarray, pose) -> list[Box]:
    """The faces found in a square cut round the pose's head, in frame pixels. MediaPipe's full-range face detector
    sees the whole frame at 192 px: a full-body person's face in a 1280x720 frame (50-70 px) is 8-10 px there, and
    was missed in one such frame in six (the hair and beard rules then said "face not in view", and the skin
    model lost its adaptation to the person). In the head square it is 60-90 px."""
    if not pose.visible("nose"):
        return []
    h, w = image.shape[:2]
    half = HEAD_CROP * body_scale(pose) / 2
    (nx, ny) = pose.point("nose")
    x0, y0 = int(max(0, nx - half)), int(max(0, ny - half))
    x1, y1 = int(min(w, nx + half)), int(min(h, ny + half))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    return [Box(b.x1 + x0, b.y1 + y0, b.x2 + x0, b.y2 + y0, b.score, b.label)
            for b in detector.detect(np.ascontiguousarray(image[y0:y1, x0:x1]))]


def person_window(pose, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Where the person's silhouette is segmented (x0, y0, x1, y1): round the pose's keypoints, with the hair above
    the eyes, an arm held out and at least 0.7 body heights across. The segmentation model sees its input at 256 x
    144 px: over a whole 1280x720 frame, a full-body person's head was a few pixels wide and the mask ran into the
    wall round it (CCP people in such frames: IoU with their pixel labels 0.69, 0.59 round the head); in this window
    0.89 and 0.88, in the same 4 ms. None where the window is most of the frame anyway."""
    xy = pose.xy
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    tall = max(float(y1 - y0), 1.0)
    half = max(float(x1 - x0) / 2, 0.35 * tall) + 0.15 * tall
    cx = float(x0 + x1) / 2
    box = (int(max(0, cx - half)), int(max(0, y0 - 0.2 * tall)), int(min(width, cx + half)),
           int(min(height, y1 + 0.1 * tall)))
    if box[2] - box[0] < 16 or box[3] - box[1] < 16 or (box[2] - box[0]) * (box[3] - box[1]) > 0.6 * width * height:
        return None
    return box


def holds_nose(face: Box, pose) -> bool:
    return face.contains(*pose.point("nose"))


def face_skin_pixels(image: np.ndarray, face: Box | None) -> np.ndarray | None:
    """Cheek-and-nose pixels of the face box: this person's own skin colour, away from hair, eyes and beard."""
    if face is None:
        return None
    x1, y1, x2, y2 = face.as_int()
    w, h = x2 - x1, y2 - y1
    patch = image[y1 + int(0.45 * h): y1 + int(0.75 * h), x1 + int(0.2 * w): x2 - int(0.2 * w)]
    return patch.reshape(-1, 3) if patch.size else None


class Followed(NamedTuple):
    """One live frame of the person followed: when it was taken, its size, the person's window and their pose."""

    at: float
    size: tuple[int, int]
    window: tuple[int, int, int, int] | None
    pose: Keypoints


class Pipeline:
    def __init__(self, config: StationConfig, models: Models | None = None, tracking: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.models = models or Models.load(tracking=tracking, config=config)
        self.checks = build_checks(config)
        # numpy's OpenBLAS keeps a thread per core that spins on sched_yield for a while after each matrix product
        # (the skin model's covariance is one, every frame): on 2 cores it took half a core from MediaPipe and
        # onnxruntime, which bring their own threads. Matrix products here are small: one thread does them.
        threadpool_limits(1, user_api="blas")
        # one worker of this pipeline's own: its segmenter and skin model are only ever run there, one frame at a time
        self._beside = ThreadPoolExecutor(1, thread_name_prefix="perceive")
        self.tracking = tracking
        # following a person: the frames of the last moments, newest last; the last one tells where the person
        # stands, the older ones whether they stand still
        self._followed: deque[Followed] = deque(maxlen=16)
        self.clock = clock

    def _segment(self, image: np.ndarray, crop_x: tuple[int, int], window: tuple[int, int, int, int] | None,
                 timer: StageTimer, person_mask: np.ndarray | None = None) -> np.ndarray:
        """The person mask: the whole frame (others in view count as people; given as `person_mask` when it is
        made already) and, in the `window` where the person stands, their silhouette at the model's resolution."""
        with timer("segmentation"):
            if person_mask is None:
                person_mask = self.models.segmenter.segment(image)
            if window is not None:
                x0, y0, x1, y1 = window
                person_mask[y0:y1, x0:x1] = self.models.segmenter.segment(image, window)
            if crop_x != (0, image.shape[1]):
                person_mask[:, : crop_x[0]] = 0
                person_mask[:, crop_x[1]:] = 0
        return person_mask

    def _skin(self, image: np.ndarray, face: Box | None, timer: StageTimer) -> np.ndarray:
        with timer("skin"):
            return self.models.skin.adapted_probability(image, face_skin_pixels(image, face))

    def _segment_and_skin(self, image: np.ndarray, face: Box | None, crop_x: tuple[int, int],
                          window: tuple[int, int, int, int] | None, timer: StageTimer) -> tuple[np.ndarray, np.ndarray]:
        return self._segment(image, crop_x, window, timer), self._skin(image, face, timer)

    def _again(self, image: np.ndarray, person_mask: np.ndarray, skin: np.ndarray, crop_x: tuple[int, int],
               window: tuple[int, int, int, int] | None, face: Box | None, timer: StageTimer) \
            -> tuple[np.ndarray, np.ndarray]:
        """A photo's silhouette in its person's window, and its skin adapted to a face found only at the head."""
        if window is not None:
            person_mask = self._segment(image, crop_x, window, timer, person_mask)
        return person_mask, (skin if face is None else self._skin(image, face, timer))

    def perceive(self, image: np.ndarray, timer: StageTimer) -> Perception:
        cfg = self.config
        h, w = image.shape[:2]
        taken = self.clock()
        with timer("faces"):
            faces = self.models.faces.detect(image)
        last = self._followed[-1] if self.tracking and self._followed else None
        follow = last is not None and last.size == (w, h)
        looked_at_head = follow and not faces
        if looked_at_head:  # round the last frame's head, in this frame's own pixels (the skin adapts to them)
            last_pose = last.pose
            with timer("faces at head"):
                faces = [f for f in faces_at_head(self.models.faces, image, last_pose) if holds_nose(f, last_pose)]
        target = select_person(faces, w, h) if len(faces) > 1 else (faces[0] if faces else None)
        crop_x = (0, w)
        if len(faces) > 1 and target is not None:
            # MediaPipe Pose follows one person: show it only the chosen one, ~3.5 face widths either side
            half = 3.5 * max(target.width, 1.0)
            crop_x = (max(0, int(target.center[0] - half)), min(w, int(target.center[0] + half)))
        # Segmentation and skin run on a second core while MediaPipe Pose, the longest stage, runs here (on 2 cores
        # the three took 34 ms side by side against 45). Where the person stands and whose face is theirs come from
        # the pose: following a person, the last frame's pose tells where; a photo waits for its own pose.
        window = last.window if follow else None
        beside = self._beside.submit(self._segment_and_skin, image, target, crop_x, window, timer)
        try:
            with timer("pose"):
                pose = self.models.pose.estimate(np.ascontiguousarray(image[:, crop_x[0]:crop_x[1]]))
                if pose is not None and crop_x != (0, w):
                    xy = pose.xy + np.array([crop_x[0], 0], np.float32)
                    pose = type(pose)(xy, pose.visibility, (w, h))
                if pose is not None and cfg.camera.mirrored:
                    pose = pose.mirrored()
        finally:
            person_mask, skin = beside.result()  # waited for even when pose failed: the next frame must not overlap
        own_face = None
        if pose is not None:
            own_face = next((f for f in faces if holds_nose(f, pose)), None)
            if own_face is None and not looked_at_head:
                with timer("faces at head"):
                    own_face = next((f for f in faces_at_head(self.models.faces, image, pose)
                                     if holds_nose(f, pose)), None)
                if own_face is not None:
                    faces = faces + [own_face]
        window = person_window(pose, w, h) if pose is not None else None
        speed = None
        if self.tracking:
            if not follow or pose is None:
                self._followed.clear()
            else:
                # against the pose of MOTION_SPAN_S ago (or the oldest kept): over one frame, MediaPipe's jitter
                # of a pixel or two reads as motion, and the faster the machine the more
                then = next((f for f in reversed(self._followed) if taken - f.at >= MOTION_SPAN_S),
                            self._followed[0])
                speed = body_speed(then.pose, pose, taken - then.at, cfg.framing.min_visibility)
            if pose is not None:
                self._followed.append(Followed(taken, (w, h), window, pose))
        elif pose is not None:  # a photo: now that its pose says where the person is
            person_mask, skin = self._beside.submit(self._again, image, person_mask, skin, crop_x, window,
                                                    own_face if own_face is not target else None, timer).result()
        with timer("regions"):
            if pose is not None:
                pose = feet_on_silhouette(pose, person_mask)
            regions = build_regions(pose, cfg.framing.min_visibility) if pose is not None else {}
            framing = assess_framing(pose, faces, cfg.framing.min_visibility, cfg.framing.min_facing_ratio,
                                     person_mask, cfg.camera.mirrored, image)
            if self.tracking and pose is not None:  # a live camera: a body in motion is blurred
                framing = with_motion(framing, speed, cfg.framing.max_body_speed)
        found = AttireFindings()
        if self.models.attire is not None:
            with timer("attire"):
                # a rule that is off costs nothing: its classifier is not run
                found = self.models.attire.detect(image, pose, {m for c in self.checks for m in c.models})
        return Perception(image, pose, person_mask, faces, regions, framing, skin, found)

    def run(self, image: np.ndarray) -> FrameResult:
        timer = StageTimer()
        t0 = time.perf_counter()
        with timer("preprocess"):
            scale = 1.0
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            elif image.shape[2] == 4:
                image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
            if max(image.shape[:2]) > MAX_SIDE:
                scale = MAX_SIDE / max(image.shape[:2])
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            image = np.ascontiguousarray(image, dtype=np.uint8)
        perception = self.perceive(image, timer)
        results = {}
        for check in self.checks:
            with timer(f"check.{check.id}"):
                results[check.id] = check.judge(perception)
        timer.timings["total"] = (time.perf_counter() - t0) * 1000
        return FrameResult(perception, results, timer.timings, scale)


def aggregate(frames: list[dict[str, CheckResult]], min_judged: int = 3,
              fail_weight: float = 2.0) -> dict[str, CheckResult]:
    """One verdict per rule from the per-frame results of one session, decided as a strict check would.

    - A rule is decided only from frames that judged it (pass or fail); with fewer than `min_judged` of them it is
      `unknown` ("seen in 1 of 6 frames"), however confident that one frame was.
    - Votes are weighted by confidence, a fail's `fail_weight` times a pass's: two confident fails outweigh four
      weak passes, while one stray weak fail among many confident passes does not.
    - PASS needs `min_judged` passing frames as well as the majority, and more passing frames than frames that saw
      the part and could not tell (`unsure`: a classifier's band below its fail point).
    The result is the most confident frame of the deciding side (its reason and evidence) with the score replaced
    by that side's share of the weighted vote; `votes` keeps the counts (pass, fail, unknown) for the record.
    """
    by_check: dict[str, list[CheckResult]] = defaultdict(list)
    for frame in frames:
        for check_id, result in frame.items():
            by_check[check_id].append(result)
    out = {}
    for check_id, results in by_check.items():
        votes = {s.value: sum(r.status == s for r in results) for s in Status}
        passes = [r for r in results if r.status == Status.PASS]
        fails = [r for r in results if r.status == Status.FAIL]
        unsure = [r for r in results if r.status == Status.UNKNOWN and r.unsure]
        w_pass = sum(max(r.score, 1e-3) for r in passes)
        w_fail = fail_weight * sum(max(r.score, 1e-3) for r in fails)
        if len(passes) + len(fails) < min_judged:
            best = max(results, key=lambda r: r.score)
            judged = len(passes) + len(fails)
            if judged == 0:
                zh, en = best.reason_zh, best.reason_en
            else:
                zh = f"只有 {judged}/{len(results)} 帧能判断（至少需要 {min_judged} 帧），请保持站姿再检查一次"
                en = (f"Judged in only {judged} of {len(results)} frames (at least {min_judged} needed): "
                      "hold still and check again")
            out[check_id] = replace(best, status=Status.UNKNOWN, score=0.0, reason_zh=zh, reason_en=en, votes=votes)
        elif w_fail >= w_pass:
            best = max(fails, key=lambda r: r.score)
            out[check_id] = replace(best, score=w_fail / (w_fail + w_pass), votes=votes)
        elif len(passes) >= min_judged and len(passes) > len(unsure):
            best = max(passes, key=lambda r: r.score)
            out[check_id] = replace(best, score=w_pass / (w_fail + w_pass), votes=votes)
        elif unsure and len(unsure) >= len(passes):
            # as many frames saw the part and could not tell as passed it: not a PASS (the frames that could not
            # tell lean towards the violation); their reason says a supervisor will check
            out[check_id] = replace(unsure[-1], votes=votes)
        else:
            best = max(passes, key=lambda r: r.score)
            out[check_id] = replace(best, status=Status.UNKNOWN, score=0.0, reason_zh="多帧结果不一致，请重新检查",
                                    reason_en="Frames disagree: please check again", votes=votes)
    return out
