"""Every function's deployment package holds what its code imports: built as for Lambda, imported in isolation.

Builds are cached (.aws-sam/local/); the first run installs each function's requirements (the classifier's
includes TensorFlow, a few minutes) and later runs only check that nothing changed.
"""

import json
import subprocess
from pathlib import Path

import pytest

from infra.build.packages import Builder, ImageBuild
from infra.functions import LOCAL_ENV_VARS, FunctionSpec, function_specs
from infra.paths import REPO_ROOT
from infra.template import LocalNames, ResolvedTemplate, load_template

SHARED_CODE = REPO_ROOT / "functions" / "shared"  # the layer's own code, without what its requirements install

# Imports a package and every module in it; prints the failures as JSON. Runs under `python -I -S`, so nothing
# but the stdlib and the given paths is importable: no site-packages, no PYTHONPATH, not even the cwd.
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys, traceback
sys.path[:0] = json.loads(sys.argv[1])
failures = {}
for name in json.loads(sys.argv[2]):
    try:
        module = importlib.import_module(name)
        found = pkgutil.walk_packages(getattr(module, "__path__", []), name + ".")
        for info in found:
            try:
                importlib.import_module(info.name)
            except BaseException as error:
                failures[info.name] = f"{type(error).__name__}: {error}"
    except BaseException as error:
        failures[name] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
