"""`station bench` on the real models: the stages it reports, and what the table says about those that overlap."""
import pytest

from station.bench import bench, format_bench
from station.config import StationConfig


@pytest.mark.slow
def test_the_stages_beside_pose_overlap_it_and_the_table_says_so():
    report = bench(StationConfig(), None, frames=4, warmup=1, tracking=True)
    stages = {k: v["median_ms"] for k, v in report["stages"].items()}
    assert {"faces", "pose", "segmentation", "skin", "regions", "attire", "total"} <= set(stages)
    assert report["beside_pose"] == ["segmentation", "skin"]
    parts = sum(v for k, v in stages.items() if k != "total")
    assert parts > stages["total"] > stages["pose"] + stages["attire"]  # overlapped, yet each stage is in the total
    assert "segmentation, skin: run beside pose; total: the frame's wall time" in format_bench(report)


def test_a_stage_that_runs_only_in_some_frames_says_in_how_many():
    report = {"mode": "tracking", "frame": "1280x720", "frames": 100, "photos": 3, "peak_rss_mb": 700.0,
              "beside_pose": [], "stages": {
                  "faces": {"median_ms": 4.0, "p95_ms": 5.0, "frames": 100},
                  "faces at head": {"median_ms": 4.3, "p95_ms": 4.7, "frames": 37},
                  "total": {"median_ms": 50.0, "p95_ms": 60.0, "frames": 100}}}
    text = format_bench(report)
    assert "faces at head: ran in 37 of 100 frames (timed over those)" in text
    assert "faces: ran in" not in text and "total: ran in" not in text
