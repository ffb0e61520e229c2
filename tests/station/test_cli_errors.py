"""Bad input gets one clear line on stderr and exit code 2, never a traceback. No model is loaded here: every one of
these is caught before the pipeline starts."""
import numpy as np
import pytest
from factories import png_header_only
from PIL import Image

from station.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "ok.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 150, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def test_missing_file(capsys, tmp_path):
    code, err = run(capsys, "check", str(tmp_path / "nope.jpg"))
    assert code == 2 and "nope.jpg: no such file" in err and "Traceback" not in err


def test_not_an_image(capsys, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    code, err = run(capsys, "check", str(bad))
    assert code == 2 and "not an image" in err


def test_truncated_jpeg(capsys, tmp_path, photo):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    code, err = run(capsys, "check", str(cut))
    assert code == 2 and "truncated" in err and "cut.jpg" in err


def test_tiny_and_huge_images(capsys, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    code, err = run(capsys, "check", str(tiny))
    assert code == 2 and "too small (1x1" in err
    huge = png_header_only(tmp_path / "huge.png", 20000, 20000)
    code, err = run(capsys, "check", str(huge))
    assert code == 2 and "too large (20000x20000" in err


def test_one_bad_photo_among_good_ones_is_named(capsys, tmp_path, photo):
    code, err = run(capsys, "check", str(photo), str(tmp_path / "missing.png"))
    assert code == 2 and "missing.png" in err


def test_eval_folder_without_labels(capsys, tmp_path):
    code, err = run(capsys, "eval", str(tmp_path))
    assert code == 2 and "no labels.csv" in err
    code, err = run(capsys, "eval", str(tmp_path / "absent"))
    assert code == 2 and "not a folder" in err


def test_eval_bad_label_value(capsys, tmp_path):
    (tmp_path / "labels.csv").write_text("image,badge\nimages/a.jpg,maybe\n")
    code, err = run(capsys, "eval", str(tmp_path))
    assert code == 2 and "badge must be pass, fail or empty" in err


def test_config_with_a_typo(capsys, tmp_path, photo):
    cfg = tmp_path / "station.toml"
    cfg.write_text("[accessories]\nmax_piece = 3\n")
    code, err = run(capsys, "check", str(photo), "--config", str(cfg))
    assert code == 2 and "unknown key 'accessories.max_piece'" in err


def test_bench_bad_size(capsys):
    code, err = run(capsys, "bench", "--size", "big")
    assert code == 2 and "--size" in err


def test_run_missing_source(capsys, tmp_path):
    code, err = run(capsys, "run", "--source", str(tmp_path / "nowhere"))
    assert code == 2 and "no such file or folder" in err
