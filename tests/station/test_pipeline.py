"""The pipeline's data flow with fake models: frame -> perception (with the attire stage) -> checks -> verdict."""
import numpy as np
from factories import FakeAttire, config, fake_models, make_frame

from checks.base import Status
from models.perception import Box
from station.cli import main
from station.pipeline import Pipeline

FRAME = make_frame()


def test_attire_findings_reach_the_checks_and_are_timed():
    badge = Box(663, 197, 687, 233, 0.9, "badge")  # the wearer's left chest in the factory pose
    closed = {"closed": 0.9, "open": 0.1, "unseen": 0.0}
    attire = FakeAttire([badge], {"foot_left": closed, "foot_right": closed})
    frame = Pipeline(config(), fake_models(attire=attire)).run(FRAME)
    assert frame.results["badge"].status == Status.PASS
    assert frame.results["footwear"].status == Status.PASS
    assert "foot_left" in frame.perception.examined and "attire" in frame.timings_ms
    assert frame.to_dict()["checks"]["badge"]["evidence"][0]["label"] == "badge"


def test_without_an_attire_model_the_rules_that_need_it_say_unknown():
    frame = Pipeline(config(), fake_models()).run(FRAME)
    assert frame.results["badge"].status == Status.UNKNOWN
    assert frame.results["accessories"].status == Status.UNKNOWN
    assert "attire" not in frame.timings_ms


def test_a_missing_model_file_is_named(capsys, tmp_path):
    (tmp_path / "station.toml").write_text('[detector]\nmodel = "nowhere/attire.json"\n')
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.fromarray(FRAME).save(photo)
    code = main(["check", str(photo), "--config", str(tmp_path / "station.toml")])
    err = capsys.readouterr().err
    assert code == 2 and "nowhere/attire.json" in err and "Traceback" not in err


def test_segmentation_and_skin_run_beside_pose_on_one_worker_of_the_pipelines_own():
    """They overlap pose (which is what saves the time), and each model is only ever run by one thread, one frame at
    a time: a MediaPipe graph is not for sharing across threads."""
    import threading
    import time

    from factories import FakePose, FakeSegmenter

    spans = {"pose": [], "segment": [], "window": []}  # (thread, start, end) of each call

    def timed(name, run):
        t0 = time.perf_counter()
        time.sleep(0.05)
        out = run()
        spans[name].append((threading.get_ident(), t0, time.perf_counter()))
        return out

    class SlowPose(FakePose):
        def estimate(self, image):
            return timed("pose", lambda: super(SlowPose, self).estimate(image))

    class SlowSegmenter(FakeSegmenter):
        def segment(self, image, window=None):
            return timed("segment" if window is None else "window",
                         lambda: super(SlowSegmenter, self).segment(image, window))

    models = fake_models()
    models.pose, models.segmenter = SlowPose(models.pose.keypoints), SlowSegmenter()
    pipeline = Pipeline(config(), models)
    for _ in range(3):
        frame = pipeline.run(FRAME)
        assert frame.perception.person_mask.any() and frame.perception.skin is not None
    (pose_thread,), (segment_thread,) = ({t for t, _, _ in spans[k]} for k in ("pose", "segment"))
    assert pose_thread != segment_thread and {t for t, _, _ in spans["window"]} == {segment_thread}
    for (_, p0, p1), (_, s0, s1) in zip(spans["pose"], spans["segment"]):
        assert s0 < p1 and p0 < s1  # the same frame's two calls overlapped
    assert all(s1 <= next_s0 for (_, _, s1), (_, next_s0, _) in zip(spans["segment"], spans["segment"][1:]))


def test_a_failing_side_stage_fails_the_frame_with_its_own_error():
    import pytest

    class BrokenSegmenter:
        def segment(self, image):
            raise RuntimeError("segmenter broke")

    models = fake_models()
    models.segmenter = BrokenSegmenter()
    with pytest.raises(RuntimeError, match="segmenter broke"):
        Pipeline(config(), models).run(FRAME)


