"""A shop's own policy, put with `make policy`: it judges the next photos within the cache time, is recorded with
each verdict, an invalid one is refused with the reason, and a bad document in the parameter never stops
classification. The stack under test reads the parameter every PolicyCacheSeconds (2 s, conftest.py)."""

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.paths import REPO_ROOT
from tests.integration.helpers import DOG_PHOTO, unique, upload_photo, wait_for_final

pytestmark = [pytest.mark.integration, pytest.mark.local_only("puts the policy through the local stack's outputs")]

BUILTIN = json.loads((REPO_ROOT / "functions/classify/classify/moderation_policy.json").read_text())
# Classification (about a second) plus the cache time, with room for a loaded machine.
TAKES_EFFECT_WITHIN_S = 45


def make_policy(stack, path: Path, *extra: str) -> subprocess.CompletedProcess:
    """What `make policy FILE=...` runs, against this stack's outputs."""
    command = [sys.executable, "-m", "tools", "policy", str(path), "--run-dir", str(stack.run_dir), *extra]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)


def blocking_everything(version: str) -> dict:
    """The built-in policy plus a category the safety model's `neutral` and `drawing` trigger on every photo."""
    document = copy.deepcopy(BUILTIN)
    document["version"] = version
    document["categories"]["shop_closed"] = {
        "description": "the shop blocks every photo while it is closed",
        "action": "block",
        "threshold": 0.000001,
        "safety_classes": [{"class": "neutral"}, {"class": "drawing"}],
    }
    return document


def judged_until(stack, accept, what: str) -> dict:
    """Uploads the dog photo until its result satisfies `accept` (the policy is read again every few seconds)."""
    deadline = time.monotonic() + TAKES_EFFECT_WITHIN_S
    while True:
        result = wait_for_final(stack, upload_photo(stack, DOG_PHOTO.read_bytes(), "dog.jpeg")["image_id"])
        if accept(result) or time.monotonic() > deadline:
            assert accept(result), f"{what} within {TAKES_EFFECT_WITHIN_S} s; last result {result}"
            return result


@pytest.fixture
def ssm_parameter(local_stack):
    name = local_stack.output("PolicyParameterName")
    ssm = local_stack.client("ssm")
    yield ssm, name
    # Back to the built-in policy for the tests that follow, and wait until it judges again.
    make_policy(local_stack, Path("-"), "--remove")
    judged_until(local_stack, lambda r: r["policy_version"] == BUILTIN["version"], "the built-in policy is back")


def test_a_policy_put_with_make_policy_judges_the_next_photos_and_is_recorded(local_stack, ssm_parameter, tmp_path):
    version = unique("shop")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(blocking_everything(version), indent=2))

    put = make_policy(local_stack, path)

    assert put.returncode == 0, put.stderr
    assert version in put.stdout
    result = judged_until(local_stack, lambda r: r["policy_version"] == version, f"policy {version} judges")
    if result["safety"] is None:
        pytest.skip("the local stack runs without the safety model (make models): the new category reads its classes")
    assert result["verdict"] == "block"
    assert "shop_closed" in {reason["category"] for reason in result["verdict_reasons"]}


def test_an_invalid_policy_is_refused_with_the_reason_and_nothing_is_put(local_stack, ssm_parameter, tmp_path):
    ssm, name = ssm_parameter
    document = copy.deepcopy(BUILTIN)
    document["version"] = unique("bad")
    document["categories"]["weapons"]["classes"].append({"wnid": "n04086273", "label": "pistol"})
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))

    put = make_policy(local_stack, path)

    assert put.returncode == 1
    assert "label 'pistol' does not match n04086273, which is 'revolver'" in put.stderr
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=name)


def test_a_version_already_put_with_other_content_is_refused(local_stack, ssm_parameter, tmp_path):
    version = unique("shop")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(blocking_everything(version)))
    assert make_policy(local_stack, path).returncode == 0
    changed = blocking_everything(version)
    changed["categories"]["shop_closed"]["action"] = "review"
    path.write_text(json.dumps(changed))

    again = make_policy(local_stack, path)

    assert again.returncode == 1 and "new version" in again.stderr


def test_a_bad_document_in_the_parameter_never_stops_classification(local_stack, ssm_parameter, tmp_path):
    # Given a shop's policy in force
    ssm, name = ssm_parameter
    version = unique("shop")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(blocking_everything(version)))
    assert make_policy(local_stack, path).returncode == 0
    judged_until(local_stack, lambda r: r["policy_version"] == version, f"policy {version} judges")

    # When a document nobody validated replaces it (put around `make policy`)
    ssm.put_parameter(Name=name, Value='{"version": "broken", "categories": ', Type="String", Overwrite=True)

    # Then every photo is still classified, by the last good policy, also once the broken one has been read
    cache_s = float(local_stack.parameters["PolicyCacheSeconds"])
    put_at, results = time.monotonic(), []
    while time.monotonic() - put_at < 2 * cache_s + 1:
        results.append(
            wait_for_final(local_stack, upload_photo(local_stack, DOG_PHOTO.read_bytes(), "d.jpeg")["image_id"])
        )
    assert [(r["status"], r["policy_version"]) for r in results] == [("done", version)] * len(results)
