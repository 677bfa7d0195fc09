"""What a Lambda container image holds for Python, read from its Dockerfile without Docker.

Only the last stage is the image: earlier ones (Node, the TensorFlow conversion) only hand it files. From that
stage come the requirements files `RUN pip install -r` reads, the code `COPY ... ${LAMBDA_TASK_ROOT}/...` puts in
the task root, and the handler its `CMD` names. From any stage come the requirements `RUN pip wheel -r` builds
from source (what PyPI has no wheel of): the local build makes those wheels the same way first.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path


class DockerfileError(ValueError):
    """The Dockerfile does not say what the local host needs to know about the image."""


@dataclass(frozen=True)
class ImageContents:
    requirements: tuple[Path, ...]  # in the build context
    copies: dict[Path, str]  # source (in the build context) -> path under ${LAMBDA_TASK_ROOT}
    handler: str | None  # CMD ["module.handler"]
    # Requirements files (in the build context) whose packages a stage builds into wheels (`RUN pip wheel -r`).
    source_builds: tuple[Path, ...] = ()

    @property
    def code_paths(self) -> list[Path]:
        """The folders that make the copied packages importable from their sources (sys.path entries)."""
        return list(dict.fromkeys(source.parent for source in self.copies))


def read_dockerfile(dockerfile: Path, context: Path) -> ImageContents:
    stages = re.split(r"^FROM\s", dockerfile.read_text(), flags=re.MULTILINE)
    source_builds = []
    for earlier in stages:
        copied = {
            target: (context / source).resolve()
            for source, target in re.findall(r"^COPY\s+(\S+)\s+(\S+)\s*$", earlier, re.MULTILINE)
        }
        for path in re.findall(r"^RUN\s+pip\s+wheel\b.*?-r\s+(\S+)", earlier, re.MULTILINE):
            if path not in copied:
                raise DockerfileError(f"{dockerfile}: pip builds wheels of {path}, which no COPY line puts there")
            source_builds.append(copied[path])
    stage = stages[-1]
    copied_files: dict[str, Path] = {}  # image path -> context path, for `RUN pip install -r <image path>`
    copies: dict[Path, str] = {}
    for source, target in re.findall(r"^COPY\s+(\S+)\s+(\S+)\s*$", stage, re.MULTILINE):
        task_root = re.match(r"^\$\{?LAMBDA_TASK_ROOT\}?/?(.*)$", target)
        if task_root:
            copies[(context / source).resolve()] = task_root.group(1)
        else:
            copied_files[target] = (context / source).resolve()
    requirements = []
    for path in re.findall(r"^RUN\s+pip\s+install\b.*?-r\s+(\S+)", stage, re.MULTILINE):
        if path not in copied_files:
            raise DockerfileError(f"{dockerfile}: pip installs {path}, which no COPY line puts in the image")
        requirements.append(copied_files[path])
    command = re.search(r"^CMD\s+(\[.*\])\s*$", stage, re.MULTILINE)
    handler = json.loads(command.group(1))[0] if command else None
    return ImageContents(tuple(requirements), copies, handler, tuple(source_builds))
