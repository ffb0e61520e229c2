"""The appearance log: one record per check-in, its per-rule results, supervisors' overrides, evidence on disk.

SQLAlchemy ORM over SQLite by default (WAL, one transaction per record) or any URL SQLAlchemy knows (PostgreSQL for
several stations logging to one server). The schema is created and upgraded by alembic (`station/migrations`).
Evidence photos are files beside the database, written atomically and referenced from the record; a retention
purge deletes old photos and keeps the records. An override is kept beside the machine's verdict, never over it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, and_, case, create_engine,
                        delete, event, func, literal_column, or_, select)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload

STATUSES = ("pass", "fail", "unknown")
MAX_ID = 2**31 - 1  # record ids are 32-bit on PostgreSQL: a larger one names no record (and must not reach the driver)
MAX_REASON = 500  # characters in an override's reason
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)
# Evidence photos go into a subfolder of [log] evidence_dir that only the station writes, named by day and time plus
# a random suffix; recovery after a crash touches nothing else, wherever evidence_dir points.
EVIDENCE_SUBDIR = "station-evidence"
DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
# the evidence photo (boxes drawn) and, beside it, the raw frame it was judged on (`-frame`: site training data)
PHOTO_FILE = re.compile(r"\d{6}-[0-9a-f]{8}(-frame)?\.jpg")
# write_atomically's temporary files
PARTIAL_FILE = re.compile(r"\.\d{6}-[0-9a-f]{8}(-frame)?\.jpg\.[A-Za-z0-9_]+\.tmp")
TRUTHS = ("pass", "fail")  # what a rule review may say the photo shows


def _offset_segments(start: datetime, end: datetime, tz) -> list[tuple[datetime, datetime, int]]:
    """[start, end) cut where `tz`'s UTC offset changes (checked hourly: zones change on the hour or half hour),
    each piece with its offset in minutes."""
    if tz is None:
        return [(start, end, 0)]
    def minutes(t: datetime) -> int:
        return int(t.astimezone(tz).utcoffset().total_seconds() // 60)

    pieces, piece_start, offset, t = [], start, minutes(start), start
    while t < end:
        nxt = min(t + timedelta(minutes=30), end)
        if nxt < end and minutes(nxt) != offset:
            pieces.append((piece_start, nxt, offset))
            piece_start, offset = nxt, minutes(nxt)
        t = nxt
    pieces.append((piece_start, end, offset))
    return pieces


class StoreError(ValueError):
    """A request the log cannot take (an unknown record, an override without a reason)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Record(Base):
    __tablename__ = "records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, default=utcnow)
    station: Mapped[str] = mapped_column(String(64), default="")
    technician: Mapped[str | None] = mapped_column(String(64), index=True)
    verdict: Mapped[str] = mapped_column(String(8), index=True)  # the machine's: pass / fail / unknown
    frames: Mapped[int] = mapped_column(Integer, default=1)
    evidence_path: Mapped[str | None] = mapped_column(String(512))  # relative to the evidence folder
    evidence_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence_error: Mapped[str | None] = mapped_column(Text)  # why the photo is missing (folder full, read-only)
    frame_path: Mapped[str | None] = mapped_column(String(512))  # the raw frame judged, relative like evidence_path
    models_version: Mapped[str | None] = mapped_column(String(128))  # the installed models' version that judged
    note: Mapped[str | None] = mapped_column(Text)  # why it ended without a full judgement (stuck at a guidance line)
    results: Mapped[list["RuleResult"]] = relationship(back_populates="record", cascade="all, delete-orphan",
                                                       order_by="RuleResult.id")
    overrides: Mapped[list["Override"]] = relationship(back_populates="record", cascade="all, delete-orphan",
                                                       order_by="Override.id")
    reviews: Mapped[list["RuleReview"]] = relationship(back_populates="record", cascade="all, delete-orphan",
                                                       order_by="RuleReview.id")

    def rule_review(self, check: str) -> "RuleReview | None":
        """The latest supervisor's review of one rule, or None."""
        mine = [r for r in self.reviews if r.check == check]
        return mine[-1] if mine else None

    @property
    def final_verdict(self) -> str:
        """The latest override's verdict where a supervisor overrode the machine, else the machine's."""
        return self.overrides[-1].verdict if self.overrides else self.verdict


