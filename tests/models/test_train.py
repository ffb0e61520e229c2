"""The training path end to end on a few shared photos: tiles -> one epoch -> ONNX + manifest -> onnxruntime.

Slow and needs the train extra (torch, ultralytics); the full training is not part of the test run.
"""
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_tiny_training_run_exports_a_model_the_station_loads(tmp_path, shared_datasets):
    pytest.importorskip("ultralytics", reason="the train extra is not installed (pip install -e .[train])")
    from models.detector import OnnxDetector
    from models.training.detector import CLASSES, SMALL_SCALE_EDGES, export, fit, prepare, rescore

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
    points = manifest["thresholds"]
    assert points["jewellery_small"] >= points["jewellery"] and points["jewellery_small_scale_px"] in SMALL_SCALE_EDGES
    # `station train points` on an older export: the points its manifest has stay, a missing one is chosen
    older = {**manifest, "thresholds": {k: v for k, v in points.items() if k != "jewellery_small"} | {"badge": 0.777}}
    (tmp_path / "model" / "attire.json").write_text(json.dumps(older))
    rescore(tmp_path / "model" / "attire.json", tmp_path / "tiles", "test")
    again = json.loads((tmp_path / "model" / "attire.json").read_text())["thresholds"]
    assert again == {**points, "badge": 0.777}
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


def _constant_classifier(path, probs):
    """A tiny ONNX classifier (the station's input and output names) that answers `probs` for every tile."""
    import torch

    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("probs", torch.tensor([probs]))

        def forward(self, x):
            return x.mean((1, 2, 3))[:, None] * 0 + self.probs

    torch.onnx.export(Constant(), torch.zeros(1, 3, 32, 32), str(path), opset_version=17, input_names=["images"],
                      output_names=["output0"], dynamo=False,
                      dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}})
    return path


def test_the_merged_graph_answers_the_mean_log_odds_of_both_classifiers(tmp_path):
    pytest.importorskip("torch", reason="the train extra is not installed (pip install -e .[train])")
    import onnxruntime as ort

    from models.training.probe import combine_graphs

    a = _constant_classifier(tmp_path / "a.onnx", [0.2, 0.8])
    b = _constant_classifier(tmp_path / "b.onnx", [0.6, 0.4])
    session = ort.InferenceSession(str(combine_graphs(a, b, tmp_path / "ab.onnx")))
    out = session.run(None, {"images": np.zeros((3, 3, 32, 32), np.float32)})[0]
    odds = np.sqrt(0.8 / 0.2 * 0.4 / 0.6)  # the geometric mean of the two odds
    assert out.shape == (3, 2) and np.allclose(out, [[1 / (1 + odds), odds / (1 + odds)]] * 3, atol=1e-5)


def test_a_classifier_tuned_at_another_size_sees_the_merged_graphs_tiles_resized_to_its_own(tmp_path):
    """The probe may take larger tiles than the fine-tuned classifier was trained on: the merged graph's tuned
    branch resizes them (bilinear) to its size, and `tuned_graph` takes that classifier out again unchanged."""
    pytest.importorskip("torch", reason="the train extra is not installed (pip install -e .[train])")
    import cv2
    import onnxruntime as ort
    import torch

    from models.detector import to_blob
    from models.training.probe import combine_graphs, tuned_graph

    class LeftHalfBright(torch.nn.Module):  # answers how much brighter the left half is: needs its own 32 px
        def forward(self, x):
            d = (x[:, :, :, :16].mean((1, 2, 3)) - x[:, :, :, 16:32].mean((1, 2, 3)))[:, None]
            return torch.cat([1 - d.sigmoid(), d.sigmoid()], 1)

    tuned = tmp_path / "tuned.onnx"
    torch.onnx.export(LeftHalfBright(), torch.zeros(1, 3, 32, 32), str(tuned), opset_version=17, dynamo=False,
                      input_names=["images"], output_names=["output0"], dynamic_axes={"images": {0: "batch"},
                                                                                        "output0": {0: "batch"}})
    probe = _constant_classifier(tmp_path / "probe.onnx", [0.5, 0.5])  # log-odds 0: the mean is half the tuned's
    merged = combine_graphs(tuned, probe, tmp_path / "merged.onnx", first_size=32)
    tile = np.zeros((64, 64, 3), np.uint8)
    tile[:, :24] = 200  # at 64 px the bright part ends before 32: the tuned model on the raw tile would see it all
    out = ort.InferenceSession(str(merged)).run(None, {"images": to_blob([tile])})[0][0]
    own = ort.InferenceSession(str(tuned)).run(None, {"images": to_blob([cv2.resize(tile, (32, 32))])})[0][0]
    half_odds = np.sqrt(own[1] / own[0])
    assert out[1] == pytest.approx(half_odds / (1 + half_odds), abs=2e-3)
    again = ort.InferenceSession(str(tuned_graph(merged, tmp_path / "again.onnx", 32)))
    assert again.get_inputs()[0].shape[1:] == [3, 32, 32]
    assert np.allclose(again.run(None, {"images": to_blob([cv2.resize(tile, (32, 32))])})[0][0], own, atol=1e-6)


