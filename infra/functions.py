"""The template's functions as the local host runs them: code, handler, environment, limits, events."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.dockerfile import DockerfileError, read_dockerfile
from infra.paths import REPO_ROOT
from infra.template import ResolvedTemplate

# Per-function environment overrides for local runs, in the shape of `sam local invoke --env-vars` (samconfig.toml
# names it too): the classifier's model paths and its permission to run untrained.
LOCAL_ENV_VARS = Path(__file__).with_name("local") / "env-vars.json"
# The classify image carries its converted models in /opt/ml/model (the Dockerfile's build stage); the local host
# serves the same files from models/, where `make model` and `make models` convert them.
IMAGE_MODEL_DIR = "/opt/ml/model/"
LOCAL_MODEL_DIR = REPO_ROOT / "models"
# What the host and the functions sign their calls to a local emulator with (it accepts any).
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

# What the Lambda service itself sets in every execution environment (the ones handlers may read).
LAMBDA_ENVIRONMENT = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")


@dataclass(frozen=True)
class PackagedRuntime:
    """How a built zip function runs: Lambda's interpreter with sys.path = its package, its layers, boto3."""

    python: str
    paths: list[str]


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_paths: list[str]
    environment: dict[str, str]
    timeout: int
    memory_mb: int
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    package_type: str = "Zip"
    # ReservedConcurrentExecutions: at most this many environments at once (None: the host's default).
    reserved_concurrency: int | None = None
    # Set once the function is built (infra.build.packages): then it runs from its package, never from .venv.
    runtime: PackagedRuntime | None = None


def _image_code(properties: dict[str, Any], metadata: dict[str, Any]) -> tuple[list[str], str]:
    """The source folders an image copies into LAMBDA_TASK_ROOT, and its handler (ImageConfig's, else its CMD)."""
    context = REPO_ROOT / metadata.get("DockerContext", ".")
    dockerfile = context / metadata["Dockerfile"]
    image = read_dockerfile(dockerfile, context)
    command = properties.get("ImageConfig", {}).get("Command")
    handler = command[0] if command else image.handler
    if not handler:
        raise DockerfileError(f'{dockerfile} has no CMD ["module.handler"]')
    return [str(path) for path in image.code_paths], handler


def _zip_code(properties: dict[str, Any], template: ResolvedTemplate) -> list[str]:
    paths = [str((REPO_ROOT / properties["CodeUri"]).resolve())]
    for layer in properties.get("Layers", []):
        logical_id = layer.get("Ref") if isinstance(layer, dict) else None
        if logical_id and logical_id in template.resources:
            paths.append(str((REPO_ROOT / template.resources[logical_id]["Properties"]["ContentUri"]).resolve()))
    return paths


def local_model_path(value: str) -> str:
    """An image's model path as the local host serves it (models/); any other value unchanged."""
    if value.startswith(IMAGE_MODEL_DIR):
        return str(LOCAL_MODEL_DIR / value.removeprefix(IMAGE_MODEL_DIR))
    return value


def function_specs(
    template: ResolvedTemplate, base_environment: dict[str, str], overrides: dict[str, dict[str, str]] | None = None
) -> dict[str, FunctionSpec]:
    """`overrides` has the shape of `sam local invoke --env-vars`: {LogicalId: {NAME: value}}."""
    globals_ = template.template.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        properties = {**globals_, **resource["Properties"]}
        properties["Environment"] = {
            "Variables": {
                **globals_.get("Environment", {}).get("Variables", {}),
                **resource["Properties"].get("Environment", {}).get("Variables", {}),
            }
        }
        if properties.get("PackageType") == "Image":
            code_paths, handler = _image_code(properties, resource.get("Metadata", {}))
        else:
            code_paths, handler = _zip_code(properties, template), properties["Handler"]
        name = template.physical_name(logical_id)
        memory = int(template.resolve(properties.get("MemorySize", 128)))
        environment = {
            key: str(value) for key, value in template.resolve(properties["Environment"]["Variables"]).items()
        }
        if properties.get("PackageType") == "Image":
            environment = {key: local_model_path(value) for key, value in environment.items()}
        environment.update((overrides or {}).get(logical_id, {}))
        environment.update(
            {
                **base_environment,
                "AWS_REGION": template.names.region,
                "AWS_DEFAULT_REGION": template.names.region,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            }
        )
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=template.arn(logical_id),
            handler=handler,
            code_paths=code_paths,
            environment=environment,
            timeout=int(template.resolve(properties.get("Timeout", 3))),
            memory_mb=memory,
            events=properties.get("Events", {}),
            package_type=properties.get("PackageType", "Zip"),
            reserved_concurrency=(
                int(template.resolve(properties["ReservedConcurrentExecutions"]))
                if "ReservedConcurrentExecutions" in properties
                else None
            ),
        )
    return specs