class RuleResult(Base):
    __tablename__ = "rule_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    check: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(8), index=True)
    score: Mapped[float] = mapped_column(Float)
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    measurements: Mapped[dict] = mapped_column(JSON, default=dict)
    evidence: Mapped[list | None] = mapped_column(JSON)  # [{label, status, value, polygon}] in frame pixels
    votes: Mapped[dict | None] = mapped_column(JSON)  # a session's frames by status
    record: Mapped[Record] = relationship(back_populates="results")

    def failed_parts(self) -> list[str]:
        """The labels of the evidence this rule failed on (foot_left, forearm_right, ...)."""
        return [e["label"] for e in self.evidence or () if e.get("status") == "fail"]


class RuleReview(Base):
    """A supervisor's truth about one rule of one record, kept beside the machine's result (never over it). Only
    these are labels: `station learn export` uses reviewed rules and nothing else."""

    __tablename__ = "rule_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    check: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user: Mapped[str] = mapped_column(String(64))
    truth: Mapped[str] = mapped_column(String(8))  # pass / fail: what the photo shows for this rule
    parts: Mapped[list] = mapped_column(JSON, default=list)  # the tiles that show the violation (foot_left, ...)
    reason: Mapped[str] = mapped_column(Text, default="")
    record: Mapped[Record] = relationship(back_populates="reviews")


ROLES = ("supervisor", "admin")


class User(Base):
    """A supervisor account for the review pages. Passwords are stored as salted scrypt hashes (werkzeug)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


SESSION_LIFETIME = timedelta(hours=12)


class LoginSession(Base):
    """A supervisor's login, kept on the server so that logging out, or any change to the user, ends it: the
    cookie only names it. The id is the SHA-256 of the cookie's token, so the table alone lets no one in."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _final_verdict():
    """The final verdict as SQL: the latest override's, else the machine's."""
    latest = select(Override.verdict).where(Override.record_id == Record.id).order_by(Override.id.desc()).limit(1)
    return func.coalesce(latest.scalar_subquery(), Record.verdict)


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Override(Base):
    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[Record] = relationship(back_populates="overrides")


# a record is always read with its rule results, overrides and rule reviews (the pages and the export need them)
WITH_CHILDREN = (selectinload(Record.results), selectinload(Record.overrides), selectinload(Record.reviews))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the web UI) never block the station's writes
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a power cut loses at most the last commit
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over the target: a reader or a
    crash sees the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _owner_only(database: Path) -> None:
    """The SQLite file (password hashes, who was checked when) readable by the station's user only; SQLite gives its
    -wal and -shm files the same mode."""
    if not database.exists():
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is a new SQLite database
    elif database.stat().st_mode & 0o077:
        database.chmod(0o600)


def _password_hash(password: str) -> str:
    from werkzeug.security import generate_password_hash

    if len(password) < 8:
        raise StoreError("a password needs at least 8 characters")
    return generate_password_hash(password)


