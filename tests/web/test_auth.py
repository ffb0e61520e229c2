"""Login and logout: where a login may send the browser."""
import pytest
from factories import csrf


@pytest.mark.parametrize("target", ["/%09/evil.example/x", "//evil.example/x", "/%2F/evil.example", "/\\evil.example",
                                    "https://evil.example/", "/%0d%0aSet-Cookie:x=1", "review"])
def test_login_never_sends_the_browser_off_the_site(client, target):
    r = client.post(f"/login?next={target}", data={"username": "wang", "password": "correct horse",
                                                   "csrf_token": csrf(client, "/login")})
    assert r.status_code == 302 and r.headers["Location"] == "/review"


def test_login_returns_to_the_page_that_asked_for_it(client):
    assert client.get("/review/summary").headers["Location"] == "/login?next=/review/summary"
    r = client.post("/login?next=/review/summary", data={"username": "wang", "password": "correct horse",
                                                         "csrf_token": csrf(client, "/login")})
    assert r.headers["Location"] == "/review/summary"
