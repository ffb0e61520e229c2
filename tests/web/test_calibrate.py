"""The calibration pages (admin): policy saves that race or name bad files, references, enrolment."""
import html
import io
import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from factories import blank_png, csrf, login, wait_for
from PIL import Image

from station.config import load_config


def test_concurrent_saves_leave_a_valid_policy_and_no_temporary_file(admin_app, tmp_path):
    valid, invalid = "[accessories]\nmax_pieces = 2\n", "[accessories]\nmax_piece = 2\n"
    clients = [admin_app.test_client() for _ in range(2)]
    for c in clients:
        login(c, "boss", "admin password")
    tokens = [csrf(c, "/calibrate") for c in clients]
    codes = []

    def save(i, text, barrier):
        barrier.wait()
        codes.append(clients[i].post("/calibrate/policy", data={"policy": text, "csrf_token": tokens[i]}).status_code)

    for _ in range(40):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=save, args=(0, valid, barrier)),
                   threading.Thread(target=save, args=(1, invalid, barrier))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert load_config(tmp_path / "station.toml").accessories.max_pieces == 2  # the next start works
    assert codes.count(303) == codes.count(400) == 40
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind


@pytest.mark.parametrize("policy, key, says", [
    ('[detector]\nmodel = "models/missing.json"\n', "detector.model", "not found"),
    ('[identify]\nroster = "roster.csv"\n', "identify.roster", "cannot read the roster"),
    ('[camera]\ndevice = "/etc/passwd"\n', "camera.device", "a camera is"),
    ('[uniform]\nprototypes = "../outside/x.json"\n', "uniform.prototypes", "outside the station's folder"),
    ('[log]\nevidence_dir = "/tmp"\n', "log.evidence_dir", "outside the station's folder"),
    ('[log]\ndatabase = "sqlite:////tmp/other.db"\n', "log.database", "outside the station's folder"),
])
def test_a_policy_naming_a_bad_file_or_a_folder_outside_is_refused(admin_client, tmp_path, policy, key, says):
    before = (tmp_path / "station.toml").read_text()
    r = admin_client.post("/calibrate/policy", data={"policy": policy, "csrf_token": csrf(admin_client, "/calibrate")})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 400 and f"'{key}'" in page and says in page and "策略有误" in page
    assert (tmp_path / "station.toml").read_text() == before


def test_a_policy_naming_files_that_load_is_saved(admin_client, tmp_path):
    (tmp_path / "roster.csv").write_text("number,name\nT1024,王师傅\n", encoding="utf-8")
    policy = ('[identify]\nroster = "roster.csv"\n[camera]\ndevice = "/dev/video2"\n'
              '[uniform]\nprototypes = "site/uniform.json"\n[log]\nevidence_dir = "data/evidence"\n')
    r = admin_client.post("/calibrate/policy", data={"policy": policy, "csrf_token": csrf(admin_client, "/calibrate")})
    assert r.status_code == 303 and (tmp_path / "station.toml").read_text() == policy


def upload(client, data: bytes, name="ref.png"):
    return client.post("/calibrate/reference", content_type="multipart/form-data",
                       data={"photo": (io.BytesIO(data), name), "csrf_token": csrf(client, "/calibrate")})


def test_a_huge_photo_is_refused_from_its_header_before_it_is_decoded(admin_client, tmp_path):
    bomb = blank_png(20000, 20000)  # 0.4 MB as a PNG, 1.2 GB decoded
    t0 = time.monotonic()
    r = upload(admin_client, bomb)
    took = time.monotonic() - t0
    page = admin_client.get("/calibrate").get_data(as_text=True)
    assert r.status_code == 303 and "too large (20000x20000" in page and took < 10
    assert not list((tmp_path / "calibration").rglob("*.jpg"))


def test_an_admin_deletes_a_reference_photo_and_nothing_else(admin_client, tmp_path):
    png = io.BytesIO()
    Image.fromarray(np.full((200, 120, 3), 90, np.uint8)).save(png, format="PNG")
    assert upload(admin_client, png.getvalue()).status_code == 303
    refs = tmp_path / "calibration" / "references"
    (name,) = [p.name for p in refs.glob("*.jpg")]
    assert f'value="{name}"' in admin_client.get("/calibrate").get_data(as_text=True)  # a delete button for it
    token = csrf(admin_client, "/calibrate")
    for other in ("../../station.toml", "../references", ".hidden.jpg", "none.jpg"):
        r = admin_client.post("/calibrate/reference/delete", data={"name": other, "csrf_token": token})
        assert r.status_code == 404, other
    assert (tmp_path / "station.toml").is_file()
    r = admin_client.post("/calibrate/reference/delete", data={"name": name, "csrf_token": token})
    assert r.status_code == 303 and not list(refs.iterdir())


