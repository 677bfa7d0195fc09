"""classify.imaging stays light: importing it in a fresh interpreter loads neither TensorFlow nor pillow-heif."""

import os
import subprocess
import sys

from infra.paths import REPO_ROOT


def test_importing_imaging_pulls_in_neither_tensorflow_nor_pillow_heif() -> None:
    code = (
        "import sys, classify.imaging; "
        "loaded = {'tensorflow', 'keras', 'pillow_heif'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    code_paths = [REPO_ROOT / "functions" / "classify", REPO_ROOT / "functions" / "shared"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, code_paths))}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
