"""`make soak`: steady uploads and API traffic against the local stack for a long time (30 minutes by default).

    python -m bench.soak --minutes 30               # a stack of its own on free ports (what `make soak` runs)
    python -m bench.soak --minutes 3                # a short run
    python -m bench.soak --run-dir .run --minutes 10   # against a running `make up` (its outputs.json, its pids)

Three kinds of traffic at once, each at a steady rate: photos (real ones, cycled) uploaded the way the web page
does it (POST /uploads, then the presigned POST to S3), each then polled every 0.5 s until it is final (its
upload-to-result time); and API requests (half GET /predictions/{id} of photos already uploaded, half
POST /uploads that are never used, as an abandoned page leaves them).

Every minute and at the end it prints photos accepted and final, errors, p50/p99 of the API and of
upload-to-result, the classify queue's and the dead-letter queue's depths, and the resident memory of each
process of the stack (the host, the emulator, each function's environments). After the run it waits for the
photos still in flight, then fails (exit 1) on any lost photo (accepted, never final), any error (an answer
other than the expected one, or a photo that ended failed), resident memory that keeps growing, or a classify
queue that keeps getting deeper.
"""

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.api_bench import percentile, start_stack
from infra.paths import REPO_ROOT

PHOTOS_DIR = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
POLL_INTERVAL_S = 0.5
DRAIN_TIMEOUT_S = 240
# Growth the run tolerates between the first sample after the warm-up and the last one.
RSS_GROWTH_LIMIT = 0.25
RSS_GROWTH_SLACK_MB = 40


@dataclass
class Window:
    """What happened in one minute (or in the whole run)."""

    api_ms: list[float] = field(default_factory=list)
    result_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accepted: int = 0
    final: int = 0