def test_the_logistic_probe_works_on_raw_features_of_any_scale():
    """Fitted on standardised features, its weights are folded back: raw features far from unit scale classify."""
    pytest.importorskip("torch", reason="the train extra is not installed (pip install -e .[train])")
    from models.training.probe import fit_logistic

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(size=(300, 5)) * [1, 100, 0.01, 5, 1000] + 1000
    x[:, 0] += 4 * y  # only the first feature tells the classes apart
    weight, bias = fit_logistic(x, y, 3, c=1.0)
    assert weight.shape == (3, 5) and bias.shape == (3,)
    assert ((x @ weight.T + bias).argmax(1) == y).mean() > 0.9


def test_a_probe_is_added_to_an_installed_classifier_once(tmp_path, shared_datasets):
    """`garments front probe` on a few shared photos: the installed model becomes the merged one, its manifest
    names the probe and the kept fine-tuned model, the station loads it; a second probe replaces the first, with
    the fine-tuned model given again or taken out of the installed graph."""
    pytest.importorskip("ultralytics", reason="the train extra is not installed (pip install -e .[train])")
    from models.crops import front_crops
    from models.detector import OnnxClassifier
    from models.training import classifier, garments
    from models.training.common import write_manifest

    classes = ("closed", "open")
    few = [s for split in ("train", "val") for kind in classes
           for s in [q for q in garments.samples("front") if q.split == split and q.labels["front"] == kind][:3]]
    classifier.prepare(tmp_path / "tiles", few, classes, front_crops, {"closed": 1, "open": 1}, 64, 0.3,
                       pose_cache=tmp_path / "pose")
    (tmp_path / "model").mkdir()
    installed = _constant_classifier(tmp_path / "model" / "front.onnx", [0.9, 0.1])
    write_manifest(installed, list(classes), 64, "test", tmp_path / "tiles", architecture="constant")
    classifier.add_probe(tmp_path / "model", "front", "probe test", tmp_path / "tiles", classes,
                         garments.scorer("front"), "yolov8s-cls.yaml", tmp_path / "runs")
    manifest = json.loads((tmp_path / "model" / "front.json").read_text())
    tuned = tmp_path / "runs" / "front" / "probe" / "tuned.onnx"
    assert tuned.exists() and manifest["probe"]["tuned_sha256"] != manifest["sha256"]
    assert {"open", "open_unsure", "min_tile_px"} <= set(manifest["thresholds"])
    assert manifest["probe"]["train_tiles"]["open"] > 0 and "linear probe" in manifest["architecture"]
    probs = OnnxClassifier(tmp_path / "model" / "front.json").classify([np.zeros((50, 40, 3), np.uint8)])[0]
    assert abs(sum(probs.values()) - 1) < 1e-4 and probs["closed"] != pytest.approx(0.9, abs=1e-3)
    classifier.add_probe(tmp_path / "model", "front", "again", tmp_path / "tiles", classes,
                         garments.scorer("front"), "yolov8s-cls.yaml", tmp_path / "runs", tuned=tuned)
    again = json.loads((tmp_path / "model" / "front.json").read_text())
    assert again["architecture"] == manifest["architecture"] and again["probe_command"] == "again"
    assert again["probe"]["tuned_sha256"] == manifest["probe"]["tuned_sha256"]
    # without the fine-tuned file: its classifier is taken out of the installed graph, and the new probe takes
    # tiles of the prepared size (96) while the classifier keeps its own (64), not a probe on a probe
    classifier.prepare(tmp_path / "tiles96", few, classes, front_crops, {"closed": 1, "open": 1}, 96, 0.3,
                       pose_cache=tmp_path / "pose")
    classifier.add_probe(tmp_path / "model", "front", "third", tmp_path / "tiles96", classes,
                         garments.scorer("front"), "yolov8s-cls.yaml", tmp_path / "runs", c=0.01)
    third = json.loads((tmp_path / "model" / "front.json").read_text())
    assert third["input_size"] == 96 and third["probe"]["tuned_input_size"] == 64
    assert third["probe"]["regularisation_C"] == 0.01 and third["architecture"] == manifest["architecture"]
    probs = OnnxClassifier(tmp_path / "model" / "front.json").classify([np.zeros((50, 40, 3), np.uint8)])[0]
    assert abs(sum(probs.values()) - 1) < 1e-4