def test_a_pipeline_keeps_numpys_blas_to_one_thread():
    """OpenBLAS's idle threads spin after each matrix product (the skin model's covariance, every frame): on 2 cores
    that took half a core from pose and the attire models, which run on threads of their own."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    threadpool_limits(2, user_api="blas")
    assert 2 in blas_threads()
    Pipeline(config(), fake_models())
    assert blas_threads() == {1}


class SmallFacesMissed:
    """Finds the face painted in pure green, in the image's own pixels, only where it is at least a tenth of the
    image wide: as MediaPipe's detector, which sees any image at 192 px, misses a full-body person's face in a
    1280x720 frame and finds it in a square cut round the head."""

    def detect(self, image):
        import cv2

        green = cv2.inRange(image, (0, 250, 0), (10, 255, 10))
        ys, xs = np.nonzero(green)
        if not len(xs) or xs.max() - xs.min() + 1 < 0.1 * image.shape[1]:
            return []
        return [Box(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1), 0.9, "face")]


class RecordingSkin:
    def __init__(self):
        self.references = []

    def adapted_probability(self, image, reference_pixels=None):
        self.references.append(None if reference_pixels is None else len(reference_pixels))
        return np.zeros(image.shape[:2], np.float32)


def test_a_face_the_whole_frame_misses_is_found_at_the_head_and_adapts_the_skin():
    frame = FRAME.copy()
    frame[65:125, 615:665] = (0, 255, 0)  # a face 50 px wide round the factory pose's nose (640, 95)
    models = fake_models()
    models.faces, models.skin = SmallFacesMissed(), RecordingSkin()
    assert models.faces.detect(frame) == []
    result = Pipeline(config(), models).run(frame)
    (face,) = result.perception.faces
    assert (face.x1, face.y1, face.x2, face.y2) == (615, 65, 665, 125)  # in the frame's pixels
    assert "faces at head" in result.timings_ms
    assert models.skin.references[-1]  # the skin model adapted to that face's pixels, not the generic one


def test_the_person_is_segmented_again_in_the_window_round_their_pose():
    from station.pipeline import person_window

    models = fake_models()
    window = person_window(models.pose.keypoints, 1280, 720)
    x0, y0, x1, y1 = window
    xy = models.pose.keypoints.xy
    assert x0 < xy[:, 0].min() and xy[:, 0].max() < x1 and y0 < xy[:, 1].min() - 10 and x1 - x0 < 1280 / 2
    photo = Pipeline(config(), models).run(FRAME)
    assert models.segmenter.windows == [None, window]  # the whole frame beside pose, then the person's window
    assert photo.perception.person_mask[y0:y1, x0:x1].any()
    # following a person, the last frame's window is segmented beside pose: nothing waits for it
    live_models = fake_models()
    live = Pipeline(config(), live_models, tracking=True)
    live.run(FRAME)
    live.run(FRAME)
    assert live_models.segmenter.windows == [None, None, window]


def test_no_window_where_the_person_fills_the_frame():
    from station.pipeline import person_window

    from factories import make_keypoints
    from models.perception import Keypoints

    kp = make_keypoints()
    portrait = Keypoints(kp.xy - np.array([340, 0], np.float32), kp.visibility, (600, 720))
    assert person_window(portrait, 600, 720) is None  # a portrait photo of one person: nothing to gain


def test_following_a_person_the_face_is_looked_for_round_the_last_frames_head_before_the_skin_adapts():
    """Live, segmentation and skin run beside pose, before this frame's pose is known: the face the whole frame
    misses is looked for round the last frame's head, in this frame's pixels (never the last frame's box, which may
    hold the wall by now), and the skin model adapts to it."""
    frame = FRAME.copy()
    frame[65:125, 615:665] = (0, 255, 0)
    models = fake_models()
    models.faces, models.skin = SmallFacesMissed(), RecordingSkin()
    live = Pipeline(config(), models, tracking=True)
    first, second = live.run(frame), live.run(frame)
    assert models.skin.references[0] is None and models.skin.references[1]  # no face yet, then this frame's
    assert len(first.perception.faces) == len(second.perception.faces) == 1
    moved = FRAME.copy()  # the person gone from where they stood: nothing of the last frame's face is used
    live.run(moved)
    assert models.skin.references[2] is None


class WalkingPose:
    """The factories' person, `dx` pixels further to the side at each call."""

    def __init__(self, dx: float):
        from factories import make_keypoints

        self.kp, self.dx, self.calls = make_keypoints(), dx, 0

    def estimate(self, image):
        from models.perception import Keypoints

        self.calls += 1
        return Keypoints(self.kp.xy + np.array([self.dx * self.calls, 0], np.float32), self.kp.visibility,
                         self.kp.image_size)


def test_a_live_frame_of_a_body_in_motion_is_shown_not_judged_and_a_photo_never_is():
    """Motion blur hides open toes and jewellery from a few pixels on: live, a frame whose body moved faster than
    [framing] max_body_speed is marked to hold still (the session does not collect it)."""
    t = [0.0]

    def frames(dx: float, tracking: bool = True) -> list:
        models = fake_models()
        models.pose = WalkingPose(dx)
        pipeline = Pipeline(config(), models, tracking=tracking, clock=lambda: t[0])
        out = []
        for _ in range(5):
            out.append(pipeline.run(FRAME).perception.framing)
            t[0] += 1 / 15
        return out

    # shoulders 140 px apart, 15 frames a second: 2 px a frame is 0.21 shoulder widths a second, 12 px is 1.3
    assert all(f.still and f.ok for f in frames(2.0))
    walking = frames(12.0)
    assert walking[0].still  # a person's first frame: no speed known yet
    assert all(not f.still and f.ok and f.instruction_en == "Hold still" for f in walking[1:])
    assert all(f.still for f in frames(12.0, tracking=False))  # photos are judged one by one


def test_the_speed_limit_is_the_policys():
    t = [0.0]
    models = fake_models()
    models.pose = WalkingPose(12.0)
    pipeline = Pipeline(config(framing={"max_body_speed": 2.0}), models, tracking=True, clock=lambda: t[0])
    for _ in range(3):
        framing = pipeline.run(FRAME).perception.framing
        t[0] += 1 / 15
    assert framing.still
