"""docs/integrations.md's copy-paste examples: the webhook receiver verifies what the webhook function signs (and
refuses a wrong secret, a changed body, a replay), and every Python example is valid Python."""

import base64
import json
import re
import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from infra.paths import REPO_ROOT
from webhook.delivery import deliver
from webhook.signing import signing_key

DOC = (REPO_ROOT / "docs" / "integrations.md").read_text()
SECRET = "whsec_" + base64.b64encode(b"the shop's 33-byte webhook key!!!").decode()
EVENT = {"detail-type": "Photo Judged", "source": "photomod", "detail": {"event_id": "e-1", "verdict": "block"}}


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)


@pytest.fixture(scope="module")
def verified_event() -> Any:
    block = re.search(r"<!-- webhook-receiver.*?-->\n```python\n(.*?)```", DOC, flags=re.DOTALL)
    assert block, "docs/integrations.md has no webhook receiver example"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/integrations.md", "exec"), namespace)  # noqa: S102 (our own docs)
    return namespace["verified_event"]


class Recorder:
    def post(self, body: bytes, headers: dict[str, str]) -> int:
        self.body, self.headers = body, headers
        return 204


def signed(signed_at: int | None = None) -> Recorder:
    recorder = Recorder()
    deliver(json.dumps(EVENT), recorder, signing_key(SECRET), signed_at or int(time.time()))
    return recorder


def test_the_documented_receiver_accepts_what_the_webhook_function_signs(verified_event):
    delivery = signed()

    assert verified_event(delivery.body, delivery.headers, SECRET) == EVENT
    # and the scheme's reference library agrees with both
    assert Webhook(SECRET).verify(delivery.body, delivery.headers) == EVENT


def test_the_documented_receiver_refuses_a_wrong_secret_a_changed_body_and_a_replay(verified_event):
    delivery = signed()
    other = "whsec_" + base64.b64encode(b"someone else's key, 32 bytes!!!").decode()

    with pytest.raises(ValueError, match="signature"):
        verified_event(delivery.body, delivery.headers, other)
    with pytest.raises(ValueError, match="signature"):
        verified_event(delivery.body.replace(b"block", b"allow"), delivery.headers, SECRET)
    old = signed(int(time.time()) - 3600)
    with pytest.raises(ValueError, match="too old"):
        verified_event(old.body, old.headers, SECRET)
    with pytest.raises(ValueError):
        verified_event(delivery.body, {}, SECRET)


def test_every_python_example_in_the_integration_docs_is_valid_python():
    blocks = python_blocks()

    assert len(blocks) >= 3  # Rekognition's client, the webhook receiver, polling the REST API
    for block in blocks:
        compile(block, "docs/integrations.md", "exec")
