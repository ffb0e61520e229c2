"""What the blueprints share: the station they serve, the login check, error pages, the record filter and JSON."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import wraps
from pathlib import Path

from flask import Flask, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from checks.registry import REGISTRY
from station.store import RecordFilter, Store

# Pages come from this site only: no framing (clickjacking), no inline script, no guessing of content types
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
ERRORS_ZH = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "没有找到", 405: "不支持这种请求", 409: "现在无法处理",
             413: "上传的内容太大", 429: "请求太多，请稍后再试"}
# where to go after login: a path on this site, never //host, /\host or a path with white space or control characters
LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f\\]*")
PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]+")
PAGE_SIZE = 100  # records on a review page or in an API answer
# every rule's name from its own module (checks/registry.py): a rule added later is listed without a change here
CHECK_NAMES = {rule_id: (rule.title_zh, rule.title_en) for rule_id, rule in REGISTRY.items()}
# a check-in's verdict in words (a rule's status: web.learn.STATUS_WORDS, 合格 / 不合格)
VERDICT_WORDS = {"pass": ("通过", "pass"), "fail": ("未通过", "fail"), "unknown": ("无法判断", "not judged")}


class PacedSlot:
    """A lock whose holders, one after another, hold it at most `share` of the time: after a hold of t seconds the
    next holder waits until t·(1-share)/share has passed. One page made at a time still holds the GIL the whole
    time it runs, and a thread that leaves the GIL for native code (the judging worker, at each model's call) waits
    up to the interpreter's switch interval to take it back, at every call: with pages made back to back, judging
    fell to half its rate (CI: 11.3 to 5.4 frames/s). The pause gives judging the GIL to itself part of the time;
    a supervisor who clicks now and then never waits for it."""

    def __init__(self, share: float = 0.5):
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self.share = share
        self._lock = threading.Lock()
        self._free_at = 0.0  # time.monotonic() when the next holder may start
        self._since = 0.0

    def __enter__(self):
        self._lock.acquire()
        pause = self._free_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._since = time.monotonic()
        return self

    def __exit__(self, *exc):
        now = time.monotonic()
        self._free_at = now + (now - self._since) * (1 - self.share) / self.share
        self._lock.release()


@dataclass
class Station:
    """The parts of the running station that the web app reads and changes."""

    store: Store
    live: object | None = None  # station.live.LiveStation; None when no camera runs
    config_path: Path | None = None  # the policy file the calibration pages edit
    roster: object | None = None  # station.identify.Roster
    tz: object = timezone.utc  # the zone the review pages show times and days in ([log] timezone)
    throttle: object | None = None  # web.auth.LoginThrottle
    enroller: object | None = None  # calibration.enrol.Enroller: enrolment's own models
    # one change at a time to the policy or the enrolment, so the file on disk and the running rules agree
    calibration_lock: threading.Lock = field(default_factory=threading.Lock)
    # Supervisors' pages are made one at a time, and a crowd of them at most half the time: the web threads share
    # the GIL with the judging worker (the kiosk's requests, which are cheap, never wait for this)
    supervisor_slot: PacedSlot = field(default_factory=lambda: PacedSlot(share=0.5))
    # the kiosk's preview streams open at once: each holds one of the server's threads for as long as it runs
    streams: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(3))

    def config(self):
        """The running station's config, else the policy file's (the defaults where there is none); ValueError for
        a policy that does not load."""
        from station.config import load_config

        if self.live is not None:
            return self.live.config
        return load_config(self.config_path if self.config_path and self.config_path.exists() else None)

    def name(self, number: str | None) -> str:
        """The roster's name for a technician number ("" when there is no roster or no such number)."""
        tech = self.roster.find(number) if self.roster is not None and number else None
        return tech.name if tech is not None else ""

    def local(self, when: datetime) -> datetime:
        """A stored (UTC) time in the station's zone."""
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(self.tz)

    @property
    def references(self) -> Path:
        """Uniform reference photos, beside the policy file."""
        return (self.config_path.parent if self.config_path else Path.cwd()) / "calibration" / "references"


def station() -> Station:
    return current_app.extensions["station"]


def load_user() -> None:
    """Before every request: who is logged in, from the server's record of the login that the cookie names (a
    logged-out, expired or changed user's cookie names none)."""
    g.user, g.role = station().store.session_user(session.get("sid")) or (None, None)


def login_required(role: str = "supervisor"):
    def wrap(view):
        @wraps(view)
        def inner(*args, **kwargs):
            if g.user is None:
                session.pop("sid", None)
                if request.path.startswith("/api/"):
                    return jsonify(error="login required"), 401
                return redirect(url_for("auth.login", next=request.path))
            if role == "admin" and g.role != "admin":
                abort(403)
            with station().supervisor_slot:
                return view(*args, **kwargs)
        return inner
    return wrap


def register_error_handlers(app: Flask) -> None:
    """Every error, an unexpected one included, as a page in zh-CN and English, or as JSON where a script asked
    (the API, the kiosk's requests); and the security headers on every response."""
    @app.errorhandler(HTTPException)
    def http_error(exc):
        code = exc.code or 500
        if isinstance(exc, CSRFError):
            zh, en = "表单已过期，请刷新后重试", f"The form expired or was not sent by this site ({exc.description})"
        elif code >= 500:  # Flask has logged the traceback; the page says no more than that
            zh, en = "服务器出错", "Internal error: the details are in the station's log"
        else:
            zh, en = ERRORS_ZH.get(code, "请求有误"), exc.description
        if request.path.startswith(("/api/", "/kiosk/")):
            return jsonify(ok=False, error=en), code
        return render_template("error.html", code=code, message_zh=zh, message_en=en), code

    app.before_request(load_user)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def local_path(target: str, default: str) -> str:
    return target if LOCAL_PATH.fullmatch(target) else default


def spreadsheet_cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: one starting with = + - @ (or a tab or CR) would be a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def parse_filter(args) -> RecordFilter:
    tz = station().tz

    def day(name):
        """A day in the station's zone: its local midnight (as an aware time; the store compares in UTC)."""
        value = args.get(name, "").strip()
        if not value:
            return None
        try:
            date = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=tz)
        except ValueError:
            abort(400, f"{name} must be a date YYYY-MM-DD, got {value!r}")
        if not 1900 <= date.year <= 9998:  # 9999-12-31 has no next day to end the range at
            abort(400, f"{name} must be a date from 1900-01-01 to 9998-12-31, got {value!r}")
        return date
    technician = args.get("technician", "").strip()
    if technician and (len(technician) > 64 or not PRINTABLE.fullmatch(technician)):
        abort(400, "technician must be at most 64 printable characters")
    date_to = day("to")
    name = args.get("station", "").strip() or None  # "-": the records of a station without a name
    if name is not None and (len(name) > 64 or not PRINTABLE.fullmatch(name)):
        abort(400, "station must be at most 64 printable characters")
    name = "" if name == "-" else name
    verdict = args.get("verdict") or None
    if verdict not in (None, "pass", "fail", "unknown"):
        abort(400, f"verdict must be pass, fail or unknown, got {verdict!r}")
    check = args.get("check") or None
    if check is not None and check not in CHECK_NAMES:
        abort(400, f"unknown check {check!r}")
    roster = station().roster
    numbers = tuple(t.number for t in roster.by_number.values() if technician.lower() in t.name.lower()) \
        if roster is not None and technician else ()
    end = (date_to.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz) if date_to else None
    return RecordFilter(day("from"), end, technician or None, verdict, check, name, numbers)


def parse_page(args) -> int:
    page = args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        abort(400, f"page must be a whole number from 1 to 100000, got {page!r}")
    return int(page)


def record_json(r) -> dict:
    s = station()
    return {"id": r.id, "time_utc": r.created_at.isoformat(), "time_local": s.local(r.created_at).isoformat(),
            "station": r.station, "technician": r.technician, "name": s.name(r.technician), "verdict": r.verdict,
            "note": r.note, "final_verdict": r.final_verdict, "frames": r.frames, "evidence": bool(r.evidence_path)
            and r.evidence_purged_at is None, "evidence_error": r.evidence_error,
            "checks": {x.check: {"status": x.status, "score": x.score, "reason_zh": x.reason_zh,
                                 "reason_en": x.reason_en, "measurements": x.measurements} for x in r.results},
            "overrides": [{"user": o.user, "verdict": o.verdict, "reason": o.reason,
                           "time_utc": o.created_at.isoformat()} for o in r.overrides]}
