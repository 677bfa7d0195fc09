"""Installed size of the classify image's packages, per Dockerfile stage (no Docker engine here to build images).

    python -m bench.image_size [--python python3.12] [--before REV]

Installs each requirements set with pip into a temporary folder (for the Lambda base image's Python, manylinux
wheels) and prints `du` of it: the image's runtime stage before (REV's requirements.txt, TensorFlow) and after
(LiteRT), and the build stage (which never reaches the function).
"""

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from infra.paths import REPO_ROOT

CLASSIFY = REPO_ROOT / "functions" / "classify"


def installed_mb(python: str, requirements: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="photomod-size-") as target:
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:"]
            + ["--target", target, "-r", str(requirements)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        usage = subprocess.run(["du", "-sk", target], check=True, capture_output=True, text=True).stdout
        return int(usage.split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=shutil.which("python3.12") or "python3")
    parser.add_argument("--before", default="main", help="git revision whose requirements.txt is 'before'")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "requirements-before.txt"
        before.write_text(
            subprocess.run(
                ["git", "show", f"{options.before}:functions/classify/requirements.txt"],
                cwd=REPO_ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        sizes = {
            f"runtime stage before ({options.before}: TensorFlow)": installed_mb(options.python, before),
            "runtime stage after (requirements.txt: LiteRT)": installed_mb(
                options.python, CLASSIFY / "requirements.txt"
            ),
            "build stage (requirements-build.txt)": installed_mb(options.python, CLASSIFY / "requirements-build.txt"),
        }
    for name, size in sizes.items():
        print(f"{name:<55} {size:8.0f} MB installed")
    model = REPO_ROOT / "models" / "resnet50.tflite"
    if model.exists():
        print(f"{'converted model copied into the runtime stage':<55} {model.stat().st_size / 2**20:8.0f} MB")


if __name__ == "__main__":
    main()
