"""Supervisor login and logout; failed logins are limited per address."""
from __future__ import annotations

import time

from flask import Blueprint, redirect, render_template, request, session, url_for

from web.common import local_path, station

bp = Blueprint("auth", __name__)
LOGIN_LIMIT, LOGIN_WINDOW_S = 5, 300  # failed logins per address within the window before refusing more


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        recent = station().failures[request.remote_addr or "?"]
        while recent and recent[0] < time.monotonic() - LOGIN_WINDOW_S:
            recent.popleft()
        if len(recent) >= LOGIN_LIMIT:
            return render_template("login.html", error_zh="尝试次数过多，请稍后再试",
                                   error_en="Too many attempts; try again in a few minutes"), 429
        role = station().store.check_password(request.form.get("username", ""), request.form.get("password", ""))
        if role is None:
            recent.append(time.monotonic())
            return render_template("login.html", error_zh="用户名或密码错误",
                                   error_en="Wrong user name or password"), 401
        session.clear()
        session.update(user=request.form["username"], role=role)
        session.permanent = True
        return redirect(local_path(request.args.get("next", ""), url_for("review.index")))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
