"""A linear probe beside a fine-tuned tile classifier: logistic regression on features of the frozen YOLOv8s
backbone, combined with the installed model (the mean of their log-odds) in one ONNX graph.

With about a thousand labelled photos per rule the fine-tuned classifiers overfit (validation loss rises after a few
epochs); a probe on the backbone's untouched features errs on other photos. Where the tuned model is weak the two
together do better on validation than either alone (the open front: fail recall 0.78 -> 0.85 at 100 % and 40 %
scale, closed fronts failed under 5 %; legwear on its hips-to-ankles tile: AUC 0.978 -> 0.983). Where it is strong
a probe on the same 96 px tiles only dilutes it (footwear: AUC 0.986 -> 0.973); on 160 px tiles, which the tuned
half's branch resizes to its own 96, it helps the small tiles most (footwear 0.967 / 0.931 -> 0.968 / 0.941 at 40 /
25 % scale, fewer open shoes passed and closed ones failed at every scale; the front 0.933 -> 0.946). The station
runs the merged graph like any other classifier (same input, same output: one probability per class); the probe
costs about 3 ms a 96 px tile on two cores, about 5 at 160.
`station train site` fits the probe of an installed graph again on a site's tiles (`refit_in_graph`).

    python -m models.training.garments front probe --data var/train/front160   # (after prepare at 160) + a probe
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from models.detector import to_blob

FEATURE_LAYERS = (4, 6, 8)  # the last C2f of each stride (8, 16, 32): textures up to whole-garment shapes
L2 = 0.003  # inverse regularisation strength (sklearn's C), per training tile; chosen on validation tiles


def backbone(weights: str):
    """Layers 0-8 of YOLOv8s from a detection checkpoint (a yaml name: untrained, for tests), frozen (torch
    modules, eval mode)."""
    from models.training.common import offline_ultralytics
    offline_ultralytics()
    from ultralytics import YOLO
    model = YOLO("yolov8s-cls.yaml")
    if weights.endswith(".pt"):
        model = model.load(weights)
    layers = model.model.model[:-1]
    layers.eval()
    for p in layers.parameters():
        p.requires_grad_(False)
    return layers


class Features(torch.nn.Module):
    """RGB/255 tiles -> mean and max pooled features of FEATURE_LAYERS. (Averaging each tile with its mirror image
    scored no better on validation and doubled the time.)"""

    def __init__(self, layers) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x):
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in FEATURE_LAYERS:
                out += [x.mean((2, 3)), x.amax((2, 3))]
        return torch.cat(out, 1)


class Probe(torch.nn.Module):
    """Features, then a linear layer and softmax: one probability per class."""

    def __init__(self, features: Features, weight: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.features = features
        self.linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
        self.linear.weight.data = torch.from_numpy(weight)
        self.linear.bias.data = torch.from_numpy(bias)

    def forward(self, x):
        return self.linear(self.features(x)).softmax(1)


def tile_features(features: Features, files: list[Path], size: int) -> np.ndarray:
    rows = []
    for i in range(0, len(files), 64):
        tiles = [cv2.resize(cv2.imread(str(f)), (size, size), interpolation=cv2.INTER_AREA) for f in files[i:i + 64]]
        with torch.no_grad():
            rows.append(features(torch.from_numpy(to_blob(tiles))).numpy())
    return np.concatenate(rows)


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, c: float = L2) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features (L2, sklearn's objective with C=c), folded back
    to raw features: returns (weight (classes, features), bias (classes,))."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = torch.from_numpy((x - mu) / sd).float()
    target = torch.from_numpy(y).long()
    w = torch.zeros(n_classes, x.shape[1], requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, history_size=20, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(xs @ w.T + b, target, reduction="sum") * c + 0.5 * (w * w).sum()
        value.backward()
        return value

    opt.step(loss)
    w_raw = w.detach().numpy() / sd
    return w_raw.astype(np.float32), (b.detach().numpy() - w_raw @ mu).astype(np.float32)


def export_probe(features: Features, weight: np.ndarray, bias: np.ndarray, size: int, dest: Path) -> Path:
    """features + linear + softmax -> dest (ONNX, opset 17, dynamic batch), input 'images', output 'output0'."""
    torch.onnx.export(Probe(features, weight, bias).eval(), torch.zeros(1, 3, size, size), str(dest), opset_version=17,
                      input_names=["images"], output_names=["output0"], dynamo=False,
                      dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}})
    return dest


def combine_graphs(first: Path, second: Path, dest: Path, first_size: int | None = None) -> Path:
    """One ONNX graph that feeds its input to both classifiers and answers the softmax of the mean of their log
    probabilities (for two classes: the mean of their log-odds). Unlike the mean of the probabilities, a model that
    is sure is not dragged into the unsure band by one that is not. `first_size`: where the first classifier
    takes another input size than the graph (the probe's), its branch resizes the tiles to it (bilinear)."""
    import onnx
    from onnx import compose, helper

    a, b = (compose.add_prefix(onnx.load(str(p)), prefix) for p, prefix in ((first, "tuned/"), (second, "probe/")))
    for m in (a, b):
        m.ir_version = min(a.ir_version, b.ir_version)
    to_first = [helper.make_node("Identity", ["images"], ["tuned/images"])] if first_size is None else [
        helper.make_node("Shape", ["images"], ["tuned/shape"], end=2),  # batch and channels, the size given
        helper.make_node("Concat", ["tuned/shape", "tuned/size"], ["tuned/sizes"], axis=0),
        helper.make_node("Resize", ["images", "", "", "tuned/sizes"], ["tuned/images"], mode="linear")]
    sizes = [] if first_size is None else [helper.make_tensor("tuned/size", onnx.TensorProto.INT64, [2],
                                                              [first_size, first_size])]
    graph = helper.make_graph(
        [*to_first,
         helper.make_node("Identity", ["images"], ["probe/images"]),
         *a.graph.node, *b.graph.node,
         *(node for model in ("tuned", "probe") for node in (
             helper.make_node("Max", [f"{model}/output0", "eps"], [f"{model}/floor"]),
             helper.make_node("Log", [f"{model}/floor"], [f"{model}/log"]))),
         helper.make_node("Add", ["tuned/log", "probe/log"], ["sum"]),
         helper.make_node("Mul", ["sum", "half"], ["mean"]),
         helper.make_node("Softmax", ["mean"], ["output0"], axis=1)],
        "tuned_and_probe",
        [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("output0", onnx.TensorProto.FLOAT, ["batch", None])],
        [*a.graph.initializer, *b.graph.initializer, helper.make_tensor("half", onnx.TensorProto.FLOAT, [], [0.5]),
         helper.make_tensor("eps", onnx.TensorProto.FLOAT, [], [1e-6]), *sizes])
    merged = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=a.ir_version)
    merged.metadata_props.extend(a.metadata_props)  # ultralytics' names and imgsz
    onnx.checker.check_model(merged)
    onnx.save(merged, str(dest))
    return dest


