"""Sleeve cuffs and trouser legs down (袖口不能卷起、不得挽裤腿).

With a long-sleeved, long-trousered uniform, bare skin on the half of the forearm next to the wrist means a rolled
cuff, and bare skin on the shin just above the ankle means a rolled trouser leg.
"""
from __future__ import annotations

from checks.base import Check, CheckResult, Evidence, Status, region_share
from models.perception import Perception

MIN_PIXELS = 40
PARTS = {  # region prefix -> (uniform flag, zh, en)
    "forearm_lower": ("long_sleeves", "袖口卷起", "sleeve rolled up"),
    "shin_lower": ("long_trousers", "裤腿卷起", "trouser leg rolled up"),
}


class CuffsCheck(Check):
    id = "cuffs"
    title_zh, title_en = "袖口裤腿", "Cuffs & trouser legs"

    def run(self, p: Perception) -> CheckResult:
        limit = self.config.cuffs.max_skin_fraction
        evidence, failed, shares = [], [], []
        for prefix, (flag, zh, en) in PARTS.items():
            if not getattr(self.config.uniform, flag):
                continue
            for side in ("left", "right"):
                region = p.region(f"{prefix}_{side}")
                if region is None or p.skin is None:
                    continue
                share, n = region_share(p, region, p.skin)
                if n < MIN_PIXELS:
                    continue
                shares.append(share)
                bad = share > limit
                evidence.append(Evidence.of_region(region, Status.FAIL if bad else Status.PASS, share))
                if bad:
                    side_zh = "左" if side == "left" else "右"
                    failed.append((f"{side_zh}{zh}", f"{side} {en}"))
        if not shares:
            return self.unknown("看不到前臂和小腿", "Forearms and shins not in view")
        worst = max(shares)
        score = min(1.0, 0.5 + abs(worst - limit) / max(limit, 1e-3))
        if failed:
            return self.result(Status.FAIL, score, "、".join(zh for zh, _ in dict.fromkeys(failed)),
                               "; ".join(en for _, en in dict.fromkeys(failed)).capitalize(), evidence,
                               skin_fraction=worst)
        return self.result(Status.PASS, score, "袖口、裤腿已放下", "Cuffs and trouser legs down", evidence,
                           skin_fraction=worst)
