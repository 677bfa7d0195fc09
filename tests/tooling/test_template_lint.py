"""template.yaml passes both linters: cfn-lint and `sam validate --lint` (what `make lint` runs)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.paths import REPO_ROOT
from infra.template import TEMPLATE_PATH

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"


def test_cfn_lint_passes():
    result = subprocess.run(
        [str(CFN_LINT), str(TEMPLATE_PATH)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not SAM.is_file(), reason="aws-sam-cli not installed in .venv-sam (run `make sam`)")
def test_sam_validate_lint_passes():
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--region", "us-east-1", "--template-file", str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
