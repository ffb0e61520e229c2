"""A rule is one module: the registry finds it and the station config gets its policy section from it."""
import textwrap

import pytest

import checks
from checks.registry import REGISTRY, discover
from station.config import ConfigError, StationConfig, load_config

RULE = textwrap.dedent('''
    """A rule that only exists in this test."""
    from checks.base import Check, CheckSection, Status


    class HatPolicy(CheckSection):
        allowed: bool = False


    class HatCheck(Check):
        id = "hat_rule_for_test"
        title_zh, title_en = "帽子", "Hat"
        Policy = HatPolicy
        order = 5

        def run(self, p):
            return self.result(Status.PASS, 1.0, "没有帽子", "No hat")
''')


def test_every_rule_has_its_section_title_and_order():
    assert list(REGISTRY) == ["uniform", "front_closed", "badge", "footwear", "cuffs", "legwear", "accessories",
                              "sunglasses", "hair_colour", "beard"]
    assert not StationConfig().hair_colour.enabled and not StationConfig().beard.enabled  # off unless a site asks
    config = StationConfig()
    for rule_id, rule in REGISTRY.items():
        assert isinstance(getattr(config, rule_id), rule.Policy)
        assert rule.title_zh and rule.title_en


def test_adding_a_rule_is_adding_one_module(tmp_path, monkeypatch):
    (tmp_path / "hat_rule_for_test.py").write_text(RULE)
    monkeypatch.setattr(checks, "__path__", [*checks.__path__, str(tmp_path)])
    found = discover()
    assert list(found)[0] == "hat_rule_for_test"  # order 5: listed first
    assert found["hat_rule_for_test"].Policy.__name__ == "HatPolicy"


def test_a_typo_in_a_rule_section_is_named(tmp_path):
    bad = tmp_path / "station.toml"
    bad.write_text("[footwear]\nopen_threshhold = 0.4\n")
    with pytest.raises(ConfigError, match="unknown key 'footwear.open_threshhold'"):
        load_config(bad)
