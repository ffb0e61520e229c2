"""The shipped skin-colour model (models/skin/skin_model.npz) and its per-person adaptation."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.skin import DEFAULT_PATH, MIN_REFERENCE_PIXELS, SkinModel

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CCP = SHARED / "datasets" / "ccp"
VALIDATION_PHOTOS = (601, 650, 684)  # from the validation range 0601-0700 (never the 0701-0850 evaluation set)
SKIN, HAIR, NULL = 41, 19, 0

SKIN_TONES_BGR = [(170, 195, 235), (150, 180, 225), (110, 150, 200), (90, 130, 180), (70, 100, 140)]
VERY_DARK_SKIN_BGR = (35, 45, 60)  # dark skin in dim light: the population model (mostly light skin) scores it low


@pytest.fixture(scope="module")
def model() -> SkinModel:
    return SkinModel.load()


def patch(bgr: tuple[int, int, int], size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), bgr, np.uint8)


def noisy_pixels(bgr: tuple[int, int, int], n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.array(bgr) + rng.normal(0, 4, (n, 3)), 0, 255).astype(np.uint8)


def test_shipped_model_loads_and_matches_manifest(model):
    assert model.skin_likelihood.shape == model.nonskin_likelihood.shape == (8, 64, 64)
    assert 0.02 < model.prior < 0.5
    assert 0.05 < model.threshold < 0.95 and 0.05 < model.adapted_threshold < 0.95
    assert DEFAULT_PATH.stat().st_size < 1_000_000
    manifest = json.loads((DEFAULT_PATH.parent / "manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest(), "manifest is stale"
    assert manifest["threshold"] == pytest.approx(model.threshold)
    assert manifest["validation"]["generic"]["roc_auc"] > 0.9


def test_output_shape_dtype_and_range(model):
    img = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    outputs = {(37, 53): model.probability(img),
               (37, 27): model.probability(img[:, ::2]),  # a non-contiguous view works too
               (36, 53): model.adapted_probability(img[1:], noisy_pixels((110, 150, 200)))}
    for shape, out in outputs.items():
        assert out.dtype == np.float32 and out.shape == shape
        assert np.all((out >= 0) & (out <= 1))
    assert model.probability(np.zeros((0, 5, 3), np.uint8)).shape == (0, 5)
    with pytest.raises(ValueError):
        model.probability(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        model.probability(np.zeros((4, 4, 3), np.float32))


def test_lookup_reads_the_table_at_each_pixels_colour(model):
    img = np.random.default_rng(4).integers(0, 256, (31, 41, 3), dtype=np.uint8)
    y, cr, cb = np.moveaxis(cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb).astype(int), 2, 0)
    table = model._lut.reshape(model.y_bins, 256, 256)
    assert np.array_equal(model.probability(img), table[y >> 5, cr, cb])


def test_results_are_independent_of_earlier_calls(model):
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 256, (2, 30, 40, 3), dtype=np.uint8)
    first = model.probability(a)
    kept = first.copy()
    model.probability(b)  # same size: reuses the work arrays
    model.adapted_probability(b[:20], noisy_pixels((110, 150, 200)))  # another size
    assert np.array_equal(first, kept)  # an earlier result is never overwritten
    assert np.array_equal(model.probability(a), kept)


def test_skin_tones_score_higher_than_saturated_blue_and_green(model):
    skin = [float(model.probability(patch(c)).mean()) for c in SKIN_TONES_BGR]
    other = [float(model.probability(patch(c)).mean()) for c in [(255, 0, 0), (0, 255, 0), (200, 60, 20),
                                                                 (40, 160, 30)]]
    assert min(skin) > model.threshold, skin
    assert max(other) < model.threshold, other
    assert min(skin) > max(other) + 0.3, (skin, other)


def test_adaptation_raises_a_tone_the_generic_model_scores_low(model):
    tone = patch(VERY_DARK_SKIN_BGR)
    generic = float(model.probability(tone).mean())
    adapted = float(model.adapted_probability(tone, noisy_pixels(VERY_DARK_SKIN_BGR)).mean())
    assert generic < model.threshold
    assert adapted > model.adapted_threshold and adapted > generic + 0.3, (generic, adapted)
    # ... without turning clothing colours into skin
    blue = float(model.adapted_probability(patch((200, 60, 20)), noisy_pixels(VERY_DARK_SKIN_BGR)).mean())
    assert blue < 0.2


def test_adaptation_falls_back_to_generic_without_enough_reference(model):
    img = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    generic = model.probability(img)
    assert np.array_equal(model.adapted_probability(img, None), generic)
    few = noisy_pixels(VERY_DARK_SKIN_BGR, n=MIN_REFERENCE_PIXELS - 1)
    assert np.array_equal(model.adapted_probability(img, few), generic)


def test_missing_file_raises_with_its_name(tmp_path):
    missing = tmp_path / "no_such_model.npz"
    with pytest.raises(FileNotFoundError, match="no_such_model.npz"):
        SkinModel.load(missing)


def test_corrupt_file_raises_with_its_name(tmp_path, model):
    garbage = tmp_path / "garbage_model.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="garbage_model.npz"):
        SkinModel.load(garbage)
    truncated = tmp_path / "truncated_model.npz"
    model.save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated_model.npz"):
        SkinModel.load(truncated)
    incomplete = tmp_path / "incomplete_model.npz"
    np.savez(incomplete, prior=np.float64(0.1))
    with pytest.raises(ValueError, match="incomplete_model.npz"):
        SkinModel.load(incomplete)


def test_save_load_round_trip_is_exact_and_reproducible(tmp_path, model):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    model.save(a)
    model.save(b)
    assert a.read_bytes() == b.read_bytes()  # fixed zip timestamps: the manifest's sha256 is reproducible
    img = np.random.default_rng(3).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    assert np.array_equal(SkinModel.load(a).probability(img), model.probability(img))


@pytest.mark.skipif(not CCP.is_dir(), reason=f"shared CCP dataset not found at {CCP}")
@pytest.mark.parametrize("photo", VALIDATION_PHOTOS)
def test_validation_photo_skin_scores_higher_than_clothing(model, photo):
    import scipy.io

    img = cv2.imread(str(CCP / "photos" / f"{photo:04d}.jpg"))
    labels = scipy.io.loadmat(str(CCP / "annotations" / "pixel-level" / f"{photo:04d}.mat"))["groundtruth"]
    labels = cv2.resize(labels.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
    prob = model.probability(img)
    skin = labels == SKIN
    clothing = (labels != NULL) & (labels != SKIN) & (labels != HAIR)
    assert skin.sum() > 1000 and clothing.sum() > 10000
    assert prob[skin].mean() > prob[clothing].mean() + 0.25, (prob[skin].mean(), prob[clothing].mean())
