"""The station's web app: the kiosk, the supervisors' review of the appearance log and its JSON API, and the admins'
calibration pages, each a blueprint.

Everything is served by the app itself (no CDN). Supervisor pages need a login (hashed passwords, roles), every
form carries a CSRF token (Flask-WTF), the session cookie is HttpOnly and SameSite and names a login kept on the
server (`station.store.LoginSession`), and failed logins are limited per user and address. The kiosk (no login)
reaches only `/` and `/kiosk/...`. README's Security section says what is protected and how.
"""
from __future__ import annotations

import os
import secrets
import sys
import threading
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from calibration.enrol import Enroller
from station.store import Store, write_atomically
from web import api, auth, calibrate, kiosk, learn, review
from web.common import VERDICT_WORDS, Station, register_error_handlers


# waitress refuses a larger body from its Content-Length alone, before buffering it (the app's own limit, 2 MB,
# applies only once waitress has read the whole body); the margin is for multipart framing. Six threads: the kiosk's
# polling, up to three preview streams (each holds a thread) and a few supervisors, not a crowd that would take both
# cores from the judging worker.
SERVER_SETTINGS = {"threads": 6, "max_request_body_size": 3 * 1024 * 1024}
WEB_NICENESS = 10  # the web threads' CPU priority below the judging worker's (0)


def create_server(app: Flask, host: str, port: int):
    """waitress as `station serve` runs it: SERVER_SETTINGS, and threads at a lower CPU priority."""
    import waitress

    return waitress.create_server(low_priority(app), host=host, port=port, **SERVER_SETTINGS)


def low_priority(app, niceness: int = WEB_NICENESS):
    """Each server thread lowers its own CPU priority at its first request (on Linux a thread's nice value is its
    own), so a burst of review pages or an export waits for the judging worker instead of starving it."""
    niced = threading.local()

    def wsgi(environ, start_response):
        if not getattr(niced, "done", False):
            niced.done = True
            if sys.platform == "linux":
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        return app(environ, start_response)
    return wsgi


def station_secret(path: Path) -> str:
    """The key that signs this station's sessions and CSRF tokens: made once (mode 0600, like every file
    `write_atomically` makes) and kept, so a restart does not sign out the supervisors or refuse the kiosk."""
    if not path.exists():
        write_atomically(path, secrets.token_hex(32).encode())
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path}: not a secret key (delete the file and a new one is made)")
    return key


def create_app(store: Store, live=None, secret_key: str | None = None, testing: bool = False,
               config_path: Path | None = None, roster=None, enroller: Enroller | None = None,
               tz=None) -> Flask:
    """`live`: the running `station.live.LiveStation` (state, preview, identify); None when no camera runs.
    `config_path`: the policy file that the calibration pages edit (admin only). `enroller`: uniform enrolment
    (default: its own photo-mode models, loaded at the first enrolment). `tz`: the zone the review pages show times
    and days in (a tzinfo; default: the running station's `[log] timezone`, else the machine's)."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret_key or secrets.token_hex(32), SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
                      MAX_CONTENT_LENGTH=2 * 1024 * 1024, TESTING=testing)
    if tz is None:
        from station.config import LogConfig

        tz = (live.config.log if getattr(live, "config", None) is not None else LogConfig()).zone()
    app.extensions["station"] = Station(store, live, config_path, roster, tz, auth.LoginThrottle(),
                                        enroller or Enroller())
    app.jinja_env.filters["local"] = lambda when, fmt="%Y-%m-%d %H:%M": \
        app.extensions["station"].local(when).strftime(fmt)
    app.jinja_env.globals.update(verdict_words=VERDICT_WORDS, tz_name=str(tz), name_of=app.extensions["station"].name)
    CSRFProtect(app)
    register_error_handlers(app)
    for blueprint in (kiosk.bp, auth.bp, review.bp, learn.bp, calibrate.bp, api.bp):
        app.register_blueprint(blueprint)
    return app
