"""Model bundles and installed versions: what opens, what is refused, install and rollback."""
import json
import zipfile

import pytest

from station.model_versions import SHIPPED, Bundle, BundleError, ModelStore, pack_bundle, shipped_manifest


@pytest.fixture
def bundle_file(tmp_path):
    return pack_bundle(tmp_path / "candidate.zip", {"footwear": shipped_manifest("footwear")}, "site test",
                       trained_from=SHIPPED)


def rewrite(path, replace: dict[str, bytes]):
    """The zip at `path` with some entries' contents replaced (an altered bundle)."""
    with zipfile.ZipFile(path) as z:
        entries = {i.filename: z.read(i.filename) for i in z.infolist()}
    entries.update(replace)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def test_a_packed_bundle_opens_with_its_models_and_provenance(bundle_file, tmp_path):
    bundle = Bundle.open(bundle_file)
    assert bundle.models == ["footwear"] and bundle.name == "site test"
    assert bundle.info["trained_from"] == SHIPPED
    manifests = bundle.extract(tmp_path / "x")
    assert json.loads(manifests["footwear"].read_text())["classes"] == ["closed", "open", "unseen"]


def test_an_altered_model_file_is_refused_by_name(bundle_file):
    with zipfile.ZipFile(bundle_file) as z:
        onnx = bytearray(z.read("footwear/footwear.onnx"))
    onnx[-100] ^= 0xFF
    rewrite(bundle_file, {"footwear/footwear.onnx": bytes(onnx)})
    with pytest.raises(BundleError, match="footwear/footwear.onnx does not match its sha256"):
        Bundle.open(bundle_file)


@pytest.mark.parametrize("entry, message", [("../../etc/evil.json", "files not as listed"),
                                            ("attire/attire.onnx", "files not as listed")])
def test_a_bundle_with_files_it_does_not_list_is_refused(bundle_file, entry, message):
    rewrite(bundle_file, {entry: b"x"})
    with pytest.raises(BundleError, match=message):
        Bundle.open(bundle_file)


def test_a_listed_path_outside_the_model_folders_is_refused(bundle_file):
    with zipfile.ZipFile(bundle_file) as z:
        info = json.loads(z.read("bundle.json"))
    info["files"]["../outside.onnx"] = info["files"]["footwear/footwear.onnx"]
    rewrite(bundle_file, {"bundle.json": json.dumps(info).encode(), "../outside.onnx": b"x"})
    with pytest.raises(BundleError, match="not a model file of this bundle"):
        Bundle.open(bundle_file)


@pytest.mark.parametrize("content, message", [(b"not a zip", "not a zip file"), (None, "no such bundle file")])
def test_what_is_not_a_bundle_says_so(tmp_path, content, message):
    path = tmp_path / "b.zip"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BundleError, match=message):
        Bundle.open(path)


def test_install_makes_a_version_active_over_the_shipped_models_and_rollback_returns(bundle_file, tmp_path):
    store = ModelStore(tmp_path / "models")
    assert store.active() == SHIPPED and store.manifests()["footwear"] == shipped_manifest("footwear")
    first = store.install(Bundle.open(bundle_file), {"refused": []})
    assert store.active() == first and first.startswith("0001-site-test")
    manifests = store.manifests()
    assert manifests["footwear"].is_relative_to(tmp_path / "models" / "versions" / first)
    assert manifests["attire"] == shipped_manifest("attire")  # what the bundle does not carry stays
    second = store.install(Bundle.open(bundle_file))
    assert second.startswith("0002-") and store.version(second)["installed_over"] == first
    assert store.rollback() == first and store.active() == first
    assert store.rollback() == SHIPPED and store.manifests()["footwear"] == shipped_manifest("footwear")
    with pytest.raises(Exception, match="nothing to roll back to"):
        store.rollback()
    assert [v["id"] for v in store.versions()] == [SHIPPED, first, second]  # nothing is deleted


def test_a_bundle_that_fails_to_extract_leaves_no_version(bundle_file, tmp_path):
    store = ModelStore(tmp_path / "models")
    bundle = Bundle.open(bundle_file)

    def broken(dest):
        (dest / "footwear").mkdir(parents=True)
        raise OSError("No space left on device")

    object.__setattr__(bundle, "extract", broken)
    with pytest.raises(OSError, match="No space"):
        store.install(bundle)
    assert store.active() == SHIPPED and not list((tmp_path / "models" / "versions").iterdir())
