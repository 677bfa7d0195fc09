"""The webhook function's signing and delivery (functions/webhook): Standard Webhooks signatures that the scheme's
own reference library (standardwebhooks) accepts, a refused delivery that raises so the queue retries it."""

import base64
import json
import time
from dataclasses import dataclass, field

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from infra.local.provision import _generated_secret
from infra.template import LocalNames, ResolvedTemplate, load_template
from webhook.delivery import DeliveryRefused, UndeliverableEvent, deliver
from webhook.signing import InvalidSecret, signing_key

# What the template's GenerateSecretString makes: 44 letters and digits, i.e. base64 of a 33-byte key.
SECRET = "Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6cXV1ejEyMzQ1"
EVENT = {
    "version": "0",
    "id": "eventbridge-copy-1",
    "detail-type": "Photo Judged",
    "source": "photomod",
    "detail": {"event_id": "0b8f6c1e-2f0a-5d8e-9a4c-3c1f5b7d9e21", "image_id": "img1", "verdict": "block"},
}


@dataclass
class RecordingReceiver:
    status: int = 200
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        self.received.append((body, headers))
        return self.status


class UnreachableReceiver:
    def post(self, body: bytes, headers: dict[str, str]) -> int:
        raise ConnectionRefusedError("connection refused")


def test_a_delivery_verifies_with_the_reference_library_and_carries_the_events_own_id():
    receiver, body = RecordingReceiver(), json.dumps(EVENT)

    deliver(body, receiver, signing_key(SECRET), int(time.time()))

    ((sent, headers),) = receiver.received
    assert sent == body.encode()  # byte for byte what the queue held: what was signed
    assert Webhook("whsec_" + SECRET).verify(sent, headers) == EVENT
    assert headers["webhook-id"] == EVENT["detail"]["event_id"]  # what the receiver de-duplicates by
    assert headers["content-type"] == "application/json"


def test_a_wrong_secret_or_a_changed_body_fails_verification():
    receiver, body = RecordingReceiver(), json.dumps(EVENT)
    deliver(body, receiver, signing_key(SECRET), int(time.time()))
    ((sent, headers),) = receiver.received

    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another shop's key, 32 bytes!!!").decode()).verify(sent, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + SECRET).verify(sent.replace(b"block", b"allow"), headers)


def test_an_old_signature_is_refused_so_a_captured_delivery_cannot_be_replayed_later():
    receiver = RecordingReceiver()
    deliver(json.dumps(EVENT), receiver, signing_key(SECRET), int(time.time()) - 3600)
    ((sent, headers),) = receiver.received

    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook("whsec_" + SECRET).verify(sent, headers)


@pytest.mark.parametrize("status", [500, 503, 404, 301])
def test_an_answer_other_than_2xx_is_refused_so_the_queue_delivers_it_again(status):
    with pytest.raises(DeliveryRefused, match=str(status)):
        deliver(json.dumps(EVENT), RecordingReceiver(status=status), signing_key(SECRET), int(time.time()))


def test_an_unreachable_receiver_is_refused_too():
    with pytest.raises(DeliveryRefused, match="unreachable"):
        deliver(json.dumps(EVENT), UnreachableReceiver(), signing_key(SECRET), int(time.time()))


def test_a_message_that_is_no_verdict_event_is_undeliverable_not_retried():
    with pytest.raises(UndeliverableEvent):
        deliver('{"detail": {}}', RecordingReceiver(), signing_key(SECRET), int(time.time()))


def test_the_secret_may_carry_the_whsec_prefix_and_must_be_a_long_enough_base64_key():
    assert signing_key("whsec_" + SECRET) == signing_key(SECRET) == base64.b64decode(SECRET)
    with pytest.raises(InvalidSecret, match="base64"):
        signing_key("not base64!")
    with pytest.raises(InvalidSecret, match="16 bytes"):
        signing_key(base64.b64encode(b"short").decode())


def test_the_templates_generated_secret_is_a_valid_signing_key():
    template = ResolvedTemplate(load_template(), LocalNames(parameter_overrides={"WebhookUrl": "https://shop.test/h"}))
    properties = template.resolve(template.resources["WebhookSecret"]["Properties"])

    key = signing_key(_generated_secret(properties))

    assert len(key) == 33  # 44 base64 characters: 264 bits of which about 262 random (62 symbols per character)


def test_without_a_webhook_url_the_stack_has_no_webhook_resources():
    off = ResolvedTemplate(load_template(), LocalNames())
    on = ResolvedTemplate(load_template(), LocalNames(parameter_overrides={"WebhookUrl": "https://shop.test/h"}))
    webhook = {"WebhookSecret", "WebhookQueue", "WebhookDeadLetterQueue", "WebhookRule", "WebhookFunction"}

    assert webhook <= set(on.resources)
    assert not webhook & set(off.resources)
