"""A burst of POST /predict cannot starve the result API or the display gate (issue 22, point 3).

Each /predict call holds an environment of its function while it waits for the classifier (at least the queue's
1 s batching window). A stack of its own, with PredictFunction's reserved concurrency at 2 and a short queue of
waiting requests: sixteen clients keep /predict saturated (its surplus answered 429 by the gateway), and while
they do, GET /predictions/{id} and GET /images/{id} are answered by their function, promptly. Were /predict
served by the upload function (as before), the sixteen would hold all of its environments and its queue, and the
probes would get 429s.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import BACKEND, StackUnderTest, launch_stack, stop_stack
from tests.integration.helpers import DOG_PHOTO, upload_photo, wait_for_final
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.local_only("starts a stack of its own with a small reserved concurrency"),
    pytest.mark.skipif(BACKEND != "moto", reason="runs once, in the moto pass: it starts a moto stack of its own"),
]

PREDICT_RESERVED = 2
SATURATING_CLIENTS = 16
SATURATE_S = 15.0
# Generous for a 2-core machine shared by several test suites; a starved probe waits for a free environment
# (seconds) or is refused at once with 429.
PROBE_LATENCY_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def isolated_stack() -> Iterator[StackUnderTest]:
    run_dir = Path(tempfile.mkdtemp(prefix="photomod-predict-isolation-"))
    process, stack = launch_stack(
        run_dir,
        (free_port(), free_port(), free_port()),
        {"PredictReservedConcurrency": str(PREDICT_RESERVED)},
        ("--api-queue-depth", "2"),
    )
    try:
        yield stack
    finally:
        stop_stack(process)


def _saturate(stack: StackUnderTest, stop: threading.Event, statuses: Counter[int], lock: threading.Lock) -> None:
    photo = DOG_PHOTO.read_bytes()
    with requests.Session() as session:
        while not stop.is_set():
            try:
                status = session.post(
                    f"{stack.api_url}/predict", data=photo, headers={"Content-Type": "image/jpeg"}, timeout=40
                ).status_code
            except requests.RequestException:
                status = -1
            with lock:
                statuses[status] += 1
            if status == 429:
                time.sleep(0.05)  # refused at once: a short pause, so the clients keep it saturated, not the CPU


def test_the_result_api_and_the_display_gate_answer_while_predict_is_saturated(isolated_stack) -> None:
    stack = isolated_stack
    # Given: a classified photo
    image_id = upload_photo(stack, DOG_PHOTO.read_bytes(), "dog.jpeg")["image_id"]
    assert wait_for_final(stack, image_id)["status"] == "done"
    stop, lock, predict_statuses = threading.Event(), threading.Lock(), Counter[int]()
    clients = [
        threading.Thread(target=_saturate, args=(stack, stop, predict_statuses, lock), daemon=True)
        for _ in range(SATURATING_CLIENTS)
    ]

    # When: sixteen clients keep POST /predict busy, and the result API and the display gate are asked meanwhile
    for client in clients:
        client.start()
    time.sleep(2)  # every /predict environment and the queue in front of it taken
    probes: list[tuple[str, int, float]] = []
    deadline = time.monotonic() + SATURATE_S
    try:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                for path in (f"/predictions/{image_id}", f"/images/{image_id}"):
                    started = time.monotonic()
                    reply = session.get(f"{stack.api_url}{path}", allow_redirects=False, timeout=40)
                    probes.append((path, reply.status_code, time.monotonic() - started))
                time.sleep(0.1)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)

    # Then: /predict was saturated (the gateway refused its surplus), and every probe was answered by its
    # function: the prediction (200), the gate's redirect (302) or its refusal of a photo it may not show (403)
    assert predict_statuses[429] > 0, f"/predict was never saturated: {dict(predict_statuses)}"
    assert predict_statuses[200] > 0, f"no /predict call was answered: {dict(predict_statuses)}"
    refused = [probe for probe in probes if probe[1] not in (200, 302, 403)]
    assert not refused, f"{len(refused)} of {len(probes)} probes not answered by their function: {refused[:10]}"
    slowest = max(probes, key=lambda probe: probe[2])
    assert slowest[2] < PROBE_LATENCY_LIMIT_S, f"slowest probe {slowest}; /predict: {dict(predict_statuses)}"
