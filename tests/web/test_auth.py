"""Login and logout: where a login may send the browser."""
import threading

import pytest
from factories import csrf, login


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


def test_logging_out_ends_the_session_for_a_copied_cookie_too(client):
    assert login(client).status_code == 302
    copied = client.application.test_client()  # another browser with the same cookie
    copied.set_cookie("session", client.get_cookie("session").value)
    assert copied.get("/review").status_code == 200
    client.post("/logout", data={"csrf_token": csrf(client, "/review")})
    assert copied.get("/review").status_code == 302 and copied.get("/api/records").status_code == 401


def test_concurrent_wrong_passwords_get_no_more_tries_than_the_limit(client, store):
    """Twenty wrong passwords for one account sent at once: five are checked, the rest refused; another account
    behind the same address is not locked out."""
    store.add_user("li", "battery staple")
    clients = [client.application.test_client() for _ in range(20)]
    tokens = [csrf(c, "/login") for c in clients]
    barrier, codes = threading.Barrier(20), []

    def guess(c, token):
        barrier.wait()
        codes.append(c.post("/login", data={"username": "wang", "password": "wrong", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=ct) for ct in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [401] * 5 + [429] * 15
    assert login(client).status_code == 429  # wang, even with the right password, until the window passes
    assert login(client, "li", "battery staple").status_code == 302  # li, from the same address
