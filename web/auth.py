"""Supervisor login and logout. Failed logins are limited per user name and address."""
from __future__ import annotations

import threading
import time
from collections import deque

from flask import Blueprint, redirect, render_template, request, session, url_for

from web.common import local_path, station

bp = Blueprint("auth", __name__)


class LoginThrottle:
    """At most `limit` failed logins per (user name, address) within `window_s`. An attempt takes its place under a
    lock before the password is checked, so attempts sent at once cannot get past the limit; a success clears it.
    Per user and address: one address guessing one account does not lock the others out."""

    def __init__(self, limit: int = 5, window_s: float = 300.0, clock=time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._attempts: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, str]) -> bool:
        """Count an attempt for `key`; False when the limit is reached (the attempt is refused, not counted)."""
        now = self.clock()
        with self._lock:
            if len(self._attempts) > 10_000:  # guessed user names: forget the keys whose window has passed
                self._attempts = {k: a for k, a in self._attempts.items() if a and a[-1] > now - self.window_s}
            attempts = self._attempts.setdefault(key, deque())
            while attempts and attempts[0] <= now - self.window_s:
                attempts.popleft()
            if len(attempts) >= self.limit:
                return False
            attempts.append(now)
            return True

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._attempts.pop(key, None)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        s = station()
        username = request.form.get("username", "")
        key = (username[:64], request.remote_addr or "?")
        if not s.throttle.take(key):
            return render_template("login.html", error_zh="尝试次数过多，请稍后再试",
                                   error_en="Too many attempts; try again in a few minutes"), 429
        if s.store.check_password(username, request.form.get("password", "")) is None:
            return render_template("login.html", error_zh="用户名或密码错误",
                                   error_en="Wrong user name or password"), 401
        s.throttle.succeeded(key)
        session.clear()
        session["sid"] = s.store.start_session(username)
        session.permanent = True
        return redirect(local_path(request.args.get("next", ""), url_for("review.index")))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    station().store.end_session(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"))
