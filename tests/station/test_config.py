import pytest

from station.config import ConfigError, StationConfig, load_config


def write(tmp_path, text, name="station.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    cfg = load_config(None)
    assert cfg.accessories.max_pieces == 3 and cfg.badge.position == "left_chest" and not cfg.camera.mirrored


def test_a_full_policy_loads(tmp_path):
    cfg = load_config(write(tmp_path, '[camera]\nmirrored = true\n[badge]\nposition = "chest"\n'
                                      '[accessories]\nmax_pieces = 2\n[footwear]\nenabled = false\n'))
    assert cfg.camera.mirrored and cfg.badge.position == "chest" and cfg.accessories.max_pieces == 2
    assert not cfg.footwear.enabled
    assert cfg.base_dir == tmp_path.resolve()


@pytest.mark.parametrize("text, key", [
    ("[accesories]\nmax_pieces = 3\n", "accesories"),
    ("[accessories]\nmax_piece = 3\n", "accessories.max_piece"),
    ("[camera]\nmirorred = true\n", "camera.mirorred"),
])
def test_unknown_keys_are_rejected_by_name(tmp_path, text, key):
    with pytest.raises(ConfigError, match=f"unknown key '{key}'"):
        load_config(write(tmp_path, text))


def test_bad_values_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="badge.position"):
        load_config(write(tmp_path, '[badge]\nposition = "belt"\n'))
    with pytest.raises(ConfigError, match="accessories.max_pieces"):
        load_config(write(tmp_path, "[accessories]\nmax_pieces = -1\n"))


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[badge\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_dataset_overrides_merge_on_top(tmp_path):
    base = write(tmp_path, "[accessories]\nmax_pieces = 2\n[badge]\nposition = \"left_chest\"\n")
    override = write(tmp_path, '[badge]\nposition = "chest"\n', "dataset.toml")
    cfg = load_config(base, [override])
    assert cfg.badge.position == "chest" and cfg.accessories.max_pieces == 2


def test_relative_paths_resolve_beside_the_config(tmp_path):
    cfg = load_config(write(tmp_path, '[uniform]\nprototypes = "site/uniform.json"\n'))
    assert cfg.resolve(cfg.uniform.prototypes) == tmp_path.resolve() / "site" / "uniform.json"


def test_assignment_is_validated():
    cfg = StationConfig()
    with pytest.raises(ValueError):
        cfg.accessories.max_pieces = "many"


def test_every_policy_key_says_what_it_means():
    from station.config import policy_reference

    rows = policy_reference()
    keys = [r for r in rows if r["key"]]
    assert {r["section"] for r in rows} >= {"camera", "verdict", "badge", "footwear", "cuffs"}
    assert all(r["meaning"] for r in rows), [r for r in rows if not r["meaning"]]
    assert {"section": "verdict", "key": "min_judged_frames", "default": "3"}.items() <= \
        next(r for r in keys if r["key"] == "min_judged_frames").items()


@pytest.mark.parametrize("device, ok", [(0, True), (2, True), ("/dev/video1", True), ("/dev/v4l/by-id/usb-cam", True),
                                        ("rtsp://10.0.0.5/stream", True), ("/etc/passwd", False),
                                        ("../videos/x.mp4", False), (-1, False)])
def test_the_camera_is_a_camera_never_a_file(tmp_path, device, ok):
    text = f"[camera]\ndevice = {device!r}\n".replace("'", '"')
    if ok:
        assert load_config(write(tmp_path, text)).camera.device == device
    else:
        with pytest.raises(ConfigError, match="camera.device"):
            load_config(write(tmp_path, text))
