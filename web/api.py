"""The log as JSON, behind the same login as the review pages."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from station.store import StoreError
from web.common import login_required, parse_filter, record_json, station

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/records")
@login_required()
def records():
    return jsonify([record_json(r) for r in station().store.find(parse_filter(request.args))])


@bp.get("/records/<int:record_id>")
@login_required()
def record(record_id: int):
    try:
        return jsonify(record_json(station().store.get(record_id)))
    except StoreError:
        return jsonify(error=f"no record {record_id}"), 404
