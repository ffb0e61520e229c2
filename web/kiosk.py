"""The kiosk (no login): the live session's state as rule cards, the camera as an MJPEG stream, and a typed
technician number.

The state says what the technician must read from two metres: the guidance line until the verdict, then one card per
rule (failed first, each with what to do), one verdict word and a countdown to the next person. It carries no score
and no probability. The preview is the camera itself (frames straight from the capture thread); the regions and
boxes of the last judged frame come as JSON and the page draws them.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from checks.registry import REGISTRY
from web.common import PRINTABLE, station

bp = Blueprint("kiosk", __name__)
ICONS_SVG = Path(__file__).resolve().parent / "static" / "icons.svg"
STREAM_S = 600.0  # a stream ends after this and the page opens a new one (a kiosk stays open for days)
ORDER = {"fail": 0, "unknown": 1, "pass": 2, "off": 3}
NOT_CHECKED = ("本站未启用此项检查", "Not checked at this station")
SEEN_OK = ("合格", "OK")
BADGE_HINT = ("请把工号牌举到摄像头前，让它读取二维码", "Hold your badge up to the camera so it can read the code")


def rule_cards(verdict: dict | None, config) -> list[dict]:
    """One card per rule the station knows, in the order a technician should read them: failed, then not judged,
    then passed, then the rules this station does not check. Each says what to do: the rule's fix when it failed,
    the rule's own reason when it could not judge (it says what to do: "please step closer")."""
    if verdict is None:
        return []
    cards = []
    for rule_id, rule in REGISTRY.items():
        enabled = config is None or rule.checked(config)
        r = verdict["checks"].get(rule_id)
        if not enabled and r is None:
            status, (zh, en) = "off", NOT_CHECKED
        elif r is None:
            status, (zh, en) = "unknown", ("未能检查", "Not judged")
        elif r["status"] == "fail":
            fix = rule.fix(config)
            status, (zh, en) = "fail", fix if fix[0] else (r["reason_zh"], r["reason_en"])
        elif r["status"] == "pass":
            status, (zh, en) = "pass", SEEN_OK
        else:
            status, (zh, en) = "unknown", (r["reason_zh"], r["reason_en"])
        cards.append({"id": rule_id, "title_zh": rule.title_zh, "title_en": rule.title_en, "status": status,
                      "line_zh": zh, "line_en": en})
    for rule_id, r in verdict["checks"].items():  # a result of a rule this version does not know: still shown
        if rule_id not in REGISTRY:
            cards.append({"id": rule_id, "title_zh": rule_id, "title_en": rule_id, "status": r["status"],
                          "line_zh": r["reason_zh"], "line_en": r["reason_en"]})
    return sorted(cards, key=lambda c: ORDER.get(c["status"], 1))


@bp.get("/")
def index():
    roster = station().roster
    people = sorted(roster.by_number.values(), key=lambda t: t.number) if roster is not None else []
    return render_template("kiosk.html", people=people, icons=Markup(ICONS_SVG.read_text(encoding="utf-8")))


@bp.get("/kiosk/state")
def state():
    live = station().live
    if live is None:
        return jsonify({"phase": "offline", "message_zh": "摄像头未运行", "message_en": "Camera not running",
                        "camera_ok": False, "camera_zh": "摄像头未运行", "camera_en": "Camera not running"})
    s = live.state()
    config = getattr(live, "config", None)
    s["technician_name"] = station().name(s.get("technician"))
    reader = getattr(live, "badge_reader", None)
    s["badge_hint_zh"], s["badge_hint_en"] = BADGE_HINT if reader is not None and not s.get("technician") \
        and s.get("phase") in ("idle", "framing", "collecting") else ("", "")
    s["roster"] = station().roster is not None
    if s.get("verdict"):
        s["verdict"]["cards"] = rule_cards(s["verdict"], config)
        s["verdict"]["technician_name"] = station().name(s["verdict"].get("technician"))
        s["verdict"].pop("checks", None)  # the cards say it, in order, with what to do
    return jsonify(s), 200, {"Cache-Control": "no-store"}


@bp.get("/kiosk/preview.jpg")
def preview():
    live = station().live
    jpg = live.preview_jpeg() if live is not None else None
    if jpg is None:
        abort(404)
    return Response(jpg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/kiosk/stream.mjpg")
def stream():
    """The camera as multipart MJPEG: every frame the capture thread gets, encoded once however many watch."""
    s = station()
    live = s.live
    if live is None or not hasattr(live, "preview_frames"):
        abort(404)
    if not s.streams.acquire(blocking=False):
        abort(503, "too many preview streams open")

    def parts():
        try:
            for jpg in live.preview_frames(STREAM_S):
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpg)).encode()
                       + b"\r\n\r\n" + jpg + b"\r\n")
        finally:
            s.streams.release()

    return Response(parts(), mimetype="multipart/x-mixed-replace; boundary=frame",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/kiosk/token")
def token():
    """A fresh CSRF token for the kiosk page, which stays open for days: the one it was served with expires."""
    return jsonify(csrf_token=generate_csrf()), 200, {"Cache-Control": "no-store"}


@bp.post("/kiosk/identify")
def identify():
    number = request.form.get("number", "").strip()
    if not number or len(number) > 32 or not PRINTABLE.fullmatch(number):
        return jsonify(ok=False, error="a technician number is 1 to 32 printable characters"), 400
    s = station()
    if s.roster is not None and s.roster.find(number) is None:
        return jsonify(ok=False, error=f"{number} is not on the roster"), 422
    if s.live is None:
        return jsonify(ok=False, error="camera not running"), 409
    accepted = s.live.identify(number, "typed")
    return jsonify(ok=accepted, number=number, name=s.name(number)), (200 if accepted else 409)
