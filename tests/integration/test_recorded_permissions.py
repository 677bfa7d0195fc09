"""Every AWS call the functions made during this test session is allowed by their roles in template.yaml.

The local host records each call (infra/local/worker.py); IAM's evaluation logic (@cloud-copilot/iam-simulate)
judges it against the function's policies after the SAM transform. Neither emulator enforces IAM, so this is
where a missing statement shows up before AWS answers AccessDenied.
"""

import warnings

import pytest

from infra.checks.permissions import check_calls, function_policies, read_calls, stack_resource_arns
from tests.integration.conftest import BACKEND
from tests.integration.helpers import get_prediction

pytestmark = [
    pytest.mark.integration,
    pytest.mark.runs_last,
    pytest.mark.local_only("reads the calls the local host recorded"),
    pytest.mark.skipif(
        BACKEND != "moto", reason="runs once, in the moto pass: the recorded ARNs use the emulator's account id"
    ),
]


def test_every_recorded_aws_call_is_allowed_by_the_calling_functions_policy(local_stack) -> None:
    # At least one call even when this test runs alone: the look-up of a photo nobody uploaded.
    assert get_prediction(local_stack, "0" * 32).status_code == 404
    calls = read_calls(local_stack.run_dir / "logs" / "calls")
    names = local_stack.template.names

    report = check_calls(calls, function_policies(names), names, stack_resource_arns(names))

    print(report.describe())
    # Least privilege: a statement nothing needed during the run is worth a look, not a failure (a partial run
    # records fewer calls).
    for function, sids in report.unused.items():
        warnings.warn(f"{function}: no recorded call needed {', '.join(sids)}", stacklevel=1)
    assert report.denied == [], report.describe()
    assert calls.get("UploadFunction"), "the session recorded no call of the upload function: is recording on?"
