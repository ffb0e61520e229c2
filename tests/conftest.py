import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(Path(__file__).parent))  # tests/factories.py


@pytest.fixture(autouse=True)
def pil_open_restored():
    """Importing ultralytics (the training scripts, their progress bars) replaces PIL's Image.open process-wide (its
    HEIF fallback, which needs pi_heif); every later test needs Pillow's own."""
    from PIL import Image

    original = Image.open
    yield
    Image.open = original


@pytest.fixture(scope="session")
def shared_eval() -> Path:
    path = SHARED / "eval"
    if not path.is_dir():
        pytest.skip(f"{path} not present (the shared evaluation photos live beside the project)")
    return path


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = SHARED / "datasets"
    if not path.is_dir():
        pytest.skip(f"{path} not present (the shared training photos live beside the project)")
    return path


@pytest.fixture(scope="session")
def real_models():
    """The real MediaPipe + skin models, loaded once for the slow tests."""
    from station.pipeline import Models

    return Models.load(tracking=False)