sys.exit(1 if failures else 0)
"""


def import_in_isolation(python: Path, paths: list[Path], modules: list[str], environment: dict[str, str]):
    """{module: error} for every module that fails to import from exactly `paths` (plus the stdlib)."""
    result = subprocess.run(
        [str(python), "-I", "-S", "-c", IMPORT_EVERYTHING, json.dumps([str(p) for p in paths]), json.dumps(modules)],
        capture_output=True,
        text=True,
        env={**environment, "PATH": "/usr/bin:/bin"},
        cwd="/",
        timeout=600,
    )
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"the import check itself failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="module")
def builder() -> Builder:
    return Builder(log=print)


@pytest.fixture(scope="module")
def specs() -> dict[str, FunctionSpec]:
    # With a webhook, so that its function (Condition HasWebhook) is packaged and checked too.
    template = ResolvedTemplate(
        load_template(), LocalNames(parameter_overrides={"WebhookUrl": "https://shop.example/photomod/events"})
    )
    return function_specs(template, {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})


def _package(spec: FunctionSpec) -> str:
    return spec.handler.split(".", 1)[0]


ZIP_FUNCTIONS = ["UploadFunction", "PredictFunction", "FeedbackFunction", "ReviewsFunction", "WebhookFunction"]


@pytest.mark.parametrize("function", ZIP_FUNCTIONS)
def test_a_zip_function_imports_from_its_own_package_and_the_layers_code(builder, specs, function):
    # The layer's *code* only: a function relying on a library the layer happens to install would break the
    # day the layer changes, so each package must declare what it imports itself.
    spec = specs[function]
    package_dir = builder.build_zip(function)

    failures = import_in_isolation(
        builder.python, [package_dir, SHARED_CODE, builder.runtime_dir()], [_package(spec)], spec.environment
    )

    assert failures == {}, f"{function}'s package lacks what these import (declare it in its requirements.txt)"


@pytest.mark.parametrize("function", ZIP_FUNCTIONS)
def test_a_zip_function_runs_from_its_package_and_layers_as_lambda_assembles_them(builder, specs, function):
    spec = specs[function]
    paths = [*builder.function_paths(function), builder.runtime_dir()]

    failures = import_in_isolation(builder.python, paths, [spec.handler.rsplit(".", 1)[0]], spec.environment)

    assert failures == {}


def test_the_shared_layer_imports_from_its_own_package(builder):
    failures = import_in_isolation(
        builder.python, [builder.build_zip("SharedLayer"), builder.runtime_dir()], ["photomod_shared"], {}
    )

    assert failures == {}, "the layer's requirements.txt lacks what these import"


@pytest.mark.parametrize("function", ["ClassifyFunction", "DeadLetterFunction"])
def test_an_image_function_imports_from_what_its_dockerfile_installs_and_copies(builder, specs, function):
    # Only the Dockerfile's `pip install -r` and `COPY ... ${LAMBDA_TASK_ROOT}` lines: what the image holds.
    metadata = load_template()["Resources"][function]["Metadata"]
    context = REPO_ROOT / metadata.get("DockerContext", ".")
    image = builder.build_image(context / metadata["Dockerfile"], context)
    spec = specs[function]
    # The image's weights come from a RUN line that downloads them (no internet here): untrained weights, as
    # the local host runs the classifier (infra/local/env-vars.json). The import of every module is what is checked.
    # The local host runs workers from the repository root, so its relative model paths are taken from there.
    local = json.loads(LOCAL_ENV_VARS.read_text())["ClassifyFunction"]
    local = {name: str(REPO_ROOT / value) if name.endswith("_PATH") else value for name, value in local.items()}
    # The classifier's converted model as the local host serves the image's /opt/ml/model (models/): classify.app
    # loads it at import, whichever of the image's functions the import check runs for.
    served = {name: specs["ClassifyFunction"].environment[name] for name in ("CLASSIFIER", "SERVED_MODEL_PATH")}
    # classify.app also reads the classify function's own settings at import (e.g. CLASSIFY_QUEUE_URL, where it
    # hands photos back): the dead-letter function's environment does not carry them.
    classify_settings = specs["ClassifyFunction"].environment
    environment = {**classify_settings, **spec.environment, **served, **local}

    failures = import_in_isolation(
        builder.python,
        [*image.paths, builder.runtime_dir()],
        [_package(spec), spec.handler.rsplit(".", 1)[0]],
        environment,
    )

    assert failures == {}, f"{metadata['Dockerfile']} does not install or copy what these import"


def test_the_check_fails_for_a_package_that_declares_too_little(builder, tmp_path):
    package = tmp_path / "thin" / "thin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text("import pydantic\n")  # declared nowhere: no requirements.txt at all

    failures = import_in_isolation(builder.python, [tmp_path / "thin", builder.runtime_dir()], ["thin"], {})

    assert failures == {"thin.app": "ModuleNotFoundError: No module named 'pydantic'"}


def test_the_image_build_reads_requirements_and_task_root_copies_from_the_dockerfile(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM public.ecr.aws/lambda/python:3.12\n"
        "COPY functions/classify/requirements.txt /tmp/requirements.txt\n"
        "RUN pip install --no-cache-dir -r /tmp/requirements.txt\n"
        "COPY functions/shared/photomod_shared ${LAMBDA_TASK_ROOT}/photomod_shared\n"
        'CMD ["classify.app.lambda_handler"]\n'
    )

    image = ImageBuild.from_dockerfile(dockerfile, REPO_ROOT)

    assert image.requirements == (REPO_ROOT / "functions/classify/requirements.txt",)
    assert image.copies == {REPO_ROOT / "functions/shared/photomod_shared": "photomod_shared"}


def test_the_image_build_reads_only_the_last_stage_of_a_multi_stage_dockerfile(tmp_path):
    # The build stage installs TensorFlow to convert the models; the function image (the last stage) must not.
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM public.ecr.aws/lambda/python:3.12 AS model\n"
        "COPY functions/classify/requirements-build.txt /tmp/requirements-build.txt\n"
        "RUN pip install --no-cache-dir -r /tmp/requirements-build.txt\n"
        "COPY functions/classify/model_build ${LAMBDA_TASK_ROOT}/model_build\n"
        "FROM public.ecr.aws/lambda/python:3.12\n"
        "COPY functions/classify/requirements.txt /tmp/requirements.txt\n"
        "RUN pip install --no-cache-dir -r /tmp/requirements.txt\n"
        "COPY --from=model /opt/ml/model /opt/ml/model\n"
        "COPY functions/classify/classify ${LAMBDA_TASK_ROOT}/classify\n"
        'CMD ["classify.app.lambda_handler"]\n'
    )

    image = ImageBuild.from_dockerfile(dockerfile, REPO_ROOT)

    assert image.requirements == (REPO_ROOT / "functions/classify/requirements.txt",)
    assert image.copies == {REPO_ROOT / "functions/classify/classify": "classify"}
