"""Build the Keras equivalent of an nsfwjs model from what extract.js dumped, and save it under models/.

    python tools/nsfw/convert.py EXTRACTED_DIR OUT_DIR [--model MobileNetV2|InceptionV3]

nsfwjs 4.4.0 ships its MobileNetV2 and InceptionV3 classifiers as Keras 2.2.4 topologies with uint8-quantized
weights (w = min + scale * byte, per tensor). The same architecture is built here from keras.applications
(no top) plus the package's head, checked against the topology layer by layer, and the dequantized weights
are loaded by layer name. The third model, MobileNetV2Mid, is a TF.js *graph* model (no Keras topology),
so it is not converted. Build time only: needs TensorFlow, never the network.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]  # nsfwjs' NSFW_CLASSES, in output order
ARCHITECTURES = {"MobileNetV2": ("mobilenet_v2", 224), "InceptionV3": ("inception_v3", 299)}
# Keras' own weight order per layer type, which is also the order of a layer's variables in the manifest.
WEIGHT_ORDER = {
    "Conv2D": ["kernel", "bias"],
    "DepthwiseConv2D": ["depthwise_kernel", "bias"],
    "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"],
    "Dense": ["kernel", "bias"],
}
HEAD = ["AveragePooling2D", "Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]


class ConversionError(Exception):
    """The package's model is not the architecture this converter builds."""


def file_stem(model: str) -> str:
    return f"nsfwjs_{ARCHITECTURES[model][0]}"


