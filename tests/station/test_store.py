"""The appearance log on a real SQLite file and on a real PostgreSQL server (STATION_PG_URL, which .ci/run sets
from .ci/postgres.sh): schema by alembic, records with evidence, filters, overrides, retention."""
import os
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import inspect, text

from station.store import RecordFilter, Store, StoreError, blur_boxes, write_atomically

T0 = datetime(2026, 11, 20, 7, 30, tzinfo=timezone.utc)


def verdict(overall="fail", **statuses):
    checks = {c: {"status": s, "score": 0.8, "reason_zh": f"{c} 原因", "reason_en": f"{c} reason",
                  "measurements": {"x": 0.5}} for c, s in (statuses or {"badge": "pass", "footwear": "fail"}).items()}
    return {"overall": overall, "checks": checks, "frames": 6}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(tmp_path / "log.db", tmp_path / "evidence", station="depot-1")
    else:
        url = os.environ.get("STATION_PG_URL")
        if not url:
            pytest.skip("no PostgreSQL server: set STATION_PG_URL (.ci/run starts one with .ci/postgres.sh)")
        s = Store(url, tmp_path / "evidence", station="depot-1")
        with s.engine.begin() as conn:  # a clean database for every test
            for table in ("rule_reviews", "overrides", "rule_results", "records", "login_sessions", "users",
                          "alembic_version"):
                conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    s.migrate()
    yield s
    s.engine.dispose()


def test_schema_comes_from_alembic(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"records", "rule_results", "overrides", "rule_reviews", "users", "login_sessions",
            "alembic_version"} <= tables
    store.migrate()  # idempotent: already at head
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0006"


