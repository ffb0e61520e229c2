"""The station as a station PC installs it: a built wheel (no editable checkout) opens every model manifest from its
installed copy and judges a photo."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp / "dist"), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp / "dist").glob("grooming_station-*.whl"))
    site = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    return site, wheel


def run(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    # the installed copy comes first on the path, and the checkout is not the working directory
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)


def test_the_wheel_carries_every_model_and_no_training_code(installed, tmp_path):
    site, wheel = installed
    out = run(site, "import json, models, station; from pathlib import Path\n"
                    "from models.detector import Manifest\n"
                    "root = Path(models.__file__).parent\n"
                    "found = sorted(str(p.relative_to(root)) for p in root.glob('*/*.json') if p.parent.name != 'skin'"
                    " and p.parent.name != 'rules')\n"
                    "[Manifest.load(root / f).verify() for f in found]\n"
                    "print(json.dumps({'file': station.__file__, 'manifests': found}))", tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["file"].startswith(str(site))
    assert set(data["manifests"]) >= {"attire/attire.json", "footwear/footwear.json", "cuffs/cuffs.json",
                                      "front/front.json", "legwear/legwear.json", "jewellery/jewellery.json"}
    assert not (site / "models" / "training").exists()  # training stays out of the station wheel


def test_the_installed_station_checks_a_photo(installed, tmp_path, shared_eval):
    site, _ = installed
    photo = shared_eval / "ccp-public/images/ccp_0702.jpg"
    out = run(site, f"import sys; from station.cli import main; sys.exit(main(['check', {str(photo)!r}, '--json']))",
              tmp_path)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    assert json.loads(out.stdout)["checks"]["footwear"]["status"] in ("pass", "fail")


def test_a_station_pc_without_torch_lists_installs_and_rolls_back_models_and_runs_the_demo(installed, tmp_path):
    """The train extra stays optional: with torch and ultralytics unimportable, the installed station lists model
    versions, installs a bundle trained elsewhere and rolls it back, says what `station train` needs, and runs its
    demo (whose people and enrolment ship in the wheel)."""
    site, _ = installed
    (tmp_path / "station.toml").write_text('[learn]\nmodels_dir = "models"\n')
    block = "import sys; sys.modules['torch'] = None; sys.modules['ultralytics'] = None\n"
    out = run(site, block + "from station.cli import main\n"
                            "from pathlib import Path\n"
                            "from station.model_versions import Bundle, ModelStore, pack_bundle, shipped_manifest\n"
                            "b = pack_bundle(Path('b.zip'), {'footwear': shipped_manifest('footwear')},\n"
                            "                'from elsewhere')\n"
                            "store = ModelStore('models')\n"
                            "v = store.install(Bundle.open(b))\n"
                            "assert main(['models', 'list', '--config', 'station.toml']) == 0\n"
                            "assert main(['models', 'rollback', '--config', 'station.toml']) == 0\n"
                            "assert store.active() == 'shipped', store.active()\n"
                            "assert main(['train', 'site', 'x', '--out', 'y.zip']) == 2\n"
                            "sys.exit(main(['run', '--source', 'demo', '--json']))", tmp_path)
    assert out.returncode in (0, 1), out.stderr[-3000:]
    assert "0001-from-elsewhere" in out.stdout and "training needs the train extra" in out.stderr
    sessions = json.loads(out.stdout[out.stdout.index("["):])
    assert [s["overall"] for s in sessions] == ["pass", "fail"]
