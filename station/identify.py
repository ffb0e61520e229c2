"""Who is checking in: the code on the badge (a QR code, or an ArUco marker where a site prefers it) and the roster.

The QR code carries the technician number; an ArUco marker carries a marker id that the roster maps to a number.
The roster is a CSV exported from the depot's staff list: `number,name` (a header row; extra columns are kept).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class RosterError(ValueError):
    pass


@dataclass(frozen=True)
class Technician:
    number: str
    name: str
    marker: int | None = None  # ArUco marker id printed on the badge, if the site uses them


class Roster:
    def __init__(self, technicians: list[Technician]) -> None:
        self.by_number = {t.number: t for t in technicians}
        self.by_marker = {t.marker: t for t in technicians if t.marker is not None}

    @classmethod
    def from_csv(cls, path: str | Path) -> "Roster":
        """Read `number,name[,marker]`; a duplicate number or a malformed row is an error naming the line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
        except OSError as exc:
            raise RosterError(f"{path}: cannot read the roster ({exc.strerror or exc})") from exc
        rows = list(csv.DictReader(text.splitlines()))
        if rows and not {"number", "name"} <= set(rows[0]):
            raise RosterError(f"{path}: the header must name the columns number,name (got {list(rows[0])})")
        people = []
        for line, row in enumerate(rows, start=2):
            number, name = (row.get("number") or "").strip(), (row.get("name") or "").strip()
            if not number or not name:
                raise RosterError(f"{path}:{line}: number and name are both needed")
            marker = (row.get("marker") or "").strip()
            if marker and not marker.isdigit():
                raise RosterError(f"{path}:{line}: marker must be a whole number, got {marker!r}")
            people.append(Technician(number, name, int(marker) if marker else None))
        numbers = [t.number for t in people]
        if len(set(numbers)) != len(numbers):
            dup = next(n for n in numbers if numbers.count(n) > 1)
            raise RosterError(f"{path}: technician number {dup} appears twice")
        return cls(people)

    def find(self, number: str) -> Technician | None:
        return self.by_number.get(number.strip())


class BadgeReader:
    """Finds the badge's code in a frame: QR (the technician number) or an ArUco marker (looked up in the roster)."""

    def __init__(self, kind: str = "qr", roster: Roster | None = None) -> None:
        if kind not in ("qr", "aruco"):
            raise ValueError(f"badge code kind must be qr or aruco, got {kind!r}")
        self.kind, self.roster = kind, roster
        if kind == "qr":
            self._qr = cv2.QRCodeDetector()
        else:
            dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_1000)
            self._aruco = cv2.aruco.ArucoDetector(dictionary, cv2.aruco.DetectorParameters())

    def read(self, image_bgr: np.ndarray) -> str | None:
        """The technician number shown to the camera, or None."""
        if self.kind == "qr":
            text, points, _ = self._qr.detectAndDecode(image_bgr)
            return text.strip() or None if points is not None else None
        _, ids, _ = self._aruco.detectMarkers(image_bgr)
        if ids is None or self.roster is None:
            return None
        for marker in ids.ravel():
            tech = self.roster.by_marker.get(int(marker))
            if tech is not None:
                return tech.number
        return None
