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
