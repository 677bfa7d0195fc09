"""docs/guarantees.md (What the service guarantees) names the tests that back each guarantee: every name must be a real
test (or test file) under tests/, so a renamed or deleted test cannot leave a guarantee unbacked."""

import re
from pathlib import Path

from infra.paths import REPO_ROOT

TESTS = REPO_ROOT / "tests"
# `unit/test_x.py`, `unit/test_x.py::test_y` or a bare `test_y` (in the last file named before it, or anywhere).
REFERENCE = re.compile(
    r"`(?:((?:unit|process|tooling|component|integration|packaging)/test_\w+\.py)(?:::(test_\w+))?|(test_\w+))`"
)


GUARANTEES = REPO_ROOT / "docs" / "guarantees.md"


def guarantees_section() -> str:
    return GUARANTEES.read_text()


def defines(path: Path, test_name: str) -> bool:
    return re.search(rf"^(?:async )?def {test_name}\(", path.read_text(), re.MULTILINE) is not None


def test_every_test_the_guarantees_name_exists() -> None:
    section = guarantees_section()
    named = REFERENCE.findall(section)
    assert len(named) >= 10, "the section names too few tests to back its guarantees"
    missing = []
    last_file: Path | None = None
    for file_name, test_name, bare_name in named:
        if file_name:
            last_file = TESTS / file_name
            if not last_file.is_file():
                missing.append(file_name)
            elif test_name and not defines(last_file, test_name):
                missing.append(f"{file_name}::{test_name}")
            continue
        in_last_file = last_file is not None and last_file.is_file() and defines(last_file, bare_name)
        if not in_last_file and not any(defines(path, bare_name) for path in TESTS.rglob("test_*.py")):
            missing.append(bare_name)
    assert missing == [], f"docs/guarantees.md names tests that do not exist: {missing}"
