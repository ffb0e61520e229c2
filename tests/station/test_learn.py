"""The learning loop's pieces without models: how a review labels tiles, the split, the gate, the review queue,
and the log's raw frames."""
from datetime import timedelta

import numpy as np
import pytest
from factories import T0, verdict

from checks.registry import REGISTRY
from station.learn import SITE_SET, refusals, rules_of, split_groups
from station.store import Store, StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "log.db", tmp_path / "evidence")
    s.migrate()
    return s


# ------------------------------------------------------------ how a review labels the tiles
def test_a_passing_review_labels_every_seen_tile_compliant():
    labels = REGISTRY["footwear"].tile_labels
    assert labels.labels("pass", [], ["foot_left", "foot_right"]) == {"foot_left": "closed", "foot_right": "closed"}


def test_a_failing_review_labels_the_ticked_parts_and_only_those_that_were_seen():
    labels = REGISTRY["cuffs"].tile_labels
    assert labels.labels("fail", ["forearm_left", "shin_right"], ["forearm_left", "forearm_right"]) == \
        {"forearm_left": "up"}


def test_a_failing_review_without_parts_labels_both_feet_but_no_sleeve():
    # sandals are worn in pairs; which sleeve was rolled up cannot be guessed
    assert REGISTRY["footwear"].tile_labels.labels("fail", [], ["foot_left", "foot_right"]) == \
        {"foot_left": "open", "foot_right": "open"}
    assert REGISTRY["cuffs"].tile_labels.labels("fail", [], ["forearm_left", "forearm_right"]) == {}


def test_every_classifier_a_rule_labels_is_one_the_station_cuts_tiles_for():
    from models.crops import CLASSIFIER_TILES
    from station.model_versions import MODEL_NAMES

    for rule, check in REGISTRY.items():
        assert set(check.models) <= set(MODEL_NAMES), rule
        if check.tile_labels is not None:
            assert check.tile_labels.classifier in CLASSIFIER_TILES and check.tile_labels.classifier in check.models


def test_a_new_footwear_model_is_measured_on_the_footwear_rule_and_a_new_detector_on_badge_and_jewellery():
    assert rules_of(["footwear"]) == ["footwear"]
    assert {"badge", "accessories", "sunglasses"} <= set(rules_of(["attire"]))


# ------------------------------------------------------------ the split by technician and day
def test_the_split_keeps_each_group_on_one_side_and_holds_one_out():
    groups = [f"T{i}|2026-11-{d:02d}" for i in range(8) for d in (16, 17, 18)]
    split = split_groups(groups)
    assert split == split_groups(list(reversed(groups)))  # a group's side does not depend on the others' order
    assert 0 < list(split.values()).count("val") < len(groups)
    assert split_groups(["T1|2026-11-16", "T1|2026-11-17"]).values() != {"train"}
    assert set(split_groups(["T1|2026-11-16", "T2|2026-11-16"]).values()) == {"train", "val"}


# ------------------------------------------------------------ the gate
def report(installed: dict, candidate: dict, rules=("footwear",), tolerance=0.02) -> dict:
    return {"tolerance": tolerance, "rules": list(rules), "installed": {"scores": installed},
            "candidate": {"scores": candidate}}


def scores(n=10, accuracy=0.9, fail_recall=0.8, rule="footwear"):
    return {rule: {"n": n, "accuracy": accuracy, "fail_recall": fail_recall}}


def test_the_gate_takes_a_candidate_no_worse_within_the_tolerance():
    assert refusals(report({SITE_SET: scores()}, {SITE_SET: scores(accuracy=0.885, fail_recall=0.95)})) == []


def test_the_gate_refuses_a_candidate_worse_on_any_rule_metric_and_set_and_says_where():
    why = refusals(report({SITE_SET: scores(), "ccp-public": scores()},
                          {SITE_SET: scores(accuracy=0.95), "ccp-public": scores(fail_recall=0.7)}))
    assert why == ["ccp-public: footwear fail_recall 0.700, installed 0.800 (tolerance 0.02)"]


def test_the_gate_refuses_a_candidate_whose_rules_nothing_measured():
    why = refusals(report({SITE_SET: scores(rule="badge")}, {SITE_SET: scores(rule="badge")}))
    assert len(why) == 1 and "none of the rules" in why[0]


# ------------------------------------------------------------ reviews and the queue in the log
def test_a_rule_review_is_kept_beside_the_machine_result_and_the_latest_counts(store):
    rid = store.add(verdict("fail", footwear="fail", badge="pass"))
    store.review_rule(rid, "footwear", "wang", "fail", ["foot_left"], "拖鞋")
    store.review_rule(rid, "footwear", "li", "pass", ["foot_left"], "看错了")
    record = store.get(rid)
    assert record.rule_review("footwear").truth == "pass" and record.rule_review("footwear").parts == []
    assert [r.user for r in record.reviews] == ["wang", "li"] and record.results[0].status == "fail"
    assert record.rule_review("badge") is None