def tuned_graph(merged: Path, dest: Path, size: int) -> Path:
    """The fine-tuned classifier of a merged graph as a graph of its own (input 'images', `size` square, output
    'output0'), the same weights: to combine with a new probe without the file it was first made from."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.shape_inference.infer_shapes(onnx.load(str(merged)))
    sub = Extractor(model).extract_model(["tuned/images"], ["tuned/output0"])

    def bare(name: str) -> str:
        return name.removeprefix("tuned/")

    for node in sub.graph.node:
        node.name = bare(node.name)
        node.input[:] = [bare(n) for n in node.input]
        node.output[:] = [bare(n) for n in node.output]
    for item in [*sub.graph.initializer, *sub.graph.input, *sub.graph.output, *sub.graph.value_info]:
        item.name = bare(item.name)
    dims = sub.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param = "batch"
    for dim, value in zip(dims[1:], (3, size, size)):
        dim.dim_value = value
    sub.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.checker.check_model(sub)
    dest.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(sub, str(dest))
    return dest


def build(tuned: Path, name: str, data: Path, classes: tuple[str, ...], size: int, weights: str, dest: Path,
          c: float = L2, tuned_size: int | None = None) -> tuple[Path, dict]:
    """The fine-tuned classifier `tuned` combined with a probe fitted on data/train: dest/NAME.onnx, which takes
    tiles of `size` (the probe's); where the tuned classifier takes another size (`tuned_size`), its branch resizes
    them: a larger probe tile keeps detail that the 96 px the classifier was tuned on lose."""
    features = Features(backbone(weights)).eval()
    files = [(f, k) for k, cls in enumerate(classes) for f in sorted((data / "train" / cls).glob("*.jpg"))]
    x = tile_features(features, [f for f, _ in files], size)
    y = np.array([k for _, k in files])
    weight, bias = fit_logistic(x, y, len(classes), c)
    dest.mkdir(parents=True, exist_ok=True)
    probe_file = export_probe(features, weight, bias, size, dest / "probe.onnx")
    tuned_size = tuned_size or size
    out = combine_graphs(tuned, probe_file, dest / f"{name}.onnx", tuned_size if tuned_size != size else None)
    probe_file.unlink()
    info = {"features": f"mean and max of layers {', '.join(map(str, FEATURE_LAYERS))} of the frozen backbone",
            "regularisation_C": c, "train_tiles": {cls: int((y == k).sum()) for k, cls in enumerate(classes)},
            "input_size": size, "tuned_input_size": tuned_size}
    return out, info


def _probe_layer(model) -> tuple[str, str, str]:
    """The merged graph's probe layer: (its input, the features; its weight's and its bias's initializer names)."""
    for node in model.graph.node:
        if node.op_type == "Gemm" and len(node.input) == 3 and node.input[1].startswith("probe/"):
            return node.input[0], node.input[1], node.input[2]
    raise ValueError("no probe layer (a Gemm on probe/ weights) in this graph: not a tuned-and-probe classifier")


def graph_features(model, tiles: list[np.ndarray]) -> np.ndarray:
    """The frozen backbone's pooled features of BGR tiles (already at the input size), read out of the merged graph
    itself through onnxruntime: exactly what its probe layer sees."""
    import onnx
    import onnxruntime as ort

    features, _, _ = _probe_layer(model)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(features, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    rows = [session.run([features], {"images": to_blob(tiles[i:i + 64])})[0] for i in range(0, len(tiles), 64)]
    return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)


def refit_in_graph(merged: Path, tiles: list[np.ndarray], labels: np.ndarray, copies: np.ndarray, n_classes: int,
                   c: float, dest: Path) -> Path:
    """The merged graph with its probe fitted again on these tiles (BGR, at the input size) and labels, each tile
    counted `copies` times (its features computed once); the tuned classifier and the backbone stay as they are,
    so the only weights that change are the probe layer's."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(merged))
    features = graph_features(model, tiles)
    weight, bias = fit_logistic(np.repeat(features, copies, axis=0), np.repeat(labels, copies), n_classes, c)
    _, weight_name, bias_name = _probe_layer(model)
    for init in model.graph.initializer:
        new = {weight_name: weight, bias_name: bias}.get(init.name)
        if new is not None:
            if tuple(init.dims) != new.shape:
                raise ValueError(f"{merged}: probe layer {init.name} is {tuple(init.dims)}, the refit {new.shape}")
            init.CopyFrom(numpy_helper.from_array(new, init.name))
    onnx.checker.check_model(model)
    dest.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dest))
    return dest
