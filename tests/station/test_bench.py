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
