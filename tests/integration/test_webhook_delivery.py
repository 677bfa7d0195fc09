"""The shop's signed webhook (WebhookUrl), end to end on a local stack of its own: a receiver on loopback gets each
verdict event of an upload's outcome, verifies it with the stack's secret (Standard Webhooks' reference library),
a wrong secret fails verification, a receiver that answers 500 gets the same event again, and every AWS call the
stack made is allowed by the template's policies."""

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from infra.checks.permissions import (
    IAM_TOOLS,
    SAM_PYTHON,
    check_calls,
    function_policies,
    read_calls,
    stack_resource_arns,
)
from tests.integration.conftest import DEPLOYED_STACK, StackUnderTest, launch_stack, stop_stack
from tests.integration.helpers import DOG_PHOTO, post_to_s3, presign_upload, upload_photo, wait_for_final
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(DEPLOYED_STACK), reason="needs a receiver the stack can reach: a local stack's loopback"),
]

# The fewest seconds the template allows before a refused delivery is tried again.
RETRY_SECONDS = 10
DELIVERY_TIMEOUT_S = 60


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class LoopbackReceiver:
    """The shop's webhook endpoint: records every delivery and answers 500 to the image ids in `refuse_once`."""

    deliveries: list[Delivery] = field(default_factory=list)
    refuse_once: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: bytes, headers: dict[str, str]) -> int:
        image_id = json.loads(body).get("detail", {}).get("image_id")
        with self.lock:
            status = 500 if image_id in self.refuse_once else 204
            self.refuse_once.discard(image_id)
            self.deliveries.append(Delivery(body, headers, status))
        return status

    def of(self, image_id: str, detail_type: str) -> list[Delivery]:
        with self.lock:
            return [
                d
                for d in self.deliveries
                if d.event["detail"]["image_id"] == image_id and d.event["detail-type"] == detail_type
            ]

    def wait_for(self, image_id: str, detail_type: str, count: int = 1) -> list[Delivery]:
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while len(self.of(image_id, detail_type)) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        found = self.of(image_id, detail_type)
        assert len(found) >= count, f"{detail_type} deliveries for {image_id}: {found} (all: {self.deliveries})"
        return found


def serve(receiver: LoopbackReceiver, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status = receiver.answer(body, {key.lower(): value for key, value in self.headers.items()})
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="webhook-receiver").start()
    return server


@pytest.fixture(scope="module")
def webhook_stack() -> Iterator[tuple[StackUnderTest, LoopbackReceiver]]:
    receiver = LoopbackReceiver()
    server = serve(receiver, free_port())
    parameters = {
        "WebhookUrl": f"http://127.0.0.1:{server.server_address[1]}/photomod/events",
        "WebhookRetrySeconds": str(RETRY_SECONDS),
    }
    run_dir = Path(tempfile.mkdtemp(prefix="photomod-webhook-"))
    process, stack = launch_stack(run_dir, (free_port(), free_port(), free_port()), parameters, ("--no-persist",))
    try:
        yield stack, receiver
    finally:
        stop_stack(process)
        server.shutdown()


def stack_secret(stack: StackUnderTest) -> str:
    value = stack.client("secretsmanager").get_secret_value(SecretId=stack.output("WebhookSecretArn"))
    return "whsec_" + value["SecretString"]


def test_a_receiver_on_loopback_gets_the_uploads_outcome_signed_and_verifies_it(webhook_stack):
    stack, receiver = webhook_stack
    image_id = upload_photo(stack, DOG_PHOTO.read_bytes(), "dog.jpeg")["image_id"]
    stored = wait_for_final(stack, image_id)

    (delivery, *_) = receiver.wait_for(image_id, "Photo Judged")

    event = Webhook(stack_secret(stack)).verify(delivery.body, delivery.headers)
    assert event["source"] == "photomod" and event["detail"]["verdict"] == stored["verdict"]
    assert event["detail"]["policy_version"] == stored["policy_version"]
    assert delivery.headers["webhook-id"] == event["detail"]["event_id"]


def test_a_wrong_secret_fails_verification(webhook_stack):
    stack, receiver = webhook_stack
    image_id = upload_photo(stack, b"this is no photo at all" * 10, "fake.jpg")["image_id"]
    wait_for_final(stack, image_id)
    (delivery, *_) = receiver.wait_for(image_id, "Photo Failed")
    right = stack_secret(stack)
    wrong = "whsec_" + ("A" if right[6] != "A" else "B") + right[7:]

    with pytest.raises(WebhookVerificationError):
        Webhook(wrong).verify(delivery.body, delivery.headers)
    assert Webhook(right).verify(delivery.body, delivery.headers)["detail"]["error"]["code"]


def test_a_receiver_that_answers_500_gets_the_same_event_again(webhook_stack):
    stack, receiver = webhook_stack
    photo = DOG_PHOTO.read_bytes()
    upload = presign_upload(stack, "dog.jpeg", "image/jpeg", len(photo))
    # The photo's id is known before it is even uploaded: its first delivery is answered 500.
    receiver.refuse_once.add(upload["image_id"])
    assert post_to_s3(upload["upload"], photo, "dog.jpeg", "image/jpeg").status_code in (200, 201, 204)

    refused, again = receiver.wait_for(upload["image_id"], "Photo Judged", count=2)[:2]

    assert (refused.answered, again.answered) == (500, 204)
    assert again.body == refused.body  # the same event, for the receiver to de-duplicate by webhook-id
    assert again.headers["webhook-id"] == refused.headers["webhook-id"]
    assert Webhook(stack_secret(stack)).verify(again.body, again.headers)
    # Tried again after the queue's visibility timeout (WebhookRetrySeconds), not at once.
    assert int(again.headers["webhook-timestamp"]) - int(refused.headers["webhook-timestamp"]) >= RETRY_SECONDS - 1


@pytest.mark.skipif(
    not (SAM_PYTHON.is_file() and (IAM_TOOLS / "node_modules").is_dir()),
    reason="needs aws-sam-cli (.venv-sam) and the IAM simulator (tools/iam/node_modules) to judge the recorded "
    "calls: `make sam iam`",
)
def test_every_call_the_webhook_stack_recorded_is_allowed_by_the_templates_policies(webhook_stack):
    # After the deliveries above (tests run in file order): the webhook function's secret reads among them.
    stack, _ = webhook_stack
    calls = read_calls(stack.run_dir / "logs" / "calls")
    names = stack.template.names

    report = check_calls(calls, function_policies(names), names, stack_resource_arns(names))

    assert report.denied == [], report.describe()
    assert any(call["service"] == "secretsmanager" for call in calls.get("WebhookFunction", [])), calls.keys()
