"""The pipeline's data flow with fake models: frame -> perception (with the attire stage) -> checks -> verdict."""
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

    spans = {"pose": [], "segment": []}  # (thread, start, end) of each call

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
        def segment(self, image):
            return timed("segment", lambda: super(SlowSegmenter, self).segment(image))

    models = fake_models()
    models.pose, models.segmenter = SlowPose(models.pose.keypoints), SlowSegmenter()
    pipeline = Pipeline(config(), models)
    for _ in range(3):
        frame = pipeline.run(FRAME)
        assert frame.perception.person_mask.any() and frame.perception.skin is not None
    (pose_thread,), (segment_thread,) = ({t for t, _, _ in spans[k]} for k in ("pose", "segment"))
    assert pose_thread != segment_thread
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
