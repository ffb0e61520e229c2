"""The calibration pages (admin): policy saves that race or name bad files, references, enrolment."""
import html
import threading

import pytest
from factories import csrf, login

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