@pytest.mark.parametrize("check, truth, parts, message", [
    ("footwear", "maybe", [], "pass or fail"),
    ("sunglasses", "fail", [], "no result for the rule"),
    ("footwear", "fail", ["../x"], "unknown parts"),
])
def test_a_malformed_rule_review_is_refused(store, check, truth, parts, message):
    rid = store.add(verdict("fail", footwear="fail"))
    with pytest.raises(StoreError, match=message):
        store.review_rule(rid, check, "wang", truth, parts)


def test_the_queue_ranks_fails_then_disagreement_then_unknowns_and_leaves_out_reviewed_and_old(store):
    now = T0 + timedelta(hours=1)
    confident_pass = store.add(verdict("pass", footwear="pass", badge="pass"), when=T0)
    unknown = store.add(verdict("unknown", footwear="unknown", badge="pass"), when=T0)
    failed = store.add(verdict("fail", footwear="fail", badge="pass"), when=T0)
    split = verdict("pass", footwear="pass", badge="pass")
    split["checks"]["footwear"]["votes"] = {"pass": 4, "fail": 2, "unknown": 0}
    disagreed = store.add(split, when=T0)
    reviewed = store.add(verdict("fail", footwear="fail"), when=T0)
    store.review_rule(reviewed, "footwear", "wang", "fail")
    store.add(verdict("fail", footwear="fail"), when=T0 - timedelta(days=30))
    ranked = [r.id for _, r in store.review_queue(now=now)]
    assert ranked == [failed, disagreed, unknown, confident_pass]


def test_the_raw_frame_is_kept_beside_the_evidence_and_purged_with_it(store):
    frame = np.full((60, 40, 3), 200, np.uint8)
    rid = store.add(verdict("pass", footwear="pass"), evidence=np.zeros((60, 40, 3), np.uint8), frame=frame,
                    models_version="0001-site", when=T0)
    record = store.get(rid)
    assert record.frame_path.endswith("-frame.jpg") and record.models_version == "0001-site"
    assert (store.evidence_dir / record.frame_path).is_file()
    assert store.recover() == {"partial": 0, "orphans": 0}  # recovery knows the frame is the record's
    store.purge_evidence(1, now=T0 + timedelta(days=2))
    assert not (store.evidence_dir / record.frame_path).exists()


# ------------------------------------------------------------ the export, on real photos
@pytest.mark.slow
def test_the_export_uses_reviewed_records_only_and_blurs_faces_when_asked(tmp_path, shared_eval, real_models):
    import cv2

    from station.config import StationConfig
    from station.learn import export_site
    from station.pipeline import Pipeline, StageTimer

    config = StationConfig()
    pipeline = Pipeline(config, real_models)
    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    ids = []
    for i, name in enumerate(("ccp_0714", "ccp_0702", "ccp_0701")):  # sandals, closed shoes, closed shoes
        result = pipeline.run(cv2.imread(str(shared_eval / f"ccp-public/images/{name}.jpg")))
        ids.append(store.add(result.to_dict(), technician=f"T{i}", evidence=result.perception.image,
                             frame=result.perception.image, when=T0 + timedelta(days=i)))
    store.review_rule(ids[0], "footwear", "wang", "fail", [], "凉鞋")
    store.review_rule(ids[1], "footwear", "wang", "pass")  # ids[2] is never reviewed
    manifest = export_site(config, store, tmp_path / "export", blur_faces=True, pipeline=pipeline)
    assert manifest["records"]["used"] == 2 and manifest["rules"]["footwear"] == {"pass": 1, "fail": 1,
                                                                                   "corrected": 0}
    exported = sorted((tmp_path / "export").glob("*/images/*.jpg"))
    assert sorted(int(f.stem) for f in exported) == sorted(ids[:2])
    tiles = {f.parent.name for f in (tmp_path / "export" / "tiles" / "footwear").rglob("*.jpg")}
    assert tiles == {"open", "closed"}
    # the face in the exported photo is pixelated; the rest of the photo is the frame the station kept
    kept = cv2.imread(str(store.evidence_dir / store.get(ids[1]).frame_path))
    photo = cv2.imread(str(next(f for f in exported if int(f.stem) == ids[1])))
    face = pipeline.perceive(kept, StageTimer()).faces[0]
    x1, y1, x2, y2 = (int(v) for v in (face.x1, face.y1, face.x2, face.y2))
    change = np.abs(kept.astype(int) - photo.astype(int))
    outside = change.copy()
    outside[y1:y2, x1:x2] = 0
    assert change[y1:y2, x1:x2].mean() > 4 * max(outside.mean(), 0.5), (change[y1:y2, x1:x2].mean(), outside.mean())
    with pytest.raises(FileExistsError):
        export_site(config, store, tmp_path / "export", pipeline=pipeline)
