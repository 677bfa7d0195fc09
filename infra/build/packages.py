"""Builds every function the way its deployment package is built, so the local host runs what AWS would run.

- Zip functions and layers: `sam build <LogicalId>` (one --build-dir each) when SAM CLI and a real Python 3.12
  are present, otherwise `pip install --target` with Lambda's platform tags plus a copy of the code, which is
  what `sam build` does for `python3.12` (a layer's content goes under `python/`, as Lambda expects in /opt).
- The Lambda runtime itself: boto3 and its dependencies, the only modules a zip function gets for free.
- Container images: the `pip install -r` and `COPY ... ${LAMBDA_TASK_ROOT}/...` lines of the Dockerfile, without
  Docker (the Python contents of the image, which is what an import needs); what a stage builds from source
  (`pip wheel -r`: PyPI has no wheel of it) is built into wheels first, by the Lambda Python, and installed from them.

Each build is cached under .aws-sam/local/ and redone only when a file it is built from changes.

    python -m infra.build.packages            # what `make build` runs
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.dockerfile import DockerfileError, read_dockerfile
from infra.functions import FunctionSpec, PackagedRuntime
from infra.paths import REPO_ROOT
from infra.template import TEMPLATE_PATH, LocalNames, ResolvedTemplate, load_template

BUILD_ROOT = REPO_ROOT / ".aws-sam" / "local"
LAMBDA_PYTHON_VERSION = "3.12"
SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
STAMP = ".photomod-build.json"
_IGNORED = {"__pycache__", ".pytest_cache", ".mypy_cache"}

Log = Callable[[str], None]


class BuildError(RuntimeError):
    pass


def lambda_python() -> Path | None:
    """A real Python 3.12 interpreter (the Lambda runtime's version), or None if this machine has none.

    pyenv's shims are skipped: `sam build` rejects them, and they pick a version by directory.
    """
    explicit = os.environ.get("PHOTOMOD_LAMBDA_PYTHON")
    candidates = [explicit] if explicit else []
    on_path = shutil.which(f"python{LAMBDA_PYTHON_VERSION}")
    if on_path and "/shims/" not in on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(
        glob.glob(f"{pyenv_root}/versions/{LAMBDA_PYTHON_VERSION}.*/bin/python{LAMBDA_PYTHON_VERSION}")
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _digest(paths: Iterable[Path], extra: Any) -> str:
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if _IGNORED & set(path.parts):
                continue
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _up_to_date(build_dir: Path, digest: str) -> bool:
    try:
        return json.loads((build_dir / STAMP).read_text())["digest"] == digest
    except (OSError, ValueError, KeyError):
        return False


def _run(command: list[str], log: Log, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BuildError(f"{' '.join(command[:4])} ... failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


# The python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to 2_34 loads there
# (TensorFlow 2.21 ships only manylinux_2_27 ones). pip matches --platform tags exactly, so all are listed.
LAMBDA_PLATFORMS = ["manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 35))]


def _platform_flags(python_version: str) -> list[str]:
    """What the Lambda build images install: x86_64 manylinux wheels for one CPython version, never sdists."""
    platforms = [flag for platform in LAMBDA_PLATFORMS for flag in ("--platform", platform)]
    return [*platforms, "--only-binary=:all:", "--python-version", python_version]


def _pip_install(
    requirements: list[Path] | list[str], target: Path, log: Log, python_version: str, wheels: Path | None = None
) -> None:
    """Lambda's x86_64 wheels into `target`, whatever this machine's own Python is; `wheels`: a folder of wheels
    built here from source (tagged linux_x86_64, as `pip wheel` tags them) to install from as well."""
    specifiers: list[str] = []
    for requirement in requirements:
        specifiers += ["-r", str(requirement)] if isinstance(requirement, Path) else [requirement]
    if not specifiers:
        return
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    if wheels is not None:
        command += ["--find-links", str(wheels), "--platform", "linux_x86_64"]
    _run(
        [*command, "--target", str(target), *_platform_flags(python_version), "--implementation", "cp", *specifiers],
        log,
    )


def _copy_code(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_IGNORED, "*.pyc"))


@dataclass(frozen=True)
class ZipResource:
    """A zip function (`CodeUri`) or a layer (`ContentUri`) of the template."""

    logical_id: str
    source: Path
    is_layer: bool

    @property
    def build_dir(self) -> Path:
        return BUILD_ROOT / self.logical_id

    @property
    def package_dir(self) -> Path:
        """What Lambda puts on sys.path: /var/task for a function, /opt/python for a python layer."""
        return self.build_dir / "python" if self.is_layer else self.build_dir

    @property
    def requirements(self) -> Path:
        return self.source / "requirements.txt"


def zip_resources(template: dict[str, Any]) -> dict[str, ZipResource]:
    resources = {}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and properties.get("PackageType", "Zip") == "Zip":
            resources[logical_id] = ZipResource(logical_id, REPO_ROOT / properties["CodeUri"], is_layer=False)
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resources[logical_id] = ZipResource(logical_id, REPO_ROOT / properties["ContentUri"], is_layer=True)
    return resources


def function_layers(template: dict[str, Any], logical_id: str) -> list[str]:
    properties = template["Resources"][logical_id].get("Properties", {})
    layers = properties.get("Layers", template.get("Globals", {}).get("Function", {}).get("Layers", []))
    return [layer["Ref"] for layer in layers if isinstance(layer, dict) and "Ref" in layer]


class Builder:
    """Builds on demand, once per process and resource, and only when its inputs changed since the last build."""

    def __init__(self, log: Log = print, use_sam: bool | None = None):
        self.log = log
        found = lambda_python()
        # Without Python 3.12 the packages are built for, and run by, this interpreter: close, not the same.
        self.python = found or Path(sys.executable)
        self.python_version = LAMBDA_PYTHON_VERSION if found else f"{sys.version_info.major}.{sys.version_info.minor}"
        if not found:
            log(f"  no Python {LAMBDA_PYTHON_VERSION} here: packages are built for Python {self.python_version}")
        self.use_sam = (SAM.is_file() and found is not None) if use_sam is None else use_sam
        self._template = load_template()
        self._zip = zip_resources(self._template)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    # ---------------------------------------------------------------- zip functions and layers
    def build_zip(self, logical_id: str) -> Path:
        """Builds one zip function or layer; returns the directory Lambda would put on sys.path for it."""
        resource = self._zip[logical_id]
        method = "sam" if self.use_sam else "pip"
        digest = _digest(
            [resource.source], {"method": method, "python": self.python_version, "on": LAMBDA_PLATFORMS, "pyc": 1}
        )
        with self._lock(logical_id):
            if _up_to_date(resource.build_dir, digest):
                return resource.package_dir
            self.log(f"  building {logical_id} ({'sam build' if self.use_sam else 'pip install --target'})")
            shutil.rmtree(resource.build_dir, ignore_errors=True)
            if self.use_sam:
                self._sam_build(resource)
            else:
                resource.package_dir.mkdir(parents=True)
                if resource.requirements.is_file():
                    _pip_install([resource.requirements], resource.package_dir, self.log, self.python_version)
                _copy_code(resource.source, resource.package_dir)
            self._compile(resource.build_dir)
            (resource.build_dir / STAMP).write_text(json.dumps({"digest": digest, "method": method}))
        return resource.package_dir

    def _compile(self, directory: Path) -> None:
        """Bytecode for the interpreter that runs the package, so that concurrent cold starts do not each
        compile pydantic and Powertools (a deployment package may carry it too; Lambda cannot write it)."""
        _run([str(self.python), "-m", "compileall", "-q", "-j", "0", str(directory)], self.log)

    def _sam_build(self, resource: ZipResource) -> None:
        staging = BUILD_ROOT / ".sam" / resource.logical_id
        shutil.rmtree(staging, ignore_errors=True)
        environment = {
            **os.environ,
            "PATH": f"{self.python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "SAM_CLI_TELEMETRY": "0",
        }
        command = [str(SAM), "build", resource.logical_id, "--template-file", str(TEMPLATE_PATH)]
        command += ["--build-dir", str(staging), "--cache-dir", str(BUILD_ROOT / ".sam-cache"), "--cached"]
        _run(command, self.log, env=environment)
        built = staging / resource.logical_id
        if not built.is_dir():
            raise BuildError(f"sam build left no {built}")
        shutil.move(str(built), resource.build_dir)
        shutil.rmtree(staging, ignore_errors=True)

    def function_paths(self, logical_id: str) -> list[Path]:
        """sys.path of a zip function on Lambda: its package, then its layers in order (/opt/python)."""
        return [
            self.build_zip(logical_id),
            *(self.build_zip(layer) for layer in function_layers(self._template, logical_id)),
        ]

    def build_functions(self, logical_ids: Iterable[str]) -> dict[str, list[Path]]:
        """function_paths of several functions, built side by side (pip spends most of its time waiting)."""
        logical_ids = list(logical_ids)
        with ThreadPoolExecutor(max_workers=max(1, len(logical_ids))) as pool:
            return dict(zip(logical_ids, pool.map(self.function_paths, logical_ids), strict=True))

    # ---------------------------------------------------------------- the Lambda runtime's own modules
    def runtime_dir(self) -> Path:
        """boto3 and botocore (with their dependencies): what the python3.12 runtime provides, nothing else.

        The version is the one the local stack and the tests use, so both sides speak the same API models.
        """
        version = metadata.version("boto3")
        target = BUILD_ROOT / "runtime"
        digest = _digest([], {"boto3": version, "python": self.python_version, "pyc": 1})
        with self._lock("runtime"):
            if not _up_to_date(target, digest):
                self.log(f"  installing the Lambda runtime's boto3 {version}")
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                _pip_install([f"boto3=={version}"], target, self.log, self.python_version)
                self._compile(target)
                (target / STAMP).write_text(json.dumps({"digest": digest}))
        return target

    # ---------------------------------------------------------------- container images
    def build_image(self, dockerfile: Path, context: Path) -> "ImageBuild":
        """Two layers, as Docker caches them: pip's packages (the Dockerfile and requirements) and the copied code."""
        image = ImageBuild.from_dockerfile(dockerfile, context)
        platform = {"python": self.python_version, "on": LAMBDA_PLATFORMS}
        packages_digest = _digest([dockerfile, *image.requirements, *image.source_builds], platform)
        code_digest = _digest([dockerfile, *image.copies], platform)
        with self._lock(str(image.build_dir)):
            if not _up_to_date(image.packages, packages_digest):
                self.log(f"  installing the requirements of {dockerfile.relative_to(REPO_ROOT)} (no Docker)")
                shutil.rmtree(image.packages, ignore_errors=True)
                image.packages.mkdir(parents=True)
                wheels = self._source_wheels(image) if image.source_builds else None
                _pip_install(list(image.requirements), image.packages, self.log, self.python_version, wheels)
                (image.packages / STAMP).write_text(json.dumps({"digest": packages_digest}))
            if not _up_to_date(image.task_root, code_digest):
                shutil.rmtree(image.task_root, ignore_errors=True)
                image.task_root.mkdir(parents=True)
                for source, target in image.copies.items():
                    _copy_code(source, image.task_root / target)
                (image.task_root / STAMP).write_text(json.dumps({"digest": code_digest}))
        return image

    def _source_wheels(self, image: "ImageBuild") -> Path:
        """The image's source-only packages built into wheels by the Python the packages are for (as the
        Dockerfile's wheels stage does with Lambda's)."""
        wheels = image.build_dir / "wheels"
        shutil.rmtree(wheels, ignore_errors=True)
        self.log(f"  building wheels of {', '.join(path.name for path in image.source_builds)} from source")
        requirements = [argument for path in image.source_builds for argument in ("-r", str(path))]
        command = [str(self.python), "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
        _run([*command, "--wheel-dir", str(wheels), *requirements], self.log)
        return wheels


@dataclass(frozen=True)
class ImageBuild:
    """What a `FROM public.ecr.aws/lambda/python` image holds for Python: the task root and pip's packages."""

    build_dir: Path
    requirements: tuple[Path, ...]
    copies: dict[Path, str]  # source (in the build context) -> path under ${LAMBDA_TASK_ROOT}
    source_builds: tuple[Path, ...] = ()  # requirements a stage builds into wheels from source

    @property
    def task_root(self) -> Path:
        return self.build_dir / "task"

    @property
    def packages(self) -> Path:
        return self.build_dir / "packages"

    @property
    def paths(self) -> list[Path]:
        return [self.task_root, self.packages]

    @classmethod
    def from_dockerfile(cls, dockerfile: Path, context: Path) -> "ImageBuild":
        try:
            image = read_dockerfile(dockerfile, context)
        except DockerfileError as error:
            raise BuildError(str(error)) from None
        where = dockerfile.resolve()
        name = where.relative_to(REPO_ROOT).as_posix() if where.is_relative_to(REPO_ROOT) else str(where)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        return cls(BUILD_ROOT / f"image-{name}", image.requirements, image.copies, image.source_builds)


def build_all(log: Log = print, images: bool = False) -> Builder:
    builder = Builder(log)
    builder.runtime_dir()
    functions = [logical_id for logical_id, resource in builder._zip.items() if not resource.is_layer]
    builder.build_functions(functions)
    if images:
        template = ResolvedTemplate(builder._template, LocalNames())
        for resource in template.resources_of_type("AWS::Serverless::Function").values():
            metadata_ = resource.get("Metadata", {})
            if resource["Properties"].get("PackageType") == "Image":
                context = REPO_ROOT / metadata_.get("DockerContext", ".")
                builder.build_image(context / metadata_["Dockerfile"], context)
    return builder


def package_functions(specs: dict[str, FunctionSpec], log: Log = print) -> None:
    """Builds every zip function (cached) and points its spec at the built package, as Lambda would run it."""
    builder = Builder(log)
    runtime = builder.runtime_dir()
    packages = builder.build_functions(id_ for id_, spec in specs.items() if spec.package_type == "Zip")
    for logical_id, paths in packages.items():
        specs[logical_id].runtime = PackagedRuntime(
            python=str(builder.python), paths=[str(path) for path in [*paths, runtime]]
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.build.packages", description=__doc__.splitlines()[0])
    parser.add_argument("--images", action="store_true", help="also the container images' Python contents (large)")
    options = parser.parse_args(argv)
    builder = build_all(images=options.images)
    how = "sam build" if builder.use_sam else "pip install --target (no SAM CLI or Python 3.12 here)"
    print(f"functions built under {BUILD_ROOT.relative_to(REPO_ROOT)} with {how}")


if __name__ == "__main__":
    main()
