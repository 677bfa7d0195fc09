"""The functions' layers: domain modules are plain Python, and only the modules at the door speak AWS or HTTP.

A module may import Powertools, pydantic, boto3/botocore or the shared HTTP module (`photomod_shared.api`)
only if it is a handler module (it defines `lambda_handler`), a function's HTTP models (`models.py`,
`responses.py`) or routes (`routes/`), an adapter (`storage.py`; classify's `telemetry.py`, Powertools' tracer and
metrics, and its `notifications.py`, Powertools' S3 event classes), its settings (`settings.py`, pydantic-settings)
and their wiring to the adapters (`wiring.py`) or, in the shared package, a module whose name (or subpackage's, e.g.
`tables/`) says it is the HTTP module, a table/store adapter, the settings base or the client factory. Everything
else is domain code, which also never imports those modules of its own function; the one exception is the shared
record schema (`photomod_shared.prediction`), written in pydantic (a schema library, neither AWS nor HTTP).
"""

import ast
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
FORBIDDEN_LIBRARIES = ("aws_lambda_powertools", "pydantic", "boto3", "botocore", "photomod_shared.api")
DOOR_MODULES = frozenset({"app", "models", "notifications", "responses", "storage", "telemetry", "settings", "wiring"})
SHARED_DOOR_WORDS = ("http", "api", "table", "store", "settings", "clients")
# pydantic is the schema library, neither AWS nor HTTP: the one typed record (a prediction and its parts) is written in
# it in the shared package, and every other domain module takes those types from there.
SCHEMA_MODULES = {"shared/photomod_shared/prediction.py": ("pydantic",)}


def python_modules(functions: Path) -> list[Path]:
    """Every module of every function's package, its subpackages' included."""
    return sorted(path for path in functions.glob("*/*/**/*.py") if "__pycache__" not in path.parts)


def module_name(functions: Path, path: Path) -> str:
    """`functions/shared/photomod_shared/tables/intake.py` -> `photomod_shared.tables.intake`."""
    parts = path.relative_to(functions).with_suffix("").parts[1:]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_door(functions: Path, path: Path, tree: ast.Module) -> bool:
    shared = path.relative_to(functions).parts[1] == "photomod_shared"
    if shared:
        return any(word in module_name(functions, path) for word in SHARED_DOOR_WORDS)
    defines_handler = any(isinstance(node, ast.FunctionDef) and node.name == "lambda_handler" for node in tree.body)
    settings = path.stem.endswith("_settings")  # e.g. classify's dead_letter_settings.py
    return defines_handler or path.stem in DOOR_MODULES or settings or path.parent.name == "routes"


def layering_violations(functions: Path) -> list[str]:
    """`module: imported name` for each import a domain module may not make."""
    trees = {path: ast.parse(path.read_text(), filename=str(path)) for path in python_modules(functions)}
    doors = {path for path, tree in trees.items() if is_door(functions, path, tree)}
    violations = []
    for path, tree in trees.items():
        if path in doors:
            continue
        package = path.relative_to(functions).parts[:2]
        own_doors = tuple(
            sorted(module_name(functions, door) for door in doors if door.relative_to(functions).parts[:2] == package)
        )
        names = imported_names(tree)
        allowed = SCHEMA_MODULES.get(str(path.relative_to(functions)), ())
        for banned in [name for name in FORBIDDEN_LIBRARIES if name not in allowed] + list(own_doors):
            if any(name == banned or name.startswith(banned + ".") for name in names):
                violations.append(f"{path.relative_to(functions)}: {banned}")
    return violations


def test_domain_modules_import_neither_aws_nor_http():
    assert layering_violations(FUNCTIONS) == []


def test_the_rule_sees_every_function_package():
    packages = {path.parent.name for path in python_modules(FUNCTIONS)}
    assert {"upload", "classify", "feedback", "reviews", "reconcile", "photomod_shared"} <= packages


@pytest.mark.parametrize(
    ("source", "banned"),
    [
        ("import boto3\n", "boto3"),
        ("from aws_lambda_powertools import Logger\n", "aws_lambda_powertools"),
        ("from pydantic import BaseModel\n", "pydantic"),
        ("from photomod_shared import api\n", "photomod_shared.api"),
        ("from photomod_shared.api import create_resolver\n", "photomod_shared.api"),
        ("def later():\n    from botocore.exceptions import ClientError\n", "botocore"),
        ("from upload.models import UploadRequest\n", "upload.models"),
    ],
)
def test_a_domain_module_that_imports_the_door_is_caught(tmp_path: Path, source: str, banned: str):
    package = tmp_path / "upload" / "upload"
    package.mkdir(parents=True)
    (package / "models.py").write_text("from pydantic import BaseModel\n")  # a door: may
    (package / "app.py").write_text("import boto3\n\ndef lambda_handler(event, context): ...\n")  # a door: may
    (package / "service.py").write_text(source)
    violations = layering_violations(tmp_path)
    assert violations == [f"upload/upload/service.py: {banned}"]


def test_the_shared_table_adapters_are_doors_and_a_shared_domain_module_may_not_import_them(tmp_path: Path):
    shared = tmp_path / "shared" / "photomod_shared"
    (shared / "tables").mkdir(parents=True)
    (shared / "tables" / "__init__.py").write_text("from photomod_shared.tables.outcomes import OutcomeTable\n")
    (shared / "tables" / "outcomes.py").write_text("import boto3\n")  # an adapter: may
    (shared / "ids.py").write_text("from photomod_shared.tables.outcomes import OutcomeTable\n")
    (shared / "clock.py").write_text("from photomod_shared import tables\n")

    assert layering_violations(tmp_path) == [
        "shared/photomod_shared/clock.py: photomod_shared.tables",
        "shared/photomod_shared/ids.py: photomod_shared.tables",
        "shared/photomod_shared/ids.py: photomod_shared.tables.outcomes",
    ]
