"""The two numbers docs/local-stack.md quotes (Measured): `make up` to ready, and unloaded upload-to-result time.

    python -m bench.stack_timings [--uploads 5]

Runs `make up` (dependencies already installed) on the default ports, so no other stack may be running.
Upload-to-result is measured the way the web page experiences it: POST /uploads, the presigned POST to S3,
then polling GET /predictions/{id} every 50 ms until it is no longer pending.
"""

import argparse
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import requests

from infra.paths import REPO_ROOT

API = "http://127.0.0.1:3000"
PHOTO = REPO_ROOT.parent / "shared" / "data" / "dog.jpeg"


def upload_to_result(photo: Path) -> float:
    data = photo.read_bytes()
    started = time.perf_counter()
    created = requests.post(
        f"{API}/uploads", json={"filename": photo.name, "content_type": "image/jpeg", "size": len(data)}, timeout=10
    )
    created.raise_for_status()
    body = created.json()
    stored = requests.post(
        body["upload"]["url"],
        data=body["upload"]["fields"],
        files={"file": (photo.name, data, "image/jpeg")},
        timeout=10,
    )
    stored.raise_for_status()
    while True:
        status = requests.get(body["result_url"], timeout=10).json()["status"]
        if status != "pending":
            return time.perf_counter() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=5)
    options = parser.parse_args()
    started = time.perf_counter()
    stack = subprocess.Popen(  # noqa: S603, S607
        ["make", "--no-print-directory", "up"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert stack.stdout is not None
    ready_s = None
    for line in stack.stdout:
        if "stack ready" in line:
            ready_s = time.perf_counter() - started
            break
    try:
        if ready_s is None:
            raise SystemExit("the stack did not start; run `make up` to see why")
        timings = [upload_to_result(PHOTO) for _ in range(options.uploads)]
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        stack.wait(timeout=30)
    print(f"make up -> ready: {ready_s:.1f} s (dependencies installed)")
    print(
        f"upload -> result, unloaded, {PHOTO.name}, {options.uploads} runs: median {statistics.median(timings):.2f} s "
        f"(min {min(timings):.2f}, max {max(timings):.2f})"
    )


if __name__ == "__main__":
    main()
