"""Open-NSFW's ONNX file -> a float32 LiteRT model (measurement only; the function serves the ONNX file).

    .venv-onnx2tf/bin/python tools/open_nsfw/convert_litert.py models/open_nsfw.onnx models/open_nsfw.litert.tflite

Runs in .venv-onnx2tf (tools/open_nsfw/requirements-litert.txt). onnx2tf cannot lay out the graph as published (a
PyTorch export: NHWC input, a transpose, a computed pad; its first convolution gets a (1, 3, 230, 230) tensor), so
onnxsim first folds it with the input fixed at 1x224x224x3. onnx2tf downloads sample images from GitHub to check its
own output when the input looks like an image batch; with no network here that check is fed seeded random pixels
instead. The caller (bench.open_nsfw_runtime_choice) compares the result with ONNX Runtime on real photos.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnx.tools.update_model_dims
import onnx2tf.onnx2tf as onnx2tf
import onnxsim


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    model = onnx.load(source)
    output = model.graph.output[0].name
    model = onnx.tools.update_model_dims.update_inputs_outputs_dims(
        model, {"input_0": [1, 224, 224, 3]}, {output: [1, 2]}
    )
    simplified, valid = onnxsim.simplify(model)
    if not valid:
        raise SystemExit("onnxsim could not check the simplified graph")
    print(f"onnxsim: {len(model.graph.node)} -> {len(simplified.graph.node)} nodes", flush=True)
    onnx2tf.download_test_image_data = lambda: np.random.default_rng(23).random((20, 224, 224, 3), dtype=np.float32)
    with tempfile.TemporaryDirectory() as work:
        folded = Path(work) / "open_nsfw.onnx"
        onnx.save(simplified, folded)
        onnx2tf.convert(
            input_onnx_file_path=str(folded),
            output_folder_path=work,
            keep_shape_absolutely_input_names=["input_0"],
            non_verbose=True,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        (Path(work) / "open_nsfw_float32.tflite").replace(target)
    print(f"wrote {target}", flush=True)


if __name__ == "__main__":
    main()
