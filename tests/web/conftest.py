"""The web app's fixtures: a real SQLite log with a supervisor and two records, clients logged in or not."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from factories import T0, login, verdict

from station.store import Store
from web.app import create_app


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "log.db", tmp_path / "evidence")
    s.migrate()
    s.add_user("wang", "correct horse")
    s.add(verdict("pass", badge="pass", footwear="pass"), technician="T1", when=T0)
    s.add(verdict("fail", badge="pass", footwear="fail"), technician="T2", evidence=np.zeros((40, 30, 3), np.uint8),
          when=T0)
    return s


@pytest.fixture
def client(store):
    return create_app(store, testing=True).test_client()


@pytest.fixture
def admin_app(store, tmp_path):
    """The app of a station whose policy file is tmp_path/station.toml, with an admin "boss"."""
    store.add_user("boss", "admin password", "admin")
    (tmp_path / "station.toml").write_text("[accessories]\nmax_pieces = 3\n")
    return create_app(store, testing=True, config_path=tmp_path / "station.toml")


@pytest.fixture
def admin_client(admin_app):
    client = admin_app.test_client()
    login(client, "boss", "admin password")
    return client


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (its own browser download cannot work here)."""
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e .[test])")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
