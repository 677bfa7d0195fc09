"""Model files served only if they are the pinned ones: a file's SHA-256 against the one its package was measured
with (classify.open_nsfw's ONNX file, classify.faces' BlazeFace file)."""

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def require_pinned(path: Path, sha256: str, source: str, unavailable: type[Exception]) -> None:
    """Raises `unavailable` unless `path` has SHA-256 `sha256` (the file of `source`, e.g. "its-package 1.0.0")."""
    actual = file_sha256(path)
    if actual != sha256:
        raise unavailable(f"{path} has SHA-256 {actual}, not the pinned {sha256} of {source}; run `make models`")
