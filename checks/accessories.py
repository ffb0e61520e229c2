"""At most N pieces of jewellery (不可佩戴超过3件首饰).

The attire detector looks at the head and neck (necklace), the torso (necklace) and at each hand (watch, bracelet,
ring); each box it finds is a piece, and a pair of earrings counts as one where the policy says so. On a small
person (a cheap webcam, someone far back) the detector sees noise as jewellery more often, so there its boxes count
from a higher confidence, chosen on validation at webcam resolution like the normal one. The jewellery
classifier looks at each wrist and the neck: a part it calls adorned, where the detector found no such piece, is one
more piece (the detector misses most of them). More pieces than
allowed fail whatever else is hidden; a PASS needs the head and both hands to have been looked at.
"""
from __future__ import annotations

from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status
from models.perception import Box, Perception
from models.regions import body_scale

JEWELLERY = ("bracelet", "watch", "earring", "necklace", "ring")
NEEDED = {"head": ("头颈部", "head and neck"), "hand_left": ("左手", "left hand"), "hand_right": ("右手", "right hand")}


class AccessoriesPolicy(CheckSection):
    """[accessories] in the station config."""

    max_pieces: int = Field(3, ge=0, le=20, description="the most pieces of jewellery allowed")
    pair_counts_as_one: bool = Field(True, description="two earrings count as one piece")
    min_score: float | None = Field(None, ge=0.0, le=1.0, description="detector confidence that counts as a piece "
                                                                      "at any distance; empty: the operating points "
                                                                      "in the detector's manifest (a higher one for "
                                                                      "a person far back)")


class AccessoriesCheck(Check):
    id = "accessories"
    title_zh, title_en = "首饰", "Jewellery"
    fix_zh, fix_en = "请摘下多余的首饰（最多三件）", "Take off extra jewellery (three pieces at most)"
    Policy = AccessoriesPolicy
    order = 50
    models = ("attire", "jewellery")

    def run(self, p: Perception) -> CheckResult:
        cfg = self.config.accessories
        if not p.examined:
            return self.unknown("看不到人", "No person in view")
        min_score = cfg.min_score if cfg.min_score is not None else self.detector_point(p)
        found = [d for d in p.detections if d.label in JEWELLERY and d.score >= min_score]
        pieces = [Evidence.of_box(d, Status.FAIL) for d in found + self.classified_pieces(p, found)]
        ears = [e for e in pieces if e.label.startswith("earring")]
        count = len(pieces) - (1 if cfg.pair_counts_as_one and len(ears) == 2 else 0)
        status = Status.FAIL if count > cfg.max_pieces else Status.PASS
        evidence = [Evidence(e.label, e.polygon, status, e.value) for e in pieces]
        score = min(1.0, 0.5 + 0.15 * abs(count - cfg.max_pieces - 0.5))
        if status == Status.FAIL:
            return self.result(status, score, f"佩戴首饰 {count} 件，超过 {cfg.max_pieces} 件，请摘下多余首饰",
                               f"{count} pieces of jewellery, more than {cfg.max_pieces}: take off the extra pieces",
                               evidence, pieces=count)
        missing = [names for part, names in NEEDED.items() if part not in p.examined]
        if missing:
            return self.unknown(f"看不到{'、'.join(zh for zh, _ in missing)}，请双手自然下垂、正对摄像头",
                                f"Cannot see the {', '.join(en for _, en in missing)}: face the camera with your "
                                "hands at your sides", evidence, pieces=count)
        if not evidence:  # nothing found: the evidence is where it was looked for
            evidence = [Evidence.of_box(p.attire.tiles[part], Status.PASS, part) for part in NEEDED]
        return self.result(status, score, f"首饰 {count} 件（不超过 {cfg.max_pieces} 件）",
                           f"{count} piece(s) of jewellery (at most {cfg.max_pieces})", evidence, pieces=count)

    @staticmethod
    def detector_point(p: Perception) -> float:
        """The detector confidence from which a box is a piece: the small-person point where the manifest has one
        and the person's body scale (shoulder width, in frame pixels) is below where it applies."""
        op = p.attire.operating_points
        small = p.pose is not None and body_scale(p.pose) < op.get("detector.jewellery_small_scale_px", 0.0)
        return op.get("detector.jewellery_small", 1.0) if small else op.get("detector.jewellery", 0.35)

    @staticmethod
    def classified_pieces(p: Perception, found: list[Box]) -> list[Box]:
        """A box over each wrist and neck tile that the jewellery classifier calls adorned (at its operating point
        for that part, on a tile large enough for it) and where the detector counted no such piece already: a watch
        or bracelet inside that wrist tile, a necklace anywhere."""
        op = p.attire.operating_points
        out = []
        for part in ("wrist_left", "wrist_right", "neck"):
            probs, tile = p.classified.get(part), p.attire.tiles.get(part)
            kind = part.split("_")[0]
            if probs is None or tile is None or tile.width < op.get("jewellery.min_tile_px", 24.0) \
                    or probs.get("jewellery", 0.0) < op.get(f"jewellery.jewellery_{kind}", 1.0):
                continue
            same = ("watch", "bracelet") if kind == "wrist" else ("necklace",)
            if any(d.label in same and (kind == "neck" or (tile.x1 <= d.center[0] <= tile.x2
                                                           and tile.y1 <= d.center[1] <= tile.y2))
                   for d in found):
                continue
            out.append(Box(tile.x1, tile.y1, tile.x2, tile.y2, probs["jewellery"], f"{part} jewellery"))
        return out