def uniform_rule(live):
    return next(c for c in live.pipeline.checks if c.id == "uniform")


def enrol(client):
    r = client.post("/calibrate/enrol", data={"csrf_token": csrf(client, "/calibrate"), "replace": "yes"})
    assert r.status_code == 303
    return client.get("/calibrate").get_data(as_text=True)


def test_enrolment_uses_its_own_models_applies_live_and_keeps_the_last_good_one(store, tmp_path):
    """Fake models: the enrolment runs on its own pipeline, never the live worker's, the running uniform rule
    takes the new prototypes at once, and a failed enrolment leaves the previous one in force."""
    from factories import FakeAttire, H, W, fake_models

    from calibration.enrol import Enroller
    from station.live import LiveStation
    from station.pipeline import Pipeline
    from web.app import create_app

    store.add_user("boss", "admin password", "admin")
    (tmp_path / "station.toml").write_text("[accessories]\nmax_pieces = 3\n")
    config = load_config(tmp_path / "station.toml")
    live_models, enrol_models = fake_models(attire=FakeAttire()), fake_models()
    frame = np.full((H, W, 3), 90, np.uint8)
    live = LiveStation(config, store, lambda: itertools.repeat(frame), Pipeline(config, live_models))
    app = create_app(store, live, config_path=tmp_path / "station.toml", testing=True,
                     enroller=Enroller(lambda c: Pipeline(c, enrol_models)))
    client = app.test_client()
    login(client, "boss", "admin password")
    refs = tmp_path / "calibration" / "references"
    refs.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(refs / f"ref-{i}.jpg"), np.full((H, W, 3), 90 + 10 * i, np.uint8))
    live.start()
    try:
        assert wait_for(lambda: live.frames_judged > 0, 20)
        assert uniform_rule(live).prototypes is None  # not enrolled yet
        assert "Enrolled 2 reference photo(s)" in enrol(client)
        assert enrol_models.pose.calls == 2 and live_models.pose.calls > 0  # each pipeline its own models
        applied = uniform_rule(live).prototypes
        assert applied is not None and [Path(s).name for s in applied.sources] == ["ref-0.jpg", "ref-1.jpg"]
        saved = (tmp_path / "calibration" / "uniform.json").read_bytes()
        for ref in refs.iterdir():
            ref.write_bytes(b"not a photo any more")
        assert "the previous one stays" in enrol(client)
        assert (tmp_path / "calibration" / "uniform.json").read_bytes() == saved
        assert uniform_rule(live).prototypes is applied
    finally:
        live.stop()
    assert not live.errors


@pytest.mark.slow
def test_enrolling_while_the_station_judges_never_disturbs_it(store, tmp_path, shared_eval):
    """The real MediaPipe models: enrolment on /calibrate, many times over, while the live worker judges frames
    (issue 10.1: a shared graph crashed the station or stopped it judging). Judging goes on without an error, and
    every enrolment, a camera frame among the references, succeeds and is applied to the running rules."""
    import shutil

    from station.live import LiveStation
    from station.pipeline import Models, Pipeline
    from station.session import SessionTiming
    from station.sources import open_source
    from web.app import create_app

    store.add_user("boss", "admin password", "admin")
    (tmp_path / "station.toml").write_text("[accessories]\nmax_pieces = 3\n")
    config = load_config(tmp_path / "station.toml")
    refs = tmp_path / "calibration" / "references"
    refs.mkdir(parents=True)
    for photo in sorted((shared_eval / "uniform-public/reference/uniform").glob("*.jpg"))[:3]:
        shutil.copy(photo, refs / photo.name)
    camera = str(shared_eval / "ccp-public/images/ccp_0702.jpg")  # full body, facing the camera
    live = LiveStation(config, store, lambda: open_source(camera, repeat=10**9),
                       Pipeline(config, Models.load(tracking=True, config=config)),
                       timing=SessionTiming(frames_needed=3, verdict_s=0.0, cooldown_s=0.0))
    client = create_app(store, live, config_path=tmp_path / "station.toml", testing=True).test_client()
    login(client, "boss", "admin password")
    live.start()
    try:
        assert wait_for(lambda: live.frames_judged >= 3, 120)
        r = client.post("/calibrate/reference", data={"csrf_token": csrf(client, "/calibrate")})  # a camera frame
        assert r.status_code == 303 and len(list(refs.glob("ref-*.jpg"))) == 1
        for _ in range(8):
            page = enrol(client)
            assert "Enrolled 4 reference photo(s)" in page and "skipped" not in page
        judged = live.frames_judged
        assert wait_for(lambda: live.frames_judged >= judged + 10, 120)  # still judging
    finally:
        live.stop()
    assert not live.errors, live.errors
    assert sorted(Path(s).name for s in uniform_rule(live).prototypes.sources) == sorted(p.name for p in refs.iterdir())
