"""The uniform worn closed, never open (工装整洁，不要敞怀).

The open-front classifier judges the torso tile (trained on CCP photos labelled by eye: open outerwear with
another garment or skin down the middle); between its fail point and a lower edge chosen on validation it cannot
tell, and the rule says so instead of passing; where it is loaded and no tile is cut, the front was not seen.
Without it, the rule compares the strip from below the
collar to the belt with the strips on either side of it: an open jacket shows another garment down the middle
while the two sides look alike (colour, lightness pattern and texture, the uniform rule's own descriptor); the
thresholds of that fallback were chosen on CCP training photos (`python -m models.training.rules`).
"""
from __future__ import annotations

from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status, TileLabels, calibrated, region_share
from checks.uniform import garment_feature, hellinger
from models.perception import Perception

STRIPS = ("front_left", "front_centre", "front_right")
MIN_PIXELS = 60


def measure(p: Perception) -> dict[str, float] | None:
    """How much the middle strip differs from the two sides, beyond how much the sides differ from each other."""
    feats = {}
    for name in STRIPS:
        region = p.region(name)
        if region is None:
            return None
        mask = region.mask(p.image.shape)
        if p.person_mask is not None:
            mask &= p.person_mask > 0.5
        if mask.sum() < MIN_PIXELS:
            return None
        feats[name] = garment_feature(p.image, mask)
    left, centre, right = (feats[n] for n in STRIPS)
    skin, _ = region_share(p, p.regions["front_centre"], p.skin) if p.skin is not None else (0.0, 0)
    side_skin = max((region_share(p, p.regions[n], p.skin)[0] if p.skin is not None else 0.0)
                    for n in ("front_left", "front_right"))
    return {"contrast": min(hellinger(centre, left), hellinger(centre, right)) - hellinger(left, right),
            "centre_skin": skin - side_skin}


class FrontClosedPolicy(CheckSection):
    """[front_closed] in the station config."""

    max_contrast: float | None = Field(None, ge=0.0, le=1.0, description="how much more the middle of the front "
                                                                         "may differ from the sides than they do "
                                                                         "from each other; empty: the calibrated "
                                                                         "value")


class FrontClosedCheck(Check):
    id = "front_closed"
    title_zh, title_en = "衣襟扣好", "Front closed"
    fix_zh, fix_en = "请扣好衣襟，不要敞怀", "Close the front of your jacket"
    Policy = FrontClosedPolicy
    order = 15
    models = ("front",)
    tile_labels = TileLabels("front", {"front": ("衣襟", "jacket front")}, "closed", "open", fail_all_parts=True)
    needs_colour = True

    def run(self, p: Perception) -> CheckResult:
        probs, tile = p.classified.get("front"), p.attire.tiles.get("front")
        if probs is not None and tile is not None:
            return self.classified(p, probs, tile)
        m = None if self.classifier_loaded(p) else measure(p)
        if m is None:
            return self.unknown("看不到上身正面，请正面站立、双手自然下垂",
                                "Front of the body not in view: face the camera, arms at your sides")
        cal = calibrated(self.id)
        limit = self.config.front_closed.max_contrast
        limit = limit if limit is not None else cal.get("max_contrast", 0.15)
        open_front = m["contrast"] > limit or m["centre_skin"] > cal.get("max_centre_skin", 0.35)
        evidence = [Evidence.of_region(p.regions[n], Status.FAIL if open_front and n == "front_centre"
                                       else Status.PASS, m["contrast"] if n == "front_centre" else None)
                    for n in STRIPS]
        score = min(1.0, 0.5 + abs(m["contrast"] - limit) * 2)
        if open_front:
            return self.result(Status.FAIL, score, "衣襟敞开，请扣好工作服", "Uniform worn open: close it",
                               evidence, **m)
        return self.result(Status.PASS, score, "衣襟扣好", "Front closed", evidence, **m)

    def classified(self, p: Perception, probs: dict[str, float], tile) -> CheckResult:
        """The open-front classifier's answer on the torso tile."""
        return self.one_tile_verdict(p, probs, tile, "open_probability",
                                     ("离摄像头太远，看不清衣襟，请走近一些",
                                      "Too far to see the front of the uniform: please step closer"),
                                     ("衣襟敞开，请扣好工作服", "Uniform worn open: close it"),
                                     ("衣襟扣好", "Front closed"),
                                     ("看不准衣襟是否扣好：请双手放下，主管会核对",
                                      "Unclear: arms at your sides; a supervisor will check"))
