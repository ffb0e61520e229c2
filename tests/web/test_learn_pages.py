"""The learning loop's pages: a review of each rule of a record, the review queue and the models page."""
import re

from factories import T0, csrf, login

from station.model_versions import ModelStore


def record_ids(store):
    return {r.technician: r.id for r in store.find()}


def test_a_supervisor_corrects_one_rule_and_the_machine_result_stays_beside_it(client, store):
    login(client)
    rid = record_ids(store)["T2"]  # footwear fail, badge pass
    page = client.get(f"/review/{rid}").get_data(as_text=True)
    assert 'id="rule-footwear"' in page and 'id="rule-badge"' in page
    token = csrf(client, f"/review/{rid}")
    r = client.post(f"/review/{rid}/rules/badge", data={"truth": "fail", "reason": "证件戴在右侧", "csrf_token": token})
    assert r.status_code == 302
    r = client.post(f"/review/{rid}/rules/footwear", data={"truth": "correct", "parts": ["foot_left", "bogus"],
                                                           "csrf_token": token})
    assert r.status_code == 302
    record = store.get(rid)
    badge, footwear = record.rule_review("badge"), record.rule_review("footwear")
    assert (badge.truth, badge.user, badge.reason) == ("fail", "wang", "证件戴在右侧")
    assert (footwear.truth, footwear.parts) == ("fail", ["foot_left"])  # "correct" = the machine's fail; no bogus part
    assert {x.check: x.status for x in record.results}["badge"] == "pass"  # the machine's result is kept
    page = client.get(f"/review/{rid}").get_data(as_text=True)
    assert "已纠正" in page and "证件戴在右侧" in page


def test_an_unknown_rule_cannot_be_confirmed_only_answered(client, store):
    from factories import verdict
    rid = store.add(verdict("unknown", footwear="unknown"), technician="T3")
    login(client)
    token = csrf(client, f"/review/{rid}")
    client.post(f"/review/{rid}/rules/footwear", data={"truth": "correct", "csrf_token": token})
    assert store.get(rid).rule_review("footwear") is None
    client.post(f"/review/{rid}/rules/footwear", data={"truth": "pass", "csrf_token": token})
    assert store.get(rid).rule_review("footwear").truth == "pass"


def test_rule_reviews_need_a_login_a_csrf_token_and_a_real_rule(client, store):
    rid = record_ids(store)["T2"]
    assert client.post(f"/review/{rid}/rules/badge", data={"truth": "fail"}).status_code in (302, 400)
    login(client)
    assert client.post(f"/review/{rid}/rules/badge", data={"truth": "fail"}).status_code == 400  # no CSRF token
    token = csrf(client, f"/review/{rid}")
    assert client.post(f"/review/{rid}/rules/nosuchrule", data={"truth": "fail", "csrf_token": token}).status_code \
        == 404
    assert client.post("/review/999999/rules/badge", data={"truth": "fail", "csrf_token": token}).status_code == 404
    assert store.get(rid).reviews == []


def test_the_queue_puts_the_failed_check_in_first_and_drops_it_once_reviewed(client, store):
    """The queue holds the last 14 days: the fixture's records (of a fixed day) are left out, today's are in."""
    from datetime import datetime, timedelta, timezone

    from factories import verdict

    now = datetime.now(timezone.utc)
    store.add(verdict("pass", badge="pass", footwear="pass"), technician="Q1", when=now - timedelta(hours=2))
    store.add(verdict("fail", badge="pass", footwear="fail"), technician="Q2", when=now - timedelta(hours=1))
    login(client)
    ids = record_ids(store)
    page = client.get("/review/queue").get_data(as_text=True)
    order = [int(x) for x in re.findall(r'href="/review/(\d+)#rule-reviews"', page)]
    assert order[0] == ids["Q2"] and ids["Q1"] in order
    assert (ids["T1"] not in order and ids["T2"] not in order) == (now - T0 > timedelta(days=14))
    token = csrf(client, f"/review/{ids['Q2']}")
    client.post(f"/review/{ids['Q2']}/rules/footwear", data={"truth": "correct", "csrf_token": token})
    page = client.get("/review/queue").get_data(as_text=True)
    assert f'href="/review/{ids["Q2"]}#rule-reviews"' not in page


def test_the_models_page_is_for_admins_and_shows_the_installed_version(admin_app, admin_client, client, tmp_path):
    login(client)
    assert client.get("/admin/models").status_code == 403
    page = admin_client.get("/admin/models").get_data(as_text=True)
    assert "shipped" in page and "No candidate evaluated yet" in page
    assert ModelStore(tmp_path / "var" / "models").active() == "shipped"