class Soak:
    def __init__(self, api: str, outputs: dict[str, str], stack_pid: int):
        self.api = api
        self.outputs = outputs
        self.stack_pid = stack_pid
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.minute = Window()
        self.total = Window()
        self.in_flight: dict[str, float] = {}  # image id -> when its upload started
        self.known_ids: list[str] = []
        self.failed_photos: list[str] = []
        self.photo_kb = 0.0
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        self.sqs = session.client("sqs", endpoint_url=outputs["AwsEndpointUrl"])

    # ------------------------------------------------------------------ recording
    def _api(self, milliseconds: float) -> None:
        with self.lock:
            self.minute.api_ms.append(milliseconds)
            self.total.api_ms.append(milliseconds)

    def _error(self, what: str) -> None:
        with self.lock:
            self.minute.errors.append(what)
            self.total.errors.append(what)

    def _timed(self, session: requests.Session, method: str, url: str, expected: int, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            reply = session.request(method, url, timeout=35, **kwargs)
        except requests.RequestException as error:
            self._error(f"{method} {url.removeprefix(self.api)}: {type(error).__name__}")
            return None
        self._api((time.perf_counter() - started) * 1000)
        if reply.status_code != expected:
            self._error(f"{method} {url.removeprefix(self.api)}: {reply.status_code} {reply.text[:200]}")
            return None
        return reply

    # ------------------------------------------------------------------ traffic
    def upload_photos(self, rate: float) -> None:
        photos = sorted(PHOTOS_DIR.glob("*.JPEG")) or [REPO_ROOT.parent / "shared" / "data" / "dog.jpeg"]
        self.photo_kb = sum(photo.stat().st_size for photo in photos) / len(photos) / 1024
        with requests.Session() as session:
            for index, photo in enumerate(itertools.cycle(photos)):
                due = self.started + index / rate
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                data = photo.read_bytes()
                started = time.monotonic()
                request = {"filename": photo.name, "content_type": "image/jpeg", "size": len(data)}
                created = self._timed(session, "POST", f"{self.api}/uploads", 201, json=request)
                if created is None:
                    continue
                body = created.json()
                try:
                    stored = session.post(
                        body["upload"]["url"],
                        data=body["upload"]["fields"],
                        files={"file": (photo.name, data, "image/jpeg")},
                        timeout=35,
                    )
                except requests.RequestException as error:
                    self._error(f"S3 POST: {type(error).__name__}")
                    continue
                if stored.status_code not in (200, 201, 204):
                    self._error(f"S3 POST: {stored.status_code}")
                    continue
                with self.lock:
                    self.in_flight[body["image_id"]] = started
                    self.known_ids.append(body["image_id"])
                    self.minute.accepted += 1
                    self.total.accepted += 1

    def poll_results(self, until: threading.Event) -> None:
        with requests.Session() as session:
            while not until.is_set():
                with self.lock:
                    waiting = list(self.in_flight.items())
                for image_id, started in waiting:
                    reply = self._timed(session, "GET", f"{self.api}/predictions/{image_id}", 200)
                    if reply is None:
                        continue
                    status = reply.json().get("status")
                    if status in ("done", "failed"):
                        with self.lock:
                            self.in_flight.pop(image_id, None)
                            elapsed_ms = (time.monotonic() - started) * 1000
                            self.minute.result_ms.append(elapsed_ms)
                            self.total.result_ms.append(elapsed_ms)
                            self.minute.final += 1
                            self.total.final += 1
                        if status == "failed":
                            self.failed_photos.append(image_id)
                            self._error(f"photo {image_id} ended failed: {reply.json().get('error')}")
                until.wait(POLL_INTERVAL_S)

    def api_traffic(self, rate: float) -> None:
        with requests.Session() as session:
            for index in itertools.count():
                due = self.started + index / rate
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                with self.lock:
                    image_id = random.choice(self.known_ids) if self.known_ids else None  # noqa: S311 - load
                if index % 2 == 0 and image_id:
                    self._timed(session, "GET", f"{self.api}/predictions/{image_id}", 200)
                else:
                    request = {"filename": "abandoned.jpg", "content_type": "image/jpeg", "size": 12345}
                    self._timed(session, "POST", f"{self.api}/uploads", 201, json=request)

    # ------------------------------------------------------------------ observation
    def queue_depths(self) -> dict[str, int]:
        depths = {}
        for name, key in (("classify", "ClassifyQueueUrl"), ("dead-letter", "ClassifyDeadLetterQueueUrl")):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.outputs[key],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths

    def resident_mb(self) -> dict[str, float]:
        """Resident memory of the stack's processes: the host, the emulator, each function's environments (summed)."""
        by_role: dict[str, float] = defaultdict(float)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                rss_pages = int((entry / "statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            pid, parent = int(entry.name), int(stat[1])
            if pid != self.stack_pid and parent != self.stack_pid:
                continue
            by_role[_role(pid == self.stack_pid, command)] += rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
        return dict(sorted(by_role.items()))


def _role(is_host: bool, command: str) -> str:
    if is_host:
        return "host"
    if "infra.local.emulator" in command or "localstack" in command:
        return "emulator"
    if "infra.apidocs.openapi" in command:
        return "openapi-docs"
    if '"function_name": "' in command:
        return command.split('"function_name": "', 1)[1].split('"', 1)[0].removeprefix("photomod-local-")
    return command.split()[-1][:30] if command.strip() else "other"


def _percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values):.0f} ms p99 {percentile(values, 0.99):.0f} ms"


def report(label: str, window: Window, in_flight: int, depths: dict[str, int], rss: dict[str, float]) -> None:
    memory = " ".join(f"{role}={mb:.0f}" for role, mb in rss.items())
    print(
        f"[{label}] photos accepted {window.accepted} final {window.final} in flight {in_flight} | "
        f"errors {len(window.errors)} | API {_percentiles(window.api_ms)} ({len(window.api_ms)} requests) | "
        f"upload->result {_percentiles(window.result_ms)} | queues classify {depths['classify']} "
        f"dead-letter {depths['dead-letter']} | RSS MB {memory}",
        flush=True,
    )


def growing(samples: list[float], limit: float, slack: float) -> bool:
    """The last sample is above the first by more than `limit` (a fraction) and `slack` (absolute)."""
    return len(samples) >= 2 and samples[-1] > samples[0] * (1 + limit) and samples[-1] - samples[0] > slack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    parser.add_argument("--photos-per-second", type=float, default=0.5)
    parser.add_argument("--api-per-second", type=float, default=10.0)
    parser.add_argument("--run-dir", help="a running stack's run folder (`make up`: .run); default: start one")
    parser.add_argument("--json", help="also write the per-minute samples and the verdict to this file")
    parser.add_argument(
        "stack_args", nargs="*", help="after --: options for the stack it starts (e.g. --parameter Classifier=...)"
    )
    options = parser.parse_args(argv)

    stack_process = None
    if options.run_dir:
        run_dir = Path(options.run_dir)
        stack_pid = int((run_dir / "stack.pid").read_text())
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="photomod-soak-"))
        print(f"==> starting a local stack of its own in {run_dir} (free ports, no saved state)", flush=True)
        stack_process, _ = start_stack(run_dir, options.stack_args)
        stack_pid = stack_process.pid
    outputs = {item["OutputKey"]: item["OutputValue"] for item in json.loads((run_dir / "outputs.json").read_text())}
    soak = Soak(outputs["ApiUrl"], outputs, stack_pid)
    samples: list[dict[str, Any]] = []
    drained = threading.Event()
    print(
        f"==> soak: {options.minutes:g} min, {options.photos_per_second:g} photos/s, {options.api_per_second:g} API "
        f"requests/s, against {soak.api}",
        flush=True,
    )
    soak.started = time.monotonic()  # type: ignore[attr-defined]
    threads = [
        threading.Thread(target=soak.upload_photos, args=(options.photos_per_second,), daemon=True),
        threading.Thread(target=soak.api_traffic, args=(options.api_per_second,), daemon=True),
        threading.Thread(target=soak.poll_results, args=(drained,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        end = soak.started + options.minutes * 60  # type: ignore[attr-defined]
        minute = 0
        while time.monotonic() < end:
            time.sleep(max(0.0, min(60.0, end - time.monotonic())))
            minute += 1
            with soak.lock:
                window, soak.minute = soak.minute, Window()
                in_flight = len(soak.in_flight)
            depths, rss = soak.queue_depths(), soak.resident_mb()
            report(f"minute {minute}", window, in_flight, depths, rss)
            samples.append({"minute": minute, "in_flight": in_flight, "queues": depths, "rss_mb": rss})
        soak.stop.set()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while soak.in_flight and time.monotonic() < deadline:
            time.sleep(1)
        drained.set()
        lost = sorted(soak.in_flight)
        depths, rss = soak.queue_depths(), soak.resident_mb()
        report("total", soak.total, len(lost), depths, rss)
    finally:
        soak.stop.set()
        drained.set()
        if stack_process is not None:
            stack_process.terminate()
            stack_process.wait(timeout=120)

    problems = []
    if lost:
        problems.append(f"{len(lost)} photos accepted and never final within {DRAIN_TIMEOUT_S} s: {lost[:5]}")
    if soak.total.errors:
        problems.append(f"{len(soak.total.errors)} errors, e.g. {soak.total.errors[:5]}")
    # After the first third (warm-up: environments start, the emulator fills), memory and the queue must be flat.
    steady = samples[max(1, len(samples) // 3) :] if len(samples) >= 3 else samples[-2:]
    # The emulator holds every photo and row the run stored (S3 and DynamoDB in memory): its growth is the data,
    # reported per photo instead. Every other process must stay flat.
    for role in sorted({role for sample in steady for role in sample["rss_mb"]} - {"emulator"}):
        series = [sample["rss_mb"].get(role, 0.0) for sample in steady]
        if growing(series, RSS_GROWTH_LIMIT, RSS_GROWTH_SLACK_MB):
            problems.append(f"RSS of {role} kept growing: {series[0]:.0f} -> {series[-1]:.0f} MB")
    depth_series = [float(sample["queues"]["classify"]) for sample in steady]
    if growing(depth_series, 1.0, 16):
        problems.append(f"the classify queue kept getting deeper: {depth_series}")
    emulator = [sample["rss_mb"].get("emulator", 0.0) for sample in samples]
    if len(emulator) >= 2 and soak.total.accepted:
        print(
            f"emulator: {emulator[0]:.0f} -> {emulator[-1]:.0f} MB while it stored {soak.total.accepted} photos "
            f"({(emulator[-1] - emulator[0]) * 1024 / soak.total.accepted:.0f} KB per photo; the photos average "
            f"{soak.photo_kb:.0f} KB)"
        )
    verdict = {
        "minutes": options.minutes,
        "accepted": soak.total.accepted,
        "final": soak.total.final,
        "lost": len(lost),
        "errors": len(soak.total.errors),
        "api": _percentiles(soak.total.api_ms),
        "api_requests": len(soak.total.api_ms),
        "upload_to_result": _percentiles(soak.total.result_ms),
        "samples": samples,
        "problems": problems,
    }
    if options.json:
        Path(options.json).write_text(json.dumps(verdict, indent=2) + "\n")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print("PASS: nothing lost, no error, memory and queue depth flat")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
