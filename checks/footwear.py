"""Closed shoes only: no slippers, sandals or bare feet (不得穿拖鞋、凉鞋、赤脚).

Evidence until the trained footwear detector arrives: bare skin on the front of the foot, where open footwear shows
toes while closed shoes, pumps and flats alike cover them (a bare ankle or instep is not against the rule).
"""
from __future__ import annotations

from checks.base import Check, CheckResult, Evidence, Status, region_share
from models.perception import Perception

MIN_PIXELS = 40  # a toe region smaller than this is too far away to judge


class FootwearCheck(Check):
    id = "footwear"
    title_zh, title_en = "鞋履", "Footwear"

    def run(self, p: Perception) -> CheckResult:
        limit = self.config.footwear.max_skin_fraction
        toes = [p.region(f"toes_{side}") for side in ("left", "right")]
        toes = [t for t in toes if t is not None]
        if not toes or p.skin is None:
            return self.unknown("看不到双脚，请后退让双脚进入画面", "Feet not in view; step back so your feet show")
        evidence, shares = [], []
        for region in toes:
            share, n = region_share(p, region, p.skin, within_person=False)
            if n < MIN_PIXELS:
                continue
            shares.append(share)
            evidence.append(Evidence.of_region(region, Status.FAIL if share > limit else Status.PASS, share))
        if not shares:
            return self.unknown("脚部太小，无法判断", "Feet too small in the frame to judge")
        worst = max(shares)
        # confidence grows with the distance from the limit, in units of the limit
        score = min(1.0, 0.5 + abs(worst - limit) / max(limit, 1e-3))
        if worst > limit:
            return self.result(Status.FAIL, score, f"脚部露出皮肤 {worst:.0%}：疑似拖鞋、凉鞋或赤脚",
                               f"Bare skin on the foot ({worst:.0%}): slippers, sandals or bare feet",
                               evidence, skin_fraction=worst)
        return self.result(Status.PASS, score, "穿着包脚鞋", "Closed shoes", evidence, skin_fraction=worst)