def test_beard_probe_on_a_few_labelled_faces_writes_a_model_the_station_loads(tmp_path, shared_datasets):
    """`python -m models.training.beard` on the first 120 labelled faces (6 beards) with an untrained backbone:
    tiles at every scale, cross-validated fail point and scores in the manifest, an ONNX graph the station runs."""
    from models.detector import OnnxClassifier
    from models.training import beard

    assert beard.main(["--weights", "yolov8s-cls.yaml", "--out", str(tmp_path / "beard"), "--limit", "120",
                       "--pose-cache", str(tmp_path / "poses"), "--size", "64"]) == 0
    manifest = json.loads((tmp_path / "beard" / "beard.json").read_text())
    assert manifest["classes"] == ["none", "beard"] and 0 < manifest["thresholds"]["beard"] < 1
    assert set(manifest["validation"]) == {"method", "s100", "s060", "s040"}
    assert manifest["validation"]["s040"]["beards"] == 6 and manifest["data"]["labels"].endswith("ccp_beard.csv")
    classifier = OnnxClassifier(tmp_path / "beard" / "beard.json")
    [probs] = classifier.classify([np.full((64, 64, 3), 120, np.uint8)])
    assert set(probs) == {"none", "beard"} and abs(sum(probs.values()) - 1) < 1e-4


def test_site_training_refits_the_probe_of_the_shipped_front_model_to_the_sites_jacket(tmp_path):
    """A depot whose jacket has a bright zip tape down the middle: the shipped front model calls the jacket worn
    open over a white shirt "closed" too. Reviewed check-ins give a dozen tiles a class; `station train site` fits
    the probe half of the graph again (the fine-tuned half and the backbone stay bit for bit), and on the site's
    held-out tiles the open jacket now fails at the shipped fail point."""
    pytest.importorskip("ultralytics", reason="the train extra is not installed (pip install -e .[train])")
    import cv2
    import onnx

    from models.detector import OnnxClassifier
    from models.training.site import train_site

    rng = np.random.default_rng(0)

    def tile(kind):
        t = cv2.add(np.full((96, 96, 3), (90, 40, 20), np.uint8), rng.integers(0, 25, (96, 96, 3), dtype=np.uint8))
        if kind == "closed":
            t[:, 45:51] = (0, 140, 255)  # the zip tape
        else:
            t[:, 30:66] = (235, 235, 235)  # the shirt under a jacket worn open
        return t

    export = tmp_path / "export"
    for split, n in (("train", 12), ("val", 6)):
        for c in ("closed", "open"):
            folder = export / "tiles" / "front" / split / c
            folder.mkdir(parents=True)
            for i in range(n):
                cv2.imwrite(str(folder / f"{i}.jpg"), tile(c))
    (export / "manifest.json").write_text(json.dumps({"tiles": {"front": {"train": {"closed": 12, "open": 12}}}}))
    installed = Path(__file__).resolve().parents[2] / "models" / "front" / "front.json"
    shipped = json.loads(installed.read_text())
    fail_point = shipped["thresholds"]["open"]
    assert OnnxClassifier(installed).classify([tile("open")])[0]["open"] < fail_point  # the shipped model passes it

    train_site(export, tmp_path / "site.zip", {"front": installed}, "shipped", public="none", work=tmp_path / "work")
    assert (tmp_path / "site.zip").exists()
    refit = tmp_path / "work" / "front" / "export" / "front.json"
    manifest = json.loads(refit.read_text())
    assert manifest["thresholds"] == shipped["thresholds"] and manifest["probe_refit"]["tiles"]["site_train"] == \
        {"closed": 12, "open": 12}
    scores = manifest["site_validation"]
    assert scores["installed"]["classes"]["open"]["recall"] == 0.0 and scores["fine_tuned"]["accuracy"] == 1.0
    closed, opened = OnnxClassifier(refit).classify([tile("closed"), tile("open")])
    assert opened["open"] >= fail_point > closed["open"]
    # only the probe layer's weights changed
    before, after = ({i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(p)).graph.initializer}
                     for p in (installed.with_suffix(".onnx"), refit.with_suffix(".onnx")))
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {"probe/linear.weight", "probe/linear.bias"}
