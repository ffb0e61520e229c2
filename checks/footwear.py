"""Closed shoes only: no slippers, sandals or bare feet (不得穿拖鞋、凉鞋、赤脚).

Whether footwear is open is judged from the whole feet tile by the footwear classifier (P(open), trained on CCP
with sandals and clogs as open). Bare feet are no footwear at all: skin on the front of the foot, where even pumps
and flats cover the toes, with no shoe found there by the attire detector (tan and nude shoes look like skin, so a
detected shoe outweighs the skin model). The detector's shoe boxes are the evidence shown.
"""
from __future__ import annotations

from checks.base import Check, CheckResult, Evidence, Status, region_share
from models.perception import Perception, Region

MIN_PIXELS = 40  # a toe region smaller than this is too far away to judge


class FootwearCheck(Check):
    id = "footwear"
    title_zh, title_en = "鞋履", "Footwear"

    def run(self, p: Perception) -> CheckResult:
        cfg = self.config.footwear
        toes = [t for t in (p.region(f"toes_{side}") for side in ("left", "right")) if t is not None]
        probs = p.classified.get("feet")
        if probs is None and not toes:
            return self.unknown("看不到双脚，请后退让双脚进入画面", "Feet not in view; step back so your feet show")
        shoes = [d for d in p.detections if d.label in ("shoe", "open_shoe") and d.score >= cfg.min_score]
        if probs is not None and probs.get("open", 0.0) >= cfg.open_threshold:
            p_open = probs["open"]
            return self.result(Status.FAIL, p_open, f"穿着露趾鞋（拖鞋、凉鞋或洞洞鞋），可能性 {p_open:.0%}",
                               f"Open footwear (slippers, sandals or clogs), {p_open:.0%} likely",
                               [Evidence.of_box(d, Status.FAIL) for d in shoes] +
                               [Evidence.of_region(t, Status.FAIL) for t in toes], open_probability=p_open)
        if not shoes:
            bare = self.bare_feet(p, toes)
            if bare is not None:
                return bare
        if probs is None:
            return self.unknown("未识别到鞋子", "No shoes recognised")
        p_open = probs.get("open", 0.0)
        return self.result(Status.PASS, 1.0 - p_open, "穿着包脚鞋", "Closed shoes",
                           [Evidence.of_box(d, Status.PASS) for d in shoes], open_probability=p_open)

    def bare_feet(self, p: Perception, toes: list[Region]) -> CheckResult | None:
        """A failing result when the toes show bare skin, else None."""
        limit = self.config.footwear.max_skin_fraction
        if p.skin is None:
            return None
        evidence, shares = [], []
        for region in toes:
            share, n = region_share(p, region, p.skin, within_person=False)
            if n >= MIN_PIXELS:
                shares.append(share)
                evidence.append(Evidence.of_region(region, Status.FAIL if share > limit else Status.PASS, share))
        if not shares or max(shares) <= limit:
            return None
        worst = max(shares)
        return self.result(Status.FAIL, min(1.0, 0.5 + (worst - limit) / max(limit, 1e-3)),
                           f"脚部露出皮肤 {worst:.0%}，未见鞋子：疑似赤脚", f"Bare skin on the foot ({worst:.0%}) and no "
                           "shoe found: bare feet", evidence, skin_fraction=worst)
