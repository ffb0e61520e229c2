"""The station's web app: the supervisors' review of the appearance log, its JSON API, and the kiosk's state.

Everything is served by the app itself (no CDN). Supervisor pages need a login (hashed passwords, roles), every
form carries a CSRF token (Flask-WTF), the session cookie is HttpOnly and SameSite, and failed logins are limited
per address. The kiosk (no login) reaches only `/` and `/kiosk/state`.
"""
from __future__ import annotations

import csv
import io
import secrets
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta, timezone
from functools import wraps
from pathlib import Path

from flask import (Flask, Response, abort, flash, g, jsonify, redirect, render_template, request, send_file, session,
                   url_for)
from flask_wtf.csrf import CSRFError, CSRFProtect

from station.store import RecordFilter, Store, StoreError

LOGIN_LIMIT, LOGIN_WINDOW_S = 5, 300  # failed logins per address within the window before refusing more
CHECK_NAMES = {"uniform": ("工作服", "Uniform"), "badge": ("工号牌", "Work badge"), "footwear": ("鞋履", "Footwear"),
               "cuffs": ("袖口裤脚", "Cuffs"), "accessories": ("首饰", "Jewellery")}


def create_app(store: Store, live=None, secret_key: str | None = None, testing: bool = False,
                config_path: Path | None = None, roster=None) -> Flask:
    """`live`: the running `station.live.LiveStation` (state, preview, identify); None when no camera runs.
    `config_path`: the policy file that the calibration pages edit (admin only)."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret_key or secrets.token_hex(32), SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
                      MAX_CONTENT_LENGTH=2 * 1024 * 1024, TESTING=testing)
    CSRFProtect(app)
    failures: dict[str, deque] = defaultdict(deque)

    def login_required(role: str = "supervisor"):
        def wrap(view):
            @wraps(view)
            def inner(*args, **kwargs):
                if "user" not in session:
                    if request.path.startswith("/api/"):
                        return jsonify(error="login required"), 401
                    return redirect(url_for("login", next=request.path))
                if role == "admin" and session.get("role") != "admin":
                    abort(403)
                g.user = session["user"]
                return view(*args, **kwargs)
            return inner
        return wrap

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

    # ------------------------------------------------------------ kiosk (no login)
    @app.get("/")
    def kiosk():
        people = sorted(roster.by_number.values(), key=lambda t: t.number) if roster is not None else []
        return render_template("kiosk.html", people=people)

    @app.get("/kiosk/state")
    def kiosk_state_json():
        if live is None:
            return jsonify({"phase": "offline", "message_zh": "摄像头未运行", "message_en": "Camera not running"})
        return jsonify(live.state())

    @app.get("/kiosk/preview.jpg")
    def kiosk_preview():
        jpg = live.preview_jpeg() if live is not None else None
        if jpg is None:
            abort(404)
        return Response(jpg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.post("/kiosk/identify")
    def kiosk_identify():
        number = request.form.get("number", "").strip()
        if not number or len(number) > 32:
            return jsonify(ok=False, error="a technician number is 1 to 32 characters"), 400
        if live is None:
            return jsonify(ok=False, error="camera not running"), 409
        accepted = live.identify(number, "typed")
        return jsonify(ok=accepted), (200 if accepted else 409)

    # ------------------------------------------------------------ login
    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            addr = request.remote_addr or "?"
            recent = failures[addr]
            while recent and recent[0] < time.monotonic() - LOGIN_WINDOW_S:
                recent.popleft()
            if len(recent) >= LOGIN_LIMIT:
                return render_template("login.html", error_zh="尝试次数过多，请稍后再试",
                                       error_en="Too many attempts; try again in a few minutes"), 429
            role = store.check_password(request.form.get("username", ""), request.form.get("password", ""))
            if role is None:
                recent.append(time.monotonic())
                return render_template("login.html", error_zh="用户名或密码错误",
                                       error_en="Wrong user name or password"), 401
            session.clear()
            session.update(user=request.form["username"], role=role)
            session.permanent = True
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("review"))
        return render_template("login.html")

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    # ------------------------------------------------------------ review
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

    @app.get("/review")
    @login_required()
    def review():
        f = parse_filter(request.args)
        return render_template("review.html", records=store.find(f), args=request.args, checks=CHECK_NAMES)

    @app.route("/review/<int:record_id>", methods=["GET", "POST"])
    @login_required()
    def record(record_id: int):
        try:
            if request.method == "POST":
                store.override(record_id, g.user, request.form.get("verdict", ""), request.form.get("reason", ""))
                flash("已记录人工复核 / Override recorded")
                return redirect(url_for("record", record_id=record_id))
            return render_template("record.html", r=store.get(record_id), checks=CHECK_NAMES)
        except StoreError as exc:
            if "no record" in str(exc):
                abort(404)
            return render_template("record.html", r=store.get(record_id), checks=CHECK_NAMES, error=str(exc)), 400

    @app.get("/evidence/<int:record_id>.jpg")
    @login_required()
    def evidence(record_id: int):
        try:
            r = store.get(record_id)
        except StoreError:
            abort(404)
        if not r.evidence_path or r.evidence_purged_at is not None:
            abort(404)
        path = (store.evidence_dir / r.evidence_path).resolve()
        if store.evidence_dir.resolve() not in path.parents or not path.is_file():
            abort(404)
        return send_file(path, mimetype="image/jpeg")

    @app.get("/review/summary")
    @login_required()
    def summary():
        days = request.args.get("days", "14")
        if not days.isdigit() or not 1 <= int(days) <= 366:
            abort(400, "days must be a whole number from 1 to 366")
        s = daily_summary(store, int(days))
        return render_template("summary.html", s=s, checks=CHECK_NAMES, chart=pass_rate_chart(s))

    # ------------------------------------------------------------ calibration (admin)
    references = (config_path.parent if config_path else Path.cwd()) / "calibration" / "references"

    @app.get("/calibrate")
    @login_required("admin")
    def calibrate():
        policy = config_path.read_text(encoding="utf-8") if config_path and config_path.exists() else ""
        refs = sorted(p.name for p in references.glob("*.jpg")) if references.is_dir() else []
        last = live.last_result() if live is not None else None
        framing = live.state() if live is not None else None
        badge = last.results.get("badge").to_dict() if last is not None and "badge" in last.results else None
        return render_template("calibrate.html", policy=policy, refs=refs, framing=framing, badge=badge,
                               config_path=config_path)

    @app.post("/calibrate/reference")
    @login_required("admin")
    def add_reference():
        """A uniform reference photo: the live frame, or an uploaded photo (type, size and decoding checked)."""
        import cv2
        import numpy as np

        upload = request.files.get("photo")
        if upload is not None and upload.filename:
            data = upload.read()
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
            if image is None or min(image.shape[:2]) < 64:
                flash("上传失败：不是可读的照片 / Upload refused: not a readable photo (JPEG or PNG, at least 64 px)")
                return redirect(url_for("calibrate")), 303
        else:
            image = live.capture() if live is not None else None
            if image is None:
                flash("摄像头没有画面 / No camera frame to capture")
                return redirect(url_for("calibrate")), 303
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        from station.store import write_atomically

        write_atomically(references / f"ref-{datetime.now(timezone.utc):%Y%m%d-%H%M%S-%f}.jpg", jpg.tobytes())
        flash("已保存参考照片 / Reference photo saved")
        return redirect(url_for("calibrate")), 303

    @app.post("/calibrate/enrol")
    @login_required("admin")
    def enrol():
        from calibration.enrol import EnrolmentError, enrol_uniform
        from station.config import load_config
        from station.pipeline import Pipeline

        photos = sorted(references.glob("*.jpg")) if references.is_dir() else []
        config = load_config(config_path if config_path and config_path.exists() else None)
        try:
            pipeline = live.pipeline if live is not None else Pipeline(config)
            prototypes, notes = enrol_uniform(photos, pipeline)
        except EnrolmentError as exc:
            flash(f"登记失败 / Enrolment failed: {exc}")
            return redirect(url_for("calibrate")), 303
        prototypes.save(config.resolve(config.uniform.prototypes))
        flash(f"已登记 {len(prototypes.prototypes)} 张参考照片 / Enrolled {len(prototypes.prototypes)} reference "
              f"photo(s)" + "".join(f"; {n}" for n in notes))
        return redirect(url_for("calibrate")), 303

    @app.post("/calibrate/policy")
    @login_required("admin")
    def save_policy():
        """The policy as TOML, validated like the command line does (an unknown key is named) before it is saved."""
        from station.config import ConfigError, load_config

        if config_path is None:
            abort(409, "the station runs without a config file (--config): nothing to edit")
        text = request.form.get("policy", "")
        candidate = config_path.with_name(f".{config_path.name}.candidate")
        candidate.write_text(text, encoding="utf-8")
        try:
            config = load_config(candidate)
        except (ConfigError, ValueError, OSError) as exc:
            candidate.unlink(missing_ok=True)
            return render_template("calibrate.html", policy=text, refs=[], framing=None, badge=None,
                                   config_path=config_path, error=str(exc)), 400
        from station.store import write_atomically

        write_atomically(config_path, text.encode("utf-8"))
        candidate.unlink(missing_ok=True)
        if live is not None:
            live.apply_policy(config)
        flash("策略已保存并生效（摄像头、检测模型和日志设置需重启）/ Policy saved and applied (camera, detector and "
              "log settings need a restart)")
        return redirect(url_for("calibrate")), 303

    @app.get("/review/export.csv")
    @login_required()
    def export_csv():
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["id", "time_utc", "technician", "verdict", "final_verdict", "failed_checks", "override_by",
                    "override_reason"])
        for r in store.find(parse_filter(request.args), limit=100_000):
            last = r.overrides[-1] if r.overrides else None
            w.writerow([r.id, r.created_at.strftime("%Y-%m-%d %H:%M:%S"), r.technician or "", r.verdict,
                        r.final_verdict, " ".join(x.check for x in r.results if x.status == "fail"),
                        last.user if last else "", last.reason if last else ""])
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",  # BOM: Excel opens UTF-8 Chinese right
                        headers={"Content-Disposition": "attachment; filename=appearance-log.csv"})

    # ------------------------------------------------------------ JSON API (same login)
    def record_json(r) -> dict:
        return {"id": r.id, "time_utc": r.created_at.isoformat(), "technician": r.technician, "verdict": r.verdict,
                "final_verdict": r.final_verdict, "frames": r.frames, "evidence": bool(r.evidence_path)
                and r.evidence_purged_at is None,
                "checks": {x.check: {"status": x.status, "score": x.score, "reason_zh": x.reason_zh,
                                     "reason_en": x.reason_en, "measurements": x.measurements} for x in r.results},
                "overrides": [{"user": o.user, "verdict": o.verdict, "reason": o.reason,
                               "time_utc": o.created_at.isoformat()} for o in r.overrides]}

    @app.get("/api/records")
    @login_required()
    def api_records():
        return jsonify([record_json(r) for r in store.find(parse_filter(request.args))])

    @app.get("/api/records/<int:record_id>")
    @login_required()
    def api_record(record_id: int):
        try:
            return jsonify(record_json(store.get(record_id)))
        except StoreError:
            return jsonify(error=f"no record {record_id}"), 404

    @app.errorhandler(400)
    def bad_request(exc):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description), 400
        return render_template("error.html", code=400, message_zh="请求有误", message_en=exc.description), 400

    return app


def daily_summary(store: Store, days: int, today: datetime | None = None) -> dict:
    """Per day: records and pass rate overall and per rule; over the range: the rules failed most."""
    today = (today or datetime.now(timezone.utc)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    records = store.find(RecordFilter(date_from=start, date_to=today + timedelta(days=1)), limit=1_000_000)
    dates = [(start + timedelta(days=i)).date() for i in range(days)]
    per_day = {d: {"records": 0, "passed": 0, "rules": defaultdict(lambda: [0, 0])} for d in dates}
    failed = defaultdict(int)
    for r in records:
        day = per_day.get(r.created_at.date())
        if day is None:
            continue
        day["records"] += 1
        day["passed"] += r.final_verdict == "pass"
        for x in r.results:
            if x.status in ("pass", "fail"):
                day["rules"][x.check][0] += x.status == "pass"
                day["rules"][x.check][1] += 1
                failed[x.check] += x.status == "fail"
    rows = [{"date": d.isoformat(), "records": v["records"],
             "pass_rate": v["passed"] / v["records"] if v["records"] else None,
             "rules": {c: (p / n if n else None) for c, (p, n) in v["rules"].items()}} for d, v in per_day.items()]
    return {"days": rows, "top_failed": sorted(((c, n) for c, n in failed.items() if n), key=lambda t: -t[1])}


def pass_rate_chart(s: dict, width: int = 720, height: int = 220) -> str:
    """An inline SVG: each rule's daily pass rate as a line (no chart library: the app must work offline)."""
    colours = {"uniform": "#1f77b4", "badge": "#d62728", "footwear": "#2ca02c", "cuffs": "#9467bd",
               "accessories": "#ff7f0e"}
    n = len(s["days"])
    x = (lambda i: 40 + i * (width - 60) / max(n - 1, 1))
    y = (lambda rate: 10 + (1 - rate) * (height - 40))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="pass rate per rule over days">',
             f'<line x1="40" y1="{y(0)}" x2="{width - 20}" y2="{y(0)}" stroke="#999"/>',
             f'<text x="4" y="{y(1) + 4}" font-size="11">100%</text><text x="10" y="{y(0) + 4}" font-size="11">0%</text>']
    for check, colour in colours.items():
        pts = [(x(i), y(d["rules"][check])) for i, d in enumerate(s["days"]) if d["rules"].get(check) is not None]
        if pts:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                         + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + f'"><title>{check}</title></polyline>')
    for i, d in enumerate(s["days"]):
        if n <= 16 or i % max(n // 8, 1) == 0:
            parts.append(f'<text x="{x(i) - 14:.1f}" y="{height - 8}" font-size="10">{d["date"][5:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def static_dir() -> Path:
    return Path(__file__).resolve().parent / "static"
