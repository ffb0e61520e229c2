"""What the blueprints share: the station they serve, the login check, error pages, the record filter and JSON."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import wraps
from pathlib import Path

from flask import Flask, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from station.store import RecordFilter, Store

CHECK_NAMES = {"uniform": ("工作服", "Uniform"), "badge": ("工号牌", "Work badge"), "footwear": ("鞋履", "Footwear"),
               "cuffs": ("袖口裤脚", "Cuffs"), "accessories": ("首饰", "Jewellery")}


@dataclass
class Station:
    """The parts of the running station that the web app reads and changes."""

    store: Store
    live: object | None = None  # station.live.LiveStation; None when no camera runs
    config_path: Path | None = None  # the policy file the calibration pages edit
    roster: object | None = None  # station.identify.Roster
    failures: dict = field(default_factory=dict)  # failed logins per address
    enroller: object | None = None  # calibration.enrol.Enroller: enrolment's own models
    # one change at a time to the policy or the enrolment, so the file on disk and the running rules agree
    calibration_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def references(self) -> Path:
        """Uniform reference photos, beside the policy file."""
        return (self.config_path.parent if self.config_path else Path.cwd()) / "calibration" / "references"


def station() -> Station:
    return current_app.extensions["station"]


def login_required(role: str = "supervisor"):
    def wrap(view):
        @wraps(view)
        def inner(*args, **kwargs):
            if "user" not in session:
                if request.path.startswith("/api/"):
                    return jsonify(error="login required"), 401
                return redirect(url_for("auth.login", next=request.path))
            if role == "admin" and session.get("role") != "admin":
                abort(403)
            g.user = session["user"]
            return view(*args, **kwargs)
        return inner
    return wrap


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_template("error.html", code=400, message_zh="表单已过期，请刷新后重试",
                               message_en=f"The form expired or was not sent by this site ({exc.description})"), 400

    @app.errorhandler(403)
    def forbidden(_):
        return render_template("error.html", code=403, message_zh="没有权限", message_en="Not allowed"), 403

    @app.errorhandler(404)
    def not_found(_):
        return render_template("error.html", code=404, message_zh="没有找到", message_en="Not found"), 404

    @app.errorhandler(400)
    def bad_request(exc):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description), 400
        return render_template("error.html", code=400, message_zh="请求有误", message_en=exc.description), 400


def parse_filter(args) -> RecordFilter:
    def day(name):
        value = args.get(name, "").strip()
        if not value:
            return None
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            abort(400, f"{name} must be a date YYYY-MM-DD, got {value!r}")
    date_to = day("to")
    verdict = args.get("verdict") or None
    if verdict not in (None, "pass", "fail", "unknown"):
        abort(400, f"verdict must be pass, fail or unknown, got {verdict!r}")
    check = args.get("check") or None
    if check is not None and check not in CHECK_NAMES:
        abort(400, f"unknown check {check!r}")
    return RecordFilter(day("from"), date_to + timedelta(days=1) if date_to else None,
                        args.get("technician", "").strip() or None, verdict, check)


def record_json(r) -> dict:
    return {"id": r.id, "time_utc": r.created_at.isoformat(), "technician": r.technician, "verdict": r.verdict,
            "final_verdict": r.final_verdict, "frames": r.frames, "evidence": bool(r.evidence_path)
            and r.evidence_purged_at is None, "evidence_error": r.evidence_error,
            "checks": {x.check: {"status": x.status, "score": x.score, "reason_zh": x.reason_zh,
                                 "reason_en": x.reason_en, "measurements": x.measurements} for x in r.results},
            "overrides": [{"user": o.user, "verdict": o.verdict, "reason": o.reason,
                           "time_utc": o.created_at.isoformat()} for o in r.overrides]}