def dequantize(manifest: list[dict[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """Tensor name -> float32 weights, reading the shards' bytes in manifest order as TF.js does."""
    tensors, offset = {}, 0
    for spec in manifest:
        count = math.prod(spec["shape"])
        quantization = spec.get("quantization")
        if spec["dtype"] != "float32":
            raise ConversionError(f"{spec['name']}: unexpected dtype {spec['dtype']}")
        if quantization is None:
            values = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            offset += 4 * count
        elif quantization["dtype"] == "uint8":
            raw = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
            # TF.js computes min + scale * byte in double precision and stores the result as float32.
            values = (quantization["min"] + quantization["scale"] * raw.astype(np.float64)).astype(np.float32)
            offset += count
        else:
            raise ConversionError(f"{spec['name']}: unsupported quantization {quantization['dtype']}")
        tensors[spec["name"]] = values.reshape(spec["shape"])
    if offset != len(data):
        raise ConversionError(f"the manifest describes {offset} bytes of weights, the shards hold {len(data)}")
    return tensors


def build_model(model: str, topology_layers: list[dict[str, Any]]) -> Any:
    """keras.applications backbone (no top) plus the head the topology describes, layer names as in the package."""
    import keras

    keras.backend.clear_session()  # InceptionV3's layers are auto-named: start the numbering afresh
    folder, size = ARCHITECTURES[model]
    head = topology_layers[-len(HEAD) :]
    if [layer["class_name"] for layer in head] != HEAD:
        raise ConversionError(f"unexpected head: {[layer['class_name'] for layer in head]}")
    if model == "MobileNetV2":
        backbone = keras.applications.MobileNetV2(
            input_shape=(size, size, 3), alpha=1.0, include_top=False, weights=None
        )
    else:
        backbone = keras.applications.InceptionV3(input_shape=(size, size, 3), include_top=False, weights=None)
    x = backbone.output
    for spec in head:
        config = spec["config"]
        if spec["class_name"] == "AveragePooling2D":
            x = keras.layers.AveragePooling2D(
                pool_size=tuple(config["pool_size"]), strides=tuple(config["strides"]), name=spec["name"]
            )(x)
        elif spec["class_name"] == "Flatten":
            x = keras.layers.Flatten(name=spec["name"])(x)
        elif spec["class_name"] == "Dropout":
            x = keras.layers.Dropout(config["rate"], name=spec["name"])(x)
        else:
            x = keras.layers.Dense(config["units"], activation=config["activation"], name=spec["name"])(x)
    return keras.Model(backbone.input, x, name=f"nsfwjs_{folder}")


def package_name(keras_name: str, model: str) -> str:
    """The package's (Keras 2.2.4) name for a layer of the model built here.

    MobileNetV2's layers are named explicitly in both versions. InceptionV3's convolutions and batch norms are
    auto-numbered, from 1 in Keras 2.2.4 (`conv2d_1`) and from none in Keras 3 (`conv2d`, `conv2d_1`, ...).
    """
    if model != "InceptionV3":
        return keras_name
    for prefix in ("conv2d", "batch_normalization"):
        if keras_name == prefix:
            return f"{prefix}_1"
        if keras_name.startswith(prefix + "_") and keras_name[len(prefix) + 1 :].isdigit():
            return f"{prefix}_{int(keras_name[len(prefix) + 1 :]) + 1}"
    return keras_name


def load_weights(keras_model: Any, model: str, topology_layers: list[dict[str, Any]], tensors: dict[str, Any]) -> None:
    by_name = {layer["name"]: layer for layer in topology_layers}
    unused = set(tensors)
    for layer in keras_model.layers:
        if not layer.weights:
            continue
        name = package_name(layer.name, model)
        spec = by_name.get(name)
        kind = type(layer).__name__
        if spec is None or spec["class_name"] != kind:
            raise ConversionError(f"layer {layer.name} ({kind}) has no counterpart {name} in the package's topology")
        if kind == "BatchNormalization" and not math.isclose(spec["config"]["epsilon"], layer.epsilon):
            raise ConversionError(f"{name}: epsilon {spec['config']['epsilon']} != {layer.epsilon}")
        order = [weight for weight in WEIGHT_ORDER[kind] if f"{name}/{weight}" in tensors]
        values = [tensors[f"{name}/{weight}"] for weight in order]
        expected = [tuple(weight.shape) for weight in layer.weights]
        if [value.shape for value in values] != expected:
            raise ConversionError(f"{name}: shapes {[v.shape for v in values]} do not fit {expected}")
        layer.set_weights(values)
        unused -= {f"{name}/{weight}" for weight in order}
    if unused:
        raise ConversionError(f"{len(unused)} tensors were not loaded, e.g. {sorted(unused)[:3]}")


def convert(extracted: Path, out_dir: Path, model: str) -> Path:
    document = json.loads((extracted / "model.json").read_text(encoding="utf-8"))
    topology = document.get("modelTopology", {})
    if "model_config" not in topology:
        raise ConversionError(f"{model}: not a Keras layers model (format {document.get('format')!r})")
    layers = topology["model_config"]["config"]["layers"]
    manifest = [weight for group in document["weightsManifest"] for weight in group["weights"]]
    tensors = dequantize(manifest, (extracted / "weights.bin").read_bytes())
    keras_model = build_model(model, layers)
    load_weights(keras_model, model, layers, tensors)

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{file_stem(model)}.keras"
    partial = target.with_suffix(".partial.keras")
    keras_model.save(partial)
    metadata = {
        "name": f"nsfwjs-{model}",
        "version": document["nsfwjsVersion"],
        "classes": CLASSES,
        "input_size": ARCHITECTURES[model][1],
        "weights": len(manifest),
        "parameters": int(sum(math.prod(spec["shape"]) for spec in manifest)),
        "origin": f"npm package nsfwjs@{document['nsfwjsVersion']} (github.com/infinitered/nsfwjs), converted by "
        "tools/nsfw/convert.py",
        "licence": "MIT",
    }
    target.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    partial.replace(target)  # last: a half-written model never looks complete
    print(f"{metadata['name']} {metadata['version']}: {len(manifest)} tensors, {metadata['parameters']} weights")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extracted", type=Path, help="folder written by `node extract.js`")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", choices=sorted(ARCHITECTURES), default="MobileNetV2")
    options = parser.parse_args()
    try:
        convert(options.extracted, options.out_dir, options.model)
    except ConversionError as error:
        raise SystemExit(f"conversion failed: {error}") from None


if __name__ == "__main__":
    main()
