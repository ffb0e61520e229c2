"""At most N pieces of jewellery (不可佩戴超过3件首饰).

The attire detector looks at the head and neck (earrings, necklace) and at each hand (watch, bracelet, ring); each
box it finds is a piece, and a pair of earrings counts as one where the policy says so.
"""
from __future__ import annotations

from checks.base import Check, CheckResult, Evidence, Status
from models.perception import Perception

JEWELLERY = ("bracelet", "watch", "earring", "necklace", "ring")


class AccessoriesCheck(Check):
    id = "accessories"
    title_zh, title_en = "首饰", "Jewellery"

    def run(self, p: Perception) -> CheckResult:
        cfg = self.config.accessories
        if not p.examined:
            return self.unknown("看不到人", "No person in view")
        pieces = [Evidence.of_box(d, Status.FAIL) for d in p.detections
                  if d.label in JEWELLERY and d.score >= cfg.min_score]
        ears = [e for e in pieces if e.label.startswith("earring")]
        count = len(pieces) - (1 if cfg.pair_counts_as_one and len(ears) == 2 else 0)
        status = Status.FAIL if count > cfg.max_pieces else Status.PASS
        evidence = [Evidence(e.label, e.polygon, status, e.value) for e in pieces]
        score = min(1.0, 0.5 + 0.15 * abs(count - cfg.max_pieces - 0.5))
        if status == Status.FAIL:
            return self.result(status, score, f"佩戴首饰 {count} 件，超过 {cfg.max_pieces} 件",
                               f"{count} pieces of jewellery, more than {cfg.max_pieces}", evidence, pieces=count)
        return self.result(status, score, f"首饰 {count} 件（不超过 {cfg.max_pieces} 件）",
                           f"{count} piece(s) of jewellery (at most {cfg.max_pieces})", evidence, pieces=count)
