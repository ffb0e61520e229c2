"""The log as JSON, behind the same login as the review pages."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from station.store import StoreError
from web.common import PAGE_SIZE, login_required, parse_filter, parse_page, record_json, station

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/records")
@login_required()
def records():
    """A page of the filtered log (`?page=N`, 100 records each, newest first)."""
    f, page = parse_filter(request.args), parse_page(request.args)
    return jsonify([record_json(r) for r in station().store.find(f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)])


@bp.get("/records/<int:record_id>")
@login_required()
def record(record_id: int):
    try:
        return jsonify(record_json(station().store.get(record_id)))
    except StoreError:
        return jsonify(error=f"no record {record_id}"), 404