def blur_boxes(image: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """A copy of the image with each box (x1, y1, x2, y2) pixelated beyond recognition, grown by a fifth."""
    out = image.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in boxes:
        gx, gy = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
        a, b = int(max(x1 - gx, 0)), int(max(y1 - gy, 0))
        c, d = int(min(x2 + gx, w)), int(min(y2 + gy, h))
        if c - a < 2 or d - b < 2:
            continue
        patch = cv2.resize(out[b:d, a:c], (max((c - a) // 12, 1), max((d - b) // 12, 1)), interpolation=cv2.INTER_AREA)
        out[b:d, a:c] = cv2.resize(patch, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
    return out


def review_priority(record: Record) -> float:
    """How much a review of this record would teach: see `Store.review_queue`."""
    score = 0.0
    for r in record.results:
        if r.status == "fail":
            score += 3
        elif r.status == "unknown":
            score += 2
        else:
            score += max(0.0, 1.0 - r.score)
        votes = r.votes or {}
        if votes.get("pass") and votes.get("fail"):
            score += 2.5
    return round(score, 3)


@dataclass(frozen=True)
class RecordFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive
    technician: str | None = None  # part of a technician number (any case)
    verdict: str | None = None  # the final verdict (an override's where there is one)
    failed_check: str | None = None
    station: str | None = None
    numbers: tuple[str, ...] = ()  # also match these technician numbers (the roster's names that matched)


class Store:
    """The log. `url` is an SQLAlchemy URL; a plain path means an SQLite file."""

    def __init__(self, url: str | Path, evidence_dir: str | Path, station: str = "") -> None:
        url = str(url)
        if "://" not in url:
            Path(url).parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{Path(url).resolve()}"
        self.url = url
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if self.engine.url.database not in (None, "", ":memory:"):
                _owner_only(Path(self.engine.url.database))
        self.evidence_dir = Path(evidence_dir)
        self.station = station
        self.evidence_failure: str | None = None  # the last photo write's error; None once one is written again

    @classmethod
    def from_config(cls, config) -> "Store":
        """The log a station config names (relative paths from the config file's folder), schema upgraded."""
        log = config.log
        url = log.database if "://" in log.database else config.resolve(log.database)
        store = cls(url, config.resolve(log.evidence_dir), log.station_name)
        store.migrate()
        return store

    def close(self) -> None:
        """Close every connection (SQLite then folds its write-ahead log back into the database file)."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def add(self, verdict: dict, technician: str | None = None, evidence: np.ndarray | None = None,
            blur_faces: list[tuple[float, float, float, float]] | None = None, when: datetime | None = None,
            frame: np.ndarray | None = None, models_version: str | None = None) -> int:
        """Store one check-in: `verdict` as `FrameResult.to_dict()` / the session JSON gives it ("overall",
        "checks"). The evidence photo is on disk before the record names it; if the record cannot be written, the
        photo is removed again, so neither is ever left without the other. A photo that cannot be written (folder
        full or read-only) does not cost the verdict: the record is stored with `evidence_error` saying why, and
        `evidence_failure` holds the error until a photo is written again. `frame`, the raw frame the verdict was
        judged on, is kept beside the photo (`-frame.jpg`, faces blurred as the photo's) so that a reviewed record
        can become training data; it is best effort, never a reason to lose the record."""
        if verdict.get("overall") not in STATUSES:
            raise StoreError(f"verdict must be one of {STATUSES}, got {verdict.get('overall')!r}")
        when = when or utcnow()
        rel = frame_rel = error = None
        if evidence is not None:
            stem = f"{EVIDENCE_SUBDIR}/{when:%Y-%m-%d}/{when:%H%M%S}-{os.urandom(4).hex()}"
            try:
                rel = self._write_photo(f"{stem}.jpg", evidence, blur_faces)
                if frame is not None:
                    frame_rel = self._write_photo(f"{stem}-frame.jpg", frame, blur_faces)
            except OSError as exc:
                error = f"evidence photo not saved: {exc}"
                log.error("%s (the record is stored without it)", error)
                if rel and frame is not None:  # the photo is kept, only the raw frame is missing
                    error = f"raw frame not saved: {exc}"
                else:
                    rel = None
            self.evidence_failure = error
        try:
            with Session(self.engine) as session, session.begin():
                record = Record(created_at=when, station=self.station, technician=technician,
                                verdict=verdict["overall"], frames=int(verdict.get("frames", 1)), evidence_path=rel,
                                evidence_error=error, frame_path=frame_rel, models_version=models_version,
                                note=verdict.get("note") or None)
                for check, r in verdict.get("checks", {}).items():
                    record.results.append(RuleResult(check=check, status=r["status"], score=float(r["score"]),
                                                     reason_zh=r["reason_zh"], reason_en=r["reason_en"],
                                                     measurements=r.get("measurements", {}),
                                                     evidence=r.get("evidence") or None, votes=r.get("votes")))
                session.add(record)
                session.flush()
                return record.id
        except BaseException:
            for written in (rel, frame_rel):
                if written:
                    (self.evidence_dir / written).unlink(missing_ok=True)
            raise

    def _write_photo(self, rel: str, image: np.ndarray, blur_faces) -> str:
        ok, jpg = cv2.imencode(".jpg", blur_boxes(image, blur_faces) if blur_faces else image,
                               [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise StoreError("the evidence photo could not be encoded")
        write_atomically(self.evidence_dir / rel, jpg.tobytes())
        return rel

    def get(self, record_id: int) -> Record:
        if not 1 <= record_id <= MAX_ID:
            raise StoreError(f"no record {record_id}")
        with Session(self.engine) as session:
            record = session.get(Record, record_id, options=WITH_CHILDREN)
            if record is None:
                raise StoreError(f"no record {record_id}")
            session.expunge_all()
            return record

    def find(self, f: RecordFilter = RecordFilter(), limit: int = 500, offset: int = 0) -> list[Record]:
        """The records the filter matches, newest first: `limit` of them from `offset` (a page)."""
        return self._fetch(self._query(f).offset(offset), limit)

    def record_batches(self, f: RecordFilter = RecordFilter(), batch: int = 500):
        """Every record the filter matches, newest first, in lists of `batch`, each read in its own short
        transaction (after the last one read, not at an offset): an export of the whole log never holds it all."""
        return self.record_batches_of(self._filtered(f), batch)

    @classmethod
    def _query(cls, f: RecordFilter):
        return cls._filtered(f).order_by(Record.created_at.desc(), Record.id.desc())

    @staticmethod
    def _filtered(f: RecordFilter):
        q = select(Record).options(*WITH_CHILDREN)
        if f.date_from:
            q = q.where(Record.created_at >= f.date_from)
        if f.date_to:
            q = q.where(Record.created_at < f.date_to)
        if f.technician:
            pattern = "%" + f.technician.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            match = func.lower(Record.technician).like(pattern, escape="\\")
            q = q.where(or_(match, Record.technician.in_(f.numbers)) if f.numbers else match)
        if f.verdict:
            q = q.where(_final_verdict() == f.verdict)
        if f.station is not None:
            q = q.where(Record.station == f.station)
        if f.failed_check:
            q = q.where(Record.results.any((RuleResult.check == f.failed_check) & (RuleResult.status == "fail")))
        return q

    def count(self, f: RecordFilter = RecordFilter()) -> int:
        """How many records the filter matches (the review's page count)."""
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(self._query(f).order_by(None).subquery()))

    def stations(self) -> list[str]:
        """The stations that have logged here (several can share one PostgreSQL log)."""
        with Session(self.engine) as session:
            return sorted(session.scalars(select(Record.station).distinct()))

    def _fetch(self, q, limit: int) -> list[Record]:
        with Session(self.engine) as session:
            records = list(session.scalars(q.limit(limit)))
            session.expunge_all()
            return records

    def daily_counts(self, date_from: datetime, date_to: datetime, tz=None) -> dict[str, dict]:
        """Per day ("YYYY-MM-DD") in [date_from, date_to), days in the time zone `tz` (a tzinfo; None: UTC):
        check-ins, those passed (by the final verdict, an override's where there is one), and per rule [passed,
        judged]. Counted by the database, so a year of records is never loaded: the range is cut where the zone's
        UTC offset changes (summer time) and each piece grouped by its shifted day."""
        final = _final_verdict()
        days: dict[str, dict] = {}
        with Session(self.engine) as session:
            for start, end, minutes in _offset_segments(date_from, date_to, tz):
                day = self._local_day(minutes)
                in_range = (Record.created_at >= start) & (Record.created_at < end)
                for d, n, passed in session.execute(
                        select(day, func.count(Record.id), func.sum(case((final == "pass", 1), else_=0)))
                        .where(in_range).group_by(day)):
                    entry = days.setdefault(str(d), {"records": 0, "passed": 0, "rules": {}})
                    entry["records"] += n
                    entry["passed"] += int(passed or 0)
                for d, check, passed, judged in session.execute(
                        select(day, RuleResult.check, func.sum(case((RuleResult.status == "pass", 1), else_=0)),
                               func.count(RuleResult.id))
                        .join(Record, Record.id == RuleResult.record_id)
                        .where(in_range, RuleResult.status.in_(("pass", "fail"))).group_by(day, RuleResult.check)):
                    rule = days[str(d)]["rules"].setdefault(check, [0, 0])
                    rule[0] += int(passed)
                    rule[1] += judged
        return days

    def _local_day(self, minutes: int):
        """The record's day, its UTC time shifted by `minutes`, as SQL."""
        if self.engine.dialect.name == "postgresql":
            utc = func.timezone(literal_column("'UTC'"), Record.created_at)
            return func.date(utc + func.make_interval(0, 0, 0, 0, 0, minutes))
        return func.date(Record.created_at, f"{minutes:+d} minutes")  # SQLite keeps the UTC time as text

    def technician_counts(self, date_from: datetime, date_to: datetime) -> list[dict]:
        """Per technician in [date_from, date_to): check-ins, those passed (final verdict), and how often each rule
        failed; most check-ins first. Counted by the database."""
        final = _final_verdict()
        in_range = (Record.created_at >= date_from) & (Record.created_at < date_to)
        people: dict[str | None, dict] = {}
        with Session(self.engine) as session:
            for tech, n, passed in session.execute(
                    select(Record.technician, func.count(Record.id), func.sum(case((final == "pass", 1), else_=0)))
                    .where(in_range).group_by(Record.technician)):
                people[tech] = {"technician": tech, "records": n, "passed": int(passed or 0), "failed": {}}
            for tech, check, n in session.execute(
                    select(Record.technician, RuleResult.check, func.count(RuleResult.id))
                    .join(Record, Record.id == RuleResult.record_id)
                    .where(in_range, RuleResult.status == "fail").group_by(Record.technician, RuleResult.check)):
                people[tech]["failed"][check] = n
        return sorted(people.values(), key=lambda p: (-p["records"], p["technician"] or ""))

    def override(self, record_id: int, user: str, verdict: str, reason: str) -> None:
        if verdict not in ("pass", "fail"):
            raise StoreError(f"an override sets pass or fail, got {verdict!r}")
        if not reason.strip():
            raise StoreError("an override needs a reason")
        if len(reason.strip()) > MAX_REASON:
            raise StoreError(f"an override's reason is at most {MAX_REASON} characters")
        if not user.strip():
            raise StoreError("an override needs the supervisor's name")
        with Session(self.engine) as session, session.begin():
            if not 1 <= record_id <= MAX_ID or session.get(Record, record_id) is None:
                raise StoreError(f"no record {record_id}")
            session.add(Override(record_id=record_id, user=user, verdict=verdict, reason=reason.strip()))

    def review_rule(self, record_id: int, check: str, user: str, truth: str, parts: list[str] | None = None,
                    reason: str = "") -> None:
        """A supervisor's truth about one rule: `truth` pass or fail (what the photo shows), `parts` the tiles
        that show the violation. Confirming the machine is a review too (the same truth as its result)."""
        if truth not in TRUTHS:
            raise StoreError(f"a rule review says pass or fail, got {truth!r}")
        if len(reason.strip()) > MAX_REASON:
            raise StoreError(f"a review's reason is at most {MAX_REASON} characters")
        if not user.strip():
            raise StoreError("a review needs the supervisor's name")
        parts = sorted({str(p) for p in parts or ()})
        if any(not re.fullmatch(r"[a-z_]{1,32}", p) for p in parts):
            raise StoreError(f"unknown parts {parts}")
        with Session(self.engine) as session, session.begin():
            if not 1 <= record_id <= MAX_ID or session.get(Record, record_id) is None:
                raise StoreError(f"no record {record_id}")
            if session.scalar(select(RuleResult.id).where(RuleResult.record_id == record_id,
                                                          RuleResult.check == check)) is None:
                raise StoreError(f"record {record_id} has no result for the rule {check!r}")
            session.add(RuleReview(record_id=record_id, check=check, user=user, truth=truth,
                                   parts=parts if truth == "fail" else [], reason=reason.strip()))

    def review_queue(self, limit: int = 20, days: int = 14, now: datetime | None = None) -> list[tuple[float, Record]]:
        """The recent records worth a supervisor's look, most instructive first, with their priority: a record not
        yet reviewed rule by rule ranks by its failed rules (3), frames that disagreed (2.5), unknown rules (2) and
        rules judged with low confidence (1 - score), summed over its rules."""
        since = (now or utcnow()) - timedelta(days=days)
        q = select(Record).options(*WITH_CHILDREN).where(Record.created_at >= since, ~Record.reviews.any(),
                                                         Record.results.any())
        ranked = [(review_priority(r), r) for batch in self.record_batches_of(q) for r in batch]
        ranked.sort(key=lambda pr: (-pr[0], -pr[1].created_at.timestamp(), -pr[1].id))
        return ranked[:limit]

    def record_batches_of(self, q, batch: int = 500):
        """The records of an unordered query, newest first, a batch per short transaction (keyset paging)."""
        last = None
        while True:
            page = q.order_by(Record.created_at.desc(), Record.id.desc())
            if last is not None:
                page = page.where(or_(Record.created_at < last.created_at,
                                      and_(Record.created_at == last.created_at, Record.id < last.id)))
            records = self._fetch(page, batch)
            if records:
                yield records
            if len(records) < batch:
                return
            last = records[-1]

    def reviewed_records(self, since: datetime | None = None) -> list[Record]:
        """Every record with at least one rule reviewed (the only ones that are labels), oldest first."""
        q = select(Record).options(*WITH_CHILDREN).where(Record.reviews.any())
        if since is not None:
            q = q.where(Record.created_at >= since)
        out = [r for batch in self.record_batches_of(q) for r in batch]
        return out[::-1]

    def recover(self) -> dict[str, int]:
        """After a crash: remove half-written photos (temporary files) and photos that no record names (written
        just before the process died, its record never committed). Run at start-up, before this station writes.
        Only files of the station's own naming inside its own subfolder are candidates; links are not followed."""
        own = self.evidence_dir / EVIDENCE_SUBDIR
        partial = orphans = 0
        if own.is_symlink() or not own.is_dir():
            return {"partial": partial, "orphans": orphans}
        with Session(self.engine) as session:
            named = set(session.scalars(select(Record.evidence_path).where(Record.evidence_path.is_not(None))))
            named |= set(session.scalars(select(Record.frame_path).where(Record.frame_path.is_not(None))))
        for day in own.iterdir():
            if day.is_symlink() or not day.is_dir() or not DAY_FOLDER.fullmatch(day.name):
                continue
            for f in day.iterdir():
                if f.is_symlink() or not f.is_file():
                    continue
                if PARTIAL_FILE.fullmatch(f.name):
                    f.unlink()
                    partial += 1
                elif PHOTO_FILE.fullmatch(f.name) and f"{EVIDENCE_SUBDIR}/{day.name}/{f.name}" not in named:
                    f.unlink()
                    orphans += 1
        return {"partial": partial, "orphans": orphans}

    # ------------------------------------------------------------ supervisor accounts and their logins
    def add_user(self, username: str, password: str, role: str = "supervisor") -> None:
        if role not in ROLES:
            raise StoreError(f"role must be one of {ROLES}, got {role!r}")
        if not username.strip() or len(username) > 64:
            raise StoreError("a user name is 1 to 64 characters")
        password_hash = _password_hash(password)
        with Session(self.engine) as session, session.begin():
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise StoreError(f"user {username!r} already exists")
            session.add(User(username=username, password_hash=password_hash, role=role))

    def users(self) -> list[User]:
        with Session(self.engine) as session:
            users = list(session.scalars(select(User).order_by(User.username)))
            session.expunge_all()
            return users

    def remove_user(self, username: str) -> None:
        """The account and its logins go; the overrides it made keep its name."""
        with Session(self.engine) as session, session.begin():
            session.delete(self._user(session, username))
            self._end_sessions(session, username)

    def set_password(self, username: str, password: str) -> None:
        password_hash = _password_hash(password)
        with Session(self.engine) as session, session.begin():
            self._user(session, username).password_hash = password_hash
            self._end_sessions(session, username)

    def set_disabled(self, username: str, disabled: bool) -> None:
        with Session(self.engine) as session, session.begin():
            self._user(session, username).disabled = disabled
            self._end_sessions(session, username)

    def check_password(self, username: str, password: str) -> str | None:
        """The user's role when the password is right and the account enabled, else None (the same answer, after
        the same hashing time, for an unknown user)."""
        from werkzeug.security import check_password_hash

        with Session(self.engine) as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                check_password_hash("scrypt:32768:8:1$x$" + "0" * 128, password)  # same time as a real check
                return None
            return user.role if check_password_hash(user.password_hash, password) and not user.disabled else None

    def start_session(self, username: str, now: datetime | None = None) -> str:
        """A new login for `username`: the token for its cookie (the table keeps only its hash)."""
        token, now = secrets.token_urlsafe(32), now or utcnow()
        with Session(self.engine) as session, session.begin():
            session.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))  # expired ones go
            session.add(LoginSession(id=_session_id(token), username=username, created_at=now,
                                     expires_at=now + SESSION_LIFETIME))
        return token

    def session_user(self, token: str | None) -> tuple[str, str] | None:
        """(user name, role) of the login that `token` names, while it is not ended, not expired, and its user
        still exists and is enabled; else None."""
        if not token:
            return None
        with Session(self.engine) as session:
            row = session.execute(
                select(User.username, User.role).join(LoginSession, LoginSession.username == User.username)
                .where(LoginSession.id == _session_id(token), LoginSession.expires_at > utcnow(),
                       User.disabled.is_(False))).first()
        return (row.username, row.role) if row else None

    def end_session(self, token: str | None) -> None:
        if token:
            with Session(self.engine) as session, session.begin():
                session.execute(delete(LoginSession).where(LoginSession.id == _session_id(token)))

    @staticmethod
    def _user(session: Session, username: str) -> User:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise StoreError(f"no user {username!r}")
        return user

    @staticmethod
    def _end_sessions(session: Session, username: str) -> None:
        session.execute(delete(LoginSession).where(LoginSession.username == username))

    def purge_evidence(self, older_than_days: int, now: datetime | None = None) -> int:
        """Delete evidence photos older than N days; the records stay and say when their photo went."""
        cutoff = (now or utcnow()) - timedelta(days=older_than_days)
        purged = 0
        with Session(self.engine) as session, session.begin():
            old = session.scalars(select(Record).where(Record.created_at < cutoff,
                                                       Record.evidence_path.is_not(None),
                                                       Record.evidence_purged_at.is_(None)))
            for record in old:
                (self.evidence_dir / record.evidence_path).unlink(missing_ok=True)
                if record.frame_path:
                    (self.evidence_dir / record.frame_path).unlink(missing_ok=True)
                record.evidence_purged_at = now or utcnow()
                purged += 1
        return purged
