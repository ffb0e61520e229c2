"""The kiosk (no login): the live session's state and preview, and a typed technician number."""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import generate_csrf

from web.common import PRINTABLE, station

bp = Blueprint("kiosk", __name__)


@bp.get("/")
def index():
    roster = station().roster
    people = sorted(roster.by_number.values(), key=lambda t: t.number) if roster is not None else []
    return render_template("kiosk.html", people=people)


@bp.get("/kiosk/state")
def state():
    live = station().live
    if live is None:
        return jsonify({"phase": "offline", "message_zh": "摄像头未运行", "message_en": "Camera not running"})
    return jsonify(live.state())


@bp.get("/kiosk/preview.jpg")
def preview():
    live = station().live
    jpg = live.preview_jpeg() if live is not None else None
    if jpg is None:
        abort(404)
    return Response(jpg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/kiosk/token")
def token():
    """A fresh CSRF token for the kiosk page, which stays open for days: the one it was served with expires."""
    return jsonify(csrf_token=generate_csrf()), 200, {"Cache-Control": "no-store"}


@bp.post("/kiosk/identify")
def identify():
    number = request.form.get("number", "").strip()
    if not number or len(number) > 32 or not PRINTABLE.fullmatch(number):
        return jsonify(ok=False, error="a technician number is 1 to 32 printable characters"), 400
    live = station().live
    if live is None:
        return jsonify(ok=False, error="camera not running"), 409
    accepted = live.identify(number, "typed")
    return jsonify(ok=accepted), (200 if accepted else 409)
