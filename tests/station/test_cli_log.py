"""`station user add` and `station purge` on a log named by the config file."""
import io

from station.cli import main
from station.config import load_config
from station.store import Store


def setup_config(tmp_path):
    cfg = tmp_path / "station.toml"
    cfg.write_text('[log]\ndatabase = "data/log.db"\nevidence_dir = "data/evidence"\nretention_days = 30\n')
    return cfg


def test_user_add_then_login_check(tmp_path, monkeypatch, capsys):
    cfg = setup_config(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["user", "add", "wang", "--role", "admin", "--password-stdin", "--config", str(cfg)]) == 0
    store = Store.from_config(load_config(cfg))
    assert (tmp_path / "data" / "log.db").is_file()  # relative to the config file
    assert store.check_password("wang", "correct horse") == "admin"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["user", "add", "wang", "--password-stdin", "--config", str(cfg)]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "li", "--password-stdin", "--config", str(cfg)]) == 2
    assert "8 characters" in capsys.readouterr().err


def test_user_list_remove_set_password_disable_end_the_users_logins(tmp_path, monkeypatch, capsys):
    cfg = setup_config(tmp_path)
    for name, role in (("wang", "admin"), ("li", "supervisor")):
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
        assert main(["user", "add", name, "--role", role, "--password-stdin", "--config", str(cfg)]) == 0
    store = Store.from_config(load_config(cfg))
    capsys.readouterr()
    assert main(["user", "list", "--config", str(cfg)]) == 0
    assert [line.split("\t")[:3] for line in capsys.readouterr().out.splitlines()] == [
        ["li", "supervisor", "enabled"], ["wang", "admin", "enabled"]]

    login = store.start_session("wang")
    monkeypatch.setattr("sys.stdin", io.StringIO("new password\n"))
    assert main(["user", "set-password", "wang", "--password-stdin", "--config", str(cfg)]) == 0
    assert store.session_user(login) is None and store.check_password("wang", "new password") == "admin"

    login = store.start_session("wang")
    assert main(["user", "disable", "wang", "--config", str(cfg)]) == 0
    assert store.session_user(login) is None and store.check_password("wang", "new password") is None
    assert main(["user", "enable", "wang", "--config", str(cfg)]) == 0
    assert store.check_password("wang", "new password") == "admin"

    login = store.start_session("li")
    assert main(["user", "remove", "li", "--config", str(cfg)]) == 0
    assert store.session_user(login) is None and [u.username for u in store.users()] == ["wang"]
    capsys.readouterr()
    assert main(["user", "remove", "li", "--config", str(cfg)]) == 2
    assert "no user 'li'" in capsys.readouterr().err
    assert main(["user", "disable", "--config", str(cfg)]) == 2
    assert "needs a user name" in capsys.readouterr().err


def test_purge_command(tmp_path, capsys):
    cfg = setup_config(tmp_path)
    assert main(["purge", "--config", str(cfg)]) == 0
    assert "older than 30 days" in capsys.readouterr().out