def test_sqlite_runs_in_wal(tmp_path):
    s = Store(tmp_path / "log.db", tmp_path / "evidence")
    s.migrate()
    s.add(verdict())
    with sqlite3.connect(tmp_path / "log.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_sqlite_log_is_readable_by_its_owner_only(tmp_path):
    import stat

    s = Store(tmp_path / "log.db", tmp_path / "evidence")
    s.migrate()
    s.add(verdict())
    for name in ("log.db", "log.db-wal", "log.db-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    s.close()
    assert not (tmp_path / "log.db-wal").exists()  # closed: the write-ahead log is folded back
    (tmp_path / "old.db").touch(mode=0o644)
    Store(tmp_path / "old.db", tmp_path / "evidence")  # made by an earlier version: tightened
    assert stat.S_IMODE((tmp_path / "old.db").stat().st_mode) == 0o600


def test_record_with_evidence_round_trips(store, tmp_path):
    photo = np.full((120, 80, 3), 200, np.uint8)
    rid = store.add(verdict(), technician="T1024", evidence=photo, when=T0)
    r = store.get(rid)
    assert (r.verdict, r.technician, r.station, r.frames) == ("fail", "T1024", "depot-1", 6)
    assert {x.check: x.status for x in r.results} == {"badge": "pass", "footwear": "fail"}
    assert r.results[1].reason_zh == "footwear 原因" and r.results[1].measurements == {"x": 0.5}
    path = tmp_path / "evidence" / r.evidence_path
    assert path.is_file() and r.evidence_path.startswith("station-evidence/2026-11-20/")
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left nothing behind


def test_a_record_that_cannot_be_written_leaves_no_orphan_photo(store, tmp_path):
    bad = verdict()
    bad["checks"]["badge"]["score"] = "not a number"
    with pytest.raises(ValueError):
        store.add(bad, evidence=np.zeros((10, 10, 3), np.uint8))
    assert not [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    with pytest.raises(StoreError):
        store.add({"overall": "maybe", "checks": {}})


def test_a_photo_that_cannot_be_written_keeps_its_record(store, tmp_path):
    (tmp_path / "evidence").write_text("")  # a file where the folder should be: every photo write fails, even as root
    rid = store.add(verdict(), technician="T1", evidence=np.zeros((10, 10, 3), np.uint8))
    r = store.get(rid)
    assert r.evidence_path is None and r.evidence_error.startswith("evidence photo not saved")
    assert store.evidence_failure == r.evidence_error
    (tmp_path / "evidence").unlink()
    assert store.get(store.add(verdict(), evidence=np.zeros((10, 10, 3), np.uint8))).evidence_error is None
    assert store.evidence_failure is None  # writing again: the alarm ends


def test_filters(store):
    store.add(verdict("pass", badge="pass", footwear="pass"), technician="T1", when=T0)
    store.add(verdict("fail", badge="fail", footwear="pass"), technician="T2", when=T0 + timedelta(hours=1))
    store.add(verdict("fail", badge="pass", footwear="fail"), technician="T2", when=T0 + timedelta(days=1))
    assert [r.technician for r in store.find()] == ["T2", "T2", "T1"]  # newest first
    assert len(store.find(RecordFilter(technician="T2"))) == 2
    assert len(store.find(RecordFilter(verdict="pass"))) == 1
    assert [r.created_at.day for r in store.find(RecordFilter(failed_check="footwear"))] == [21]
    day = RecordFilter(date_from=T0.replace(hour=0), date_to=T0.replace(hour=0) + timedelta(days=1))
    assert len(store.find(day)) == 2


def test_override_is_kept_beside_the_machine_verdict(store):
    rid = store.add(verdict("fail"))
    with pytest.raises(StoreError, match="reason"):
        store.override(rid, "wang", "pass", "   ")
    with pytest.raises(StoreError, match="no record"):
        store.override(rid + 99, "wang", "pass", "badge was under the jacket")
    store.override(rid, "wang", "pass", "badge was under the jacket")
    r = store.get(rid)
    assert r.verdict == "fail" and r.final_verdict == "pass"
    assert (r.overrides[0].user, r.overrides[0].reason) == ("wang", "badge was under the jacket")


def test_ids_beyond_the_column_and_long_reasons_are_refused(store):
    rid = store.add(verdict("fail"))
    for huge in (2**31, 2**63, 2**64):  # past PostgreSQL's integer and SQLite's: "no record", not a driver error
        with pytest.raises(StoreError, match="no record"):
            store.get(huge)
        with pytest.raises(StoreError, match="no record"):
            store.override(huge, "wang", "pass", "checked")
    with pytest.raises(StoreError, match="500 characters"):
        store.override(rid, "wang", "pass", "x" * 501)
    assert not store.get(rid).overrides


def test_retention_purges_photos_and_keeps_records(store, tmp_path):
    photo = np.zeros((20, 20, 3), np.uint8)
    old = store.add(verdict(), evidence=photo, when=T0 - timedelta(days=40))
    new = store.add(verdict(), evidence=photo, when=T0)
    assert store.purge_evidence(30, now=T0) == 1
    assert not (tmp_path / "evidence" / store.get(old).evidence_path).exists()
    assert store.get(old).evidence_purged_at is not None and store.get(old).results
    assert (tmp_path / "evidence" / store.get(new).evidence_path).exists()
    assert store.purge_evidence(30, now=T0) == 0


def test_face_blur_and_atomic_write(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    blurred = blur_boxes(image, [(30, 30, 70, 70)])
    assert blurred[50, 50].tolist() != image[50, 50].tolist() or blurred[40:60, 40:60].std() < image[40:60, 40:60].std()
    assert (blurred[:10, :10] == image[:10, :10]).all()  # outside the face: untouched
    target = tmp_path / "a" / "x.bin"
    write_atomically(target, b"one")
    write_atomically(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in target.parent.iterdir()] == ["x.bin"]


WRITER = """
import sys, numpy as np
from station.store import Store
store = Store(sys.argv[1], sys.argv[2])
photo = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
v = {"overall": "fail", "checks": {"badge": {"status": "fail", "score": 0.9, "reason_zh": "z", "reason_en": "e"}}}
while True:
    store.add(v, technician="T1", evidence=photo)
"""


def test_killed_mid_write_leaves_an_intact_log(tmp_path):
    """SIGKILL a station while it writes records with photos: the database is intact, every record's photo is
    whole, and recover() clears what the kill left half-done."""
    import signal
    import subprocess
    import sys
    import time

    db, evidence = tmp_path / "log.db", tmp_path / "evidence"
    Store(db, evidence).migrate()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(evidence)])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with sqlite3.connect(db) as raw:
                if raw.execute("SELECT count(*) FROM records").fetchone()[0] >= 15:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the writer did not write")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(db, evidence)
    store.recover()
    records = store.find(limit=10_000)
    assert len(records) >= 15
    named = {r.evidence_path for r in records}
    on_disk = {p.relative_to(evidence).as_posix() for p in evidence.rglob("*") if p.is_file()}
    assert on_disk == named
    import cv2

    assert all(cv2.imread(str(evidence / n)) is not None for n in named)  # no half photo behind any record
    store.add(verdict())  # and the log takes new records


def test_recovery_removes_only_files_the_station_wrote(store, tmp_path):
    """[log] evidence_dir may point at a folder with other files in it: recovery leaves every one of them alone."""
    evidence = tmp_path / "evidence"
    theirs = [evidence / "notes.txt", evidence / "sub" / "family-photo.jpg", evidence / ".config.tmp",
              evidence / "2026-11-20" / "073000-0123abcd.jpg",  # the station's pattern, outside its subfolder
              evidence / "station-evidence" / "2026-11-20" / "holiday.jpg",
              evidence / "station-evidence" / "notes" / "073000-0123abcd.jpg"]
    for f in theirs:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"not the station's")
    kept = evidence / store.get(store.add(verdict(), evidence=np.zeros((8, 8, 3), np.uint8), when=T0)).evidence_path
    day = kept.parent
    orphan, partial = day / "073001-deadbeef.jpg", day / ".073002-deadbeef.jpg.k2j4_x9a.tmp"
    orphan.write_bytes(b"photo whose record never committed")
    partial.write_bytes(b"half a photo")
    assert store.recover() == {"partial": 1, "orphans": 1}
    assert not orphan.exists() and not partial.exists() and kept.is_file()
    assert all(f.read_bytes() == b"not the station's" for f in theirs)


def test_users_have_hashed_passwords_and_roles(store):
    store.add_user("wang", "correct horse", "admin")
    store.add_user("li", "battery staple")
    assert store.check_password("wang", "correct horse") == "admin"
    assert store.check_password("li", "battery staple") == "supervisor"
    assert store.check_password("li", "wrong password") is None
    assert store.check_password("nobody", "correct horse") is None
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE username = 'wang'")).scalar()
    assert "correct horse" not in stored and stored.startswith("scrypt:")
    for bad, match in ((("wang", "another pass", "supervisor"), "exists"), (("zhao", "short", "supervisor"), "8"),
                       (("zhao", "long enough", "root"), "role")):
        with pytest.raises(StoreError, match=match):
            store.add_user(*bad)


def test_a_login_lasts_until_logout_expiry_or_a_change_to_its_user(store):
    from station.store import utcnow

    store.add_user("wang", "correct horse")
    store.add_user("li", "battery staple", "admin")
    token = store.start_session("wang")
    assert store.session_user(token) == ("wang", "supervisor") and store.session_user("forged") is None
    with store.engine.connect() as conn:  # the table keeps a hash: reading it lets no one in
        assert token not in {row[0] for row in conn.execute(text("SELECT id FROM login_sessions"))}
    store.end_session(token)
    assert store.session_user(token) is None
    old = store.start_session("wang", now=utcnow() - timedelta(hours=13))
    assert store.session_user(old) is None  # 12 hours at most
    others = store.start_session("li")
    for change in (lambda: store.set_password("wang", "new password"), lambda: store.set_disabled("wang", True),
                   lambda: store.remove_user("wang")):
        token = store.start_session("wang")
        change()
        assert store.session_user(token) is None, change
        assert store.session_user(others) == ("li", "admin")  # another user's login is untouched
        if store.users()[-1].username == "wang":
            store.set_disabled("wang", False)


def test_a_disabled_user_cannot_log_in_and_unknown_users_cannot_change(store):
    store.add_user("wang", "correct horse")
    store.set_disabled("wang", True)
    assert store.check_password("wang", "correct horse") is None and store.users()[0].disabled
    store.set_disabled("wang", False)
    assert store.check_password("wang", "correct horse") == "supervisor"
    for change in (lambda: store.set_password("nobody", "long enough"), lambda: store.remove_user("nobody"),
                   lambda: store.set_disabled("nobody", True)):
        with pytest.raises(StoreError, match="no user 'nobody'"):
            change()
    with pytest.raises(StoreError, match="8 characters"):
        store.set_password("wang", "short")


def test_record_batches_read_the_whole_log_a_batch_at_a_time(store, monkeypatch):
    for i in range(23):  # many share one timestamp: the batches must neither skip nor repeat them
        store.add(verdict("fail" if i % 3 else "pass"), technician=f"T{i}", when=T0 + timedelta(hours=i // 10))
    newest_first = [r.id for r in store.find(limit=100)]
    fetched = []
    fetch = store._fetch
    monkeypatch.setattr(store, "_fetch", lambda q, limit: fetched.append(fetch(q, limit)) or fetched[-1])
    batches = list(store.record_batches(batch=5))
    assert [r.id for b in batches for r in b] == newest_first and len(newest_first) == 23
    assert [len(b) for b in batches] == [len(b) for b in fetched] == [5, 5, 5, 5, 3]  # one query a batch
    assert [r.technician for b in store.record_batches(RecordFilter(verdict="pass"), batch=2) for r in b] == \
        [r.technician for r in store.find(RecordFilter(verdict="pass"))]


def test_daily_counts_are_aggregated_by_the_database(store):
    day1, day2 = T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1)
    store.add(verdict("pass", badge="pass", footwear="pass"), when=day1 + timedelta(hours=1))
    overridden = store.add(verdict("fail", badge="fail", footwear="unknown"), when=day1 + timedelta(hours=23))
    store.override(overridden, "wang", "fail", "first look")
    store.override(overridden, "wang", "pass", "badge under the jacket")  # the latest override counts
    store.add(verdict("fail", badge="pass", footwear="fail"), when=day2)
    store.add(verdict("pass", badge="pass"), when=day2 + timedelta(days=1))  # outside the range
    assert store.daily_counts(day1, day2 + timedelta(days=1)) == {
        day1.date().isoformat(): {"records": 2, "passed": 2, "rules": {"badge": [1, 2], "footwear": [1, 1]}},
        day2.date().isoformat(): {"records": 1, "passed": 0, "rules": {"badge": [1, 1], "footwear": [0, 1]}}}


def test_a_log_from_before_the_hardening_is_upgraded_with_its_data(store):
    """Migrations 0003 and 0004 on a log at 0002 that holds a record and a user (SQLite and PostgreSQL)."""
    from alembic import command
    from alembic.config import Config

    from station.store import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    store.engine.dispose()
    with store.engine.begin() as conn:
        assert "login_sessions" not in inspect(conn).get_table_names()
        conn.execute(text("INSERT INTO records (created_at, station, verdict, frames) "
                          "VALUES ('2026-11-20 07:30:00', 'depot-1', 'fail', 6)"))
        conn.execute(text("INSERT INTO users (username, password_hash, role, created_at) VALUES "
                          "('wang', 'scrypt:x', 'admin', '2026-11-20 07:30:00')"))
    store.migrate()
    (record,) = store.find()
    assert record.verdict == "fail" and record.evidence_error is None
    assert [(u.username, u.disabled) for u in store.users()] == [("wang", False)]
    assert store.session_user(store.start_session("wang")) == ("wang", "admin")


def test_a_stuck_check_in_keeps_its_note_and_days_follow_the_station_zone(store):
    """An unknown check-in that the kiosk recorded when it was stuck keeps why; days are counted in the station's
    zone (a check-in at 17:30 UTC is the next day in Shanghai), also across a summer-time change."""
    from zoneinfo import ZoneInfo

    rid = store.add({"overall": "unknown", "checks": {}, "note": "stuck for 60 s: show your feet"}, technician="T1",
                    when=datetime(2026, 11, 20, 17, 30, tzinfo=timezone.utc))
    assert store.get(rid).note == "stuck for 60 s: show your feet"
    assert store.add({"overall": "pass", "checks": {}}) and store.find()[0].note is None
    day = datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert set(store.daily_counts(day, day + timedelta(days=2))) >= {"2026-11-20"}
    shanghai = store.daily_counts(day - timedelta(hours=8), day + timedelta(days=1, hours=16), ZoneInfo("Asia/Shanghai"))
    assert shanghai["2026-11-21"]["records"] == 1 and "2026-11-20" not in shanghai
    berlin = ZoneInfo("Europe/Berlin")  # 25 October 2026: clocks go back an hour
    store.add({"overall": "pass", "checks": {}}, when=datetime(2026, 10, 25, 22, 30, tzinfo=timezone.utc))  # 23:30
    store.add({"overall": "pass", "checks": {}}, when=datetime(2026, 10, 23, 22, 30, tzinfo=timezone.utc))  # 00:30
    counts = store.daily_counts(datetime(2026, 10, 20, tzinfo=berlin), datetime(2026, 10, 30, tzinfo=berlin), berlin)
    assert counts["2026-10-25"]["records"] == 1 and counts["2026-10-24"]["records"] == 1
