"""Each HTTP function's one table of domain errors and HTTP statuses: every error its domain raises has a status,
and the statuses are the API's documented ones."""

import ast
import importlib
import sys
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from photomod_shared import errors
from photomod_shared.api import create_resolver, status_of

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
SHARED = FUNCTIONS / "shared" / "photomod_shared"
ENVIRONMENT = {
    "IMAGES_BUCKET": "images",
    "PREDICTIONS_TABLE": "predictions",
    "FEEDBACK_TABLE": "feedback",
    "REPORT_LIMITS_TABLE": "report-limits",
    "WEB_ORIGIN": "http://localhost:8000",
    "STAFF_GROUP": "moderators",
    "EXPORT_GROUP": "analysts",
    "PHOTO_BANK_TABLE": "photo-bank",
}


@pytest.fixture
def app_of(monkeypatch):
    """Imports a function's app module with the settings it needs (importing it makes no AWS clients)."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)

    def load(package: str) -> ModuleType:
        saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] == package}
        for name in saved:
            del sys.modules[name]
        module = importlib.import_module(f"{package}.app")
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]
        sys.modules.update(saved)
        return module

    return load


def raised_errors(paths: list[Path]) -> set[type[errors.DomainError]]:
    """The domain error classes `raise`d by name in these modules."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                kind = getattr(errors, node.exc.func.id, None)
                if isinstance(kind, type) and issubclass(kind, errors.DomainError):
                    found.add(kind)
    return found


@pytest.mark.parametrize("package", ["upload", "reviews", "feedback"])
def test_every_domain_error_a_function_raises_has_a_status(app_of, package):
    modules = [*(FUNCTIONS / package / package).glob("*.py"), SHARED / "prediction.py", SHARED / "cursors.py"]
    table = app_of(package).ERROR_STATUSES

    missing = [kind.__name__ for kind in raised_errors(modules) if status_of(kind("x"), table) is None]

    assert raised_errors(modules) and missing == []


@pytest.mark.parametrize(
    ("package", "error", "status"),
    [
        ("upload", errors.InvalidInput, 400),
        ("upload", errors.UploadTooLarge, 400),  # a presigned upload's declared size
        ("upload", errors.UnsupportedMediaType, 400),
        ("upload", errors.MissingFile, 400),
        ("upload", errors.MalformedRequest, 400),
        ("upload", errors.FileTooLarge, 413),  # a /predict body
        ("upload", errors.ImageNotFound, 404),
        ("upload", errors.ImageBlocked, 403),
        ("upload", errors.ImageInReview, 403),
        ("upload", errors.ImagePending, 409),
        ("upload", errors.ImageFailed, 409),
        ("upload", errors.ImageUnverified, 409),
        ("reviews", errors.InvalidCursor, 400),
        ("reviews", errors.ImageNotFound, 404),
        ("reviews", errors.NotInReview, 409),
        ("reviews", errors.VersionChanged, 409),
        ("feedback", errors.InvalidCursor, 400),
        ("feedback", errors.ImageNotFound, 404),
    ],
)
def test_the_statuses_are_the_documented_ones(app_of, package, error, status):
    assert status_of(error("x"), app_of(package).ERROR_STATUSES) == HTTPStatus(status)


def call(app: Any, method: str, path: str) -> dict:
    event = {"resource": path, "path": path, "httpMethod": method, "headers": {}, "requestContext": {"stage": "v1"}}
    return app.resolve(event, None)


def forgotten() -> dict:
    """A route raising a domain error its function's table does not list."""
    raise errors.VersionChanged("not in the table")


def test_a_domain_error_without_a_status_is_an_internal_error_not_a_guess():
    app = create_resolver("http://localhost:8000", {errors.ImageNotFound: HTTPStatus.NOT_FOUND})

    @app.get("/missing")
    def missing() -> dict:
        raise errors.ImageNotFound("no such image")

    app.get("/forgotten")(forgotten)

    assert call(app, "GET", "/missing")["statusCode"] == 404
    assert '"image_not_found"' in call(app, "GET", "/missing")["body"]
    assert call(app, "GET", "/forgotten")["statusCode"] == 500
    assert '"internal_error"' in call(app, "GET", "/forgotten")["body"]


def test_a_function_with_another_contract_shapes_its_domain_errors_on_the_one_path():
    """POST /predict's body is the original service's: the shared handler gives the status, the function the body;
    an error missing from its table is still the shared internal error."""
    from aws_lambda_powertools.event_handler import Response, content_types

    def original_body(status: HTTPStatus, error: errors.DomainError) -> Response:
        body = {"success": False, "prediction": None, "score": None}
        return Response(status.value, content_types.APPLICATION_JSON, body, headers={"X-Error-Code": error.code})

    app = create_resolver(
        "http://localhost:8000", {errors.MissingFile: HTTPStatus.BAD_REQUEST}, answer_domain_error=original_body
    )

    @app.post("/predict")
    def predict() -> dict:
        raise errors.MissingFile("no file")

    app.get("/forgotten")(forgotten)

    refused = call(app, "POST", "/predict")
    assert (refused["statusCode"], refused["body"]) == (400, '{"success":false,"prediction":null,"score":null}')
    assert refused["multiValueHeaders"]["X-Error-Code"] == ["missing_file"]
    assert call(app, "GET", "/forgotten")["statusCode"] == 500
