"""Men: no beard (男士不得留胡须). Off by default: a site switches it on, since the station cannot tell for everyone
whether the rule applies to them.

The beard classifier (models/beard, a linear probe on CCP faces labelled by eye) looks at the lower face that the
pose finds below the nose: upper lip, mouth, chin and jaw. A beard, a moustache, a goatee or clear stubble fails,
pointing at that tile; a face turned away, hidden or too small to see stubble is `unknown` with what to do.
"""
from __future__ import annotations

from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status
from models.perception import Perception

TILE = "chin"
DEFAULTS = {"beard": 0.5, "min_tile_px": 20.0}  # when the classifier's manifest names none


class BeardPolicy(CheckSection):
    """[beard] in the station config."""

    enabled: bool = Field(False, description="off by default: the beard rule is for men, and the station cannot "
                                             "tell for everyone whether it applies")
    min_probability: float | None = Field(None, ge=0.0, le=1.0, description="classifier P(beard) from which the "
                                                                            "face fails; empty: the operating "
                                                                            "point in the classifier's manifest")


class BeardCheck(Check):
    id = "beard"
    title_zh, title_en = "胡须", "Beard"
    fix_zh, fix_en = "请剃净胡须", "Please shave your beard"
    Policy = BeardPolicy
    order = 80
    models = ("beard",)
    needs_colour = True  # trained on colour photos only; a grey (IR) frame is not judged

    def run(self, p: Perception) -> CheckResult:
        probs, tile = p.classified.get(TILE), p.attire.tiles.get(TILE)
        if probs is None or tile is None:
            if "beard.beard" not in p.attire.operating_points:
                return self.unknown("未加载胡须模型，无法判断", "The beard model is not loaded: cannot judge")
            return self.unknown("看不清口鼻和下巴，请正面朝向摄像头", "Mouth and chin not in view: please face the "
                                "camera")
        op = {k: p.attire.operating_points.get(f"beard.{k}", v) for k, v in DEFAULTS.items()}
        if tile.width < op["min_tile_px"]:
            return self.unknown("脸部在画面中太小，无法判断胡须，请走近一些",
                                "Face too small in the picture to judge: please step closer",
                                [Evidence.of_box(tile, Status.UNKNOWN, TILE)])
        limit = self.config.beard.min_probability
        limit = limit if limit is not None else op["beard"]
        p_beard = probs.get("beard", 0.0)
        if p_beard >= limit:
            return self.result(Status.FAIL, p_beard, "留有胡须，请刮净", "Beard or moustache: please shave",
                               [Evidence.of_box(tile, Status.FAIL, TILE)], beard_probability=p_beard)
        return self.result(Status.PASS, 1.0 - p_beard, "无胡须", "No beard", [Evidence.of_box(tile, Status.PASS, TILE)],
                           beard_probability=p_beard)
