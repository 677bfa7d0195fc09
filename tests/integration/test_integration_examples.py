"""docs/integrations.md's REST API example, copied as a shop would copy it, against the stack under test: it uploads
a photo and polls until its verdict is final."""

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.paths import REPO_ROOT
from tests.integration.helpers import DOG_PHOTO

pytestmark = pytest.mark.integration

DOC = (REPO_ROOT / "docs" / "integrations.md").read_text()


def polling_example() -> str:
    section = DOC[DOC.index("## 3. The REST API, polling") :]
    block = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert block, "section 3 of docs/integrations.md has no Python example"
    return block.group(1)


def test_the_documented_polling_example_uploads_a_photo_and_reads_its_final_verdict(local_stack, tmp_path: Path):
    example = polling_example()
    assert 'API_URL = "http://127.0.0.1:3000/v1"' in example  # the line a shop edits; here, this stack's URL
    example = example.replace('"http://127.0.0.1:3000/v1"', repr(local_stack.api_url))
    shutil.copyfile(DOG_PHOTO, tmp_path / "photo.jpg")
    namespace: dict[str, Any] = {}

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(example, "docs/integrations.md", "exec"), namespace)  # noqa: S102 (our own docs)
    finally:
        os.chdir(cwd)

    result = namespace["result"]
    assert result["status"] == "done" and result["verdict"] in ("allow", "review", "block")
    assert result["image_id"] == namespace["upload"]["image_id"] and result["policy_version"]
