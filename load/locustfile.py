"""Load test of the upload -> classify -> result path (Locust).

    make load            # 10 shoppers for 60 s against the local stack started with `make up`

Each simulated shopper presigns an upload, posts a real photo straight to S3, and polls until the photo is
classified; the time from upload to result is reported as its own Locust entry ("upload to result").
Only loopback targets are intended: --host defaults to the local API.
"""

import random
import time
from pathlib import Path

from locust import HttpUser, between, events, task

PHOTOS = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-samples").glob("*.JPEG"))
RESULT_TIMEOUT_S = 120


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
                    request_type="FLOW",
                    name="upload to result",
                    response_time=(time.perf_counter() - started) * 1000,
                    response_length=0,
                    exception=None if status["status"] == "done" else RuntimeError(status["error"]),
                    context={},
                )
                return
            time.sleep(0.5)
        events.request.fire(
            request_type="FLOW",
            name="upload to result",
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
