"""Load test of the upload -> classify -> result path (Locust).

    make load            # 10 shoppers for 60 s against the local stack started with `make up`
    make load LOAD_P95_MS=20000

Locust writes its HTML and CSV reports under reports/ (see the Makefile). The run fails (exit code 1) when any
request failed or the upload-to-result p95 is above LOAD_P95_MS (default 30000 ms); both are printed.
Photos: the repository's own samples (samples/photos), or every JPEG in PHOTOS_DIR if that is set.

Each simulated shopper presigns an upload, posts a real photo straight to S3, and polls until the photo is
classified; the time from upload to result is reported as its own Locust entry ("upload to result").
Only loopback targets are intended: --host defaults to the local API.
"""

import os
import random
import time
from pathlib import Path

from locust import HttpUser, between, events, task

PHOTOS_DIR = Path(os.environ.get("PHOTOS_DIR") or Path(__file__).resolve().parents[1] / "samples" / "photos")
PHOTOS = sorted(path for path in PHOTOS_DIR.iterdir() if path.suffix.lower() in (".jpg", ".jpeg"))
RESULT_TIMEOUT_S = 120
FLOW = ("upload to result", "FLOW")
P95_LIMIT_MS = float(os.environ.get("LOAD_P95_MS", "30000"))


@events.quitting.add_listener
def check_thresholds(environment, **_kwargs) -> None:
    """Pass or fail the run: no failed request, and the upload-to-result p95 within the limit."""
    stats = environment.stats
    flow = stats.get(*FLOW)
    p95 = flow.get_response_time_percentile(0.95) if flow.num_requests else None
    failures = stats.total.num_failures
    problems = []
    if failures:
        problems.append(f"{failures} request(s) failed")
    if p95 is None:
        problems.append("no upload reached a result")
    elif p95 > P95_LIMIT_MS:
        problems.append(f"upload-to-result p95 {p95:.0f} ms is above {P95_LIMIT_MS:.0f} ms")
    shown = "n/a" if p95 is None else f"{p95:.0f} ms"
    print(
        f"thresholds: upload-to-result p95 {shown} (limit {P95_LIMIT_MS:.0f} ms, {flow.num_requests} uploads), "
        f"failed requests {failures} (limit 0): {'FAIL: ' + '; '.join(problems) if problems else 'PASS'}"
    )
    environment.process_exit_code = 1 if problems else 0


class Shopper(HttpUser):
    host = "http://127.0.0.1:3000"
    wait_time = between(1, 3)

    @task(5)
    def upload_and_wait_for_result(self) -> None:
        photo = random.choice(PHOTOS)
        data = photo.read_bytes()
        started = time.perf_counter()
        created = self.client.post(
            "/uploads", json={"filename": photo.name, "content_type": "image/jpeg", "size": len(data)}, name="/uploads"
        )
        if created.status_code != 201:
            return
        body = created.json()
        stored = self.client.post(
            body["upload"]["url"],
            data=body["upload"]["fields"],
            files={"file": (photo.name, data, "image/jpeg")},
            name="S3 presigned POST",
        )
        if stored.status_code not in (200, 201, 204):
            return
        while time.perf_counter() - started < RESULT_TIMEOUT_S:
            status = self.client.get(f"/predictions/{body['image_id']}", name="/predictions/{image_id}").json()
            if status["status"] != "pending":
                events.request.fire(
                    request_type=FLOW[1],
                    name=FLOW[0],
                    response_time=(time.perf_counter() - started) * 1000,
                    response_length=0,
                    exception=None if status["status"] == "done" else RuntimeError(status["error"]),
                    context={},
                )
                return
            time.sleep(0.5)
        events.request.fire(
            request_type=FLOW[1],
            name=FLOW[0],
            response_time=RESULT_TIMEOUT_S * 1000,
            response_length=0,
            exception=TimeoutError("no result in time"),
            context={},
        )

    @task(1)
    def look_up_unknown_image(self) -> None:
        with self.client.get("/predictions/" + "0" * 32, name="/predictions/{unknown}", catch_response=True) as reply:
            if reply.status_code == 404:
                reply.success()
