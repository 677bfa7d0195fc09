"""web/messages.js's reasonText, run in Node as the pages run it: a check's reasons read as words, and a check that
failed says so instead of claiming what it would have found."""

import json
import shutil
import subprocess

import pytest

from infra.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (node) to run web/messages.js")


def reason_text(reason: dict) -> str:
    script = (
        "global.window = {};"  # the pages load formats.js first, then messages.js
        f"require({json.dumps(str(REPO_ROOT / 'web' / 'formats.js'))});"
        f"require({json.dumps(str(REPO_ROOT / 'web' / 'messages.js'))});"
        f"process.stdout.write(window.PHOTOMOD_MESSAGES.reasonText({json.dumps(reason)}));"
    )
    return subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout


def test_a_faces_reason_reads_as_words_with_its_confidence():
    reason = {"category": "faces", "action": "review", "label": "face", "score": 0.83, "rule": "faces_found"}

    assert reason_text(reason) == "Shows a person's face (face, 83%)"


def test_a_failed_check_says_it_failed_rather_than_what_it_looks_for():
    reason = {"category": "faces", "action": "review", "rule": "check_failed"}

    assert reason_text(reason) == "The faces check could not run: a person decides"
