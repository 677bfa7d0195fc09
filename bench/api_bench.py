"""`make bench-api`: the local REST API under an open-loop load, p50/p99 and errors after a warm-up.

    python -m bench.api_bench                      # starts a stack of its own on free ports, then stops it
    python -m bench.api_bench --api http://127.0.0.1:3000 --photos 0    # against a running `make up`

Open loop: request i is due at start + i / rate, whatever the answers before it, and its latency counts from
when it was due, so a slow server cannot slow the load down and hide its own queueing (coordinated omission).
`--clients` threads, each with its own keep-alive connection, take the due requests in turn: half
`GET /predictions/{id}` of classified photos, half `POST /uploads`. Any answer other than 200/201 (or no
answer) is an error. Exits 1 when p99 is above `--p99-limit-ms` or any request failed.
"""

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from infra.paths import REPO_ROOT

PHOTO = REPO_ROOT.parent / "shared" / "data" / "dog.jpeg"
READY_TIMEOUT_S = 300


@dataclass(frozen=True)
class Result:
    kind: str
    status: int  # -1: no answer
    latency_s: float


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_stack(run_dir: Path, extra_args: list[str]) -> tuple[subprocess.Popen, str]:
    """A local stack of its own (moto, free ports, no saved state); its API URL once it is ready."""
    api_port = _free_port()
    command = [sys.executable, "-m", "infra.local.stack", "up", "--run-dir", str(run_dir), "--no-persist"]
    command += ["--emulator-port", str(_free_port()), "--api-port", str(api_port), "--web-port", str(_free_port())]
    stack = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*command, *extra_args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert stack.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    for line in stack.stdout:
        if "stack ready" in line:
            threading.Thread(target=stack.stdout.read, daemon=True).start()  # keep its pipe drained
            return stack, f"http://127.0.0.1:{api_port}"
        if time.monotonic() > deadline:
            break
    stack.kill()
    raise SystemExit("the local stack did not become ready")


def classified_photos(api: str, count: int) -> list[str]:
    """Image ids of `count` uploads of dog.jpeg, once each is final (the GETs then read a finished row)."""
    data = PHOTO.read_bytes()
    image_ids = []
    for index in range(count):
        body = requests.post(
            f"{api}/uploads", json={"filename": f"bench-{index}.jpg", "content_type": "image/jpeg", "size": len(data)}
        ).json()
        stored = requests.post(
            body["upload"]["url"], data=body["upload"]["fields"], files={"file": ("dog.jpg", data, "image/jpeg")}
        )
        stored.raise_for_status()
        image_ids.append(body["image_id"])
    deadline = time.monotonic() + 120
    for image_id in image_ids:
        while requests.get(f"{api}/predictions/{image_id}").json().get("status") == "pending":
            if time.monotonic() > deadline:
                raise SystemExit(f"photo {image_id} was not classified within 120 s")
            time.sleep(0.1)
    return image_ids


def run_load(api: str, image_ids: list[str], rate: float, seconds: float, clients: int) -> list[Result]:
    """`rate` requests per second for `seconds`, open loop, alternating the two kinds."""
    due: queue.Queue[tuple[float, int] | None] = queue.Queue()
    results: list[Result] = []
    lock = threading.Lock()
    upload_body = json.dumps({"filename": "bench.jpg", "content_type": "image/jpeg", "size": 54321})

    def client() -> None:
        with requests.Session() as session:
            while (item := due.get()) is not None:
                due_at, index = item
                kind = "GET /predictions/{id}" if index % 2 == 0 else "POST /uploads"
                try:
                    if index % 2 == 0:
                        reply = session.get(f"{api}/predictions/{image_ids[index // 2 % len(image_ids)]}", timeout=35)
                    else:
                        reply = session.post(
                            f"{api}/uploads",
                            data=upload_body,
                            headers={"Content-Type": "application/json"},
                            timeout=35,
                        )
                    status = reply.status_code
                except requests.RequestException:
                    status = -1
                with lock:
                    results.append(Result(kind, status, time.perf_counter() - due_at))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    for index in range(int(rate * seconds)):
        due_at = started + index / rate
        time.sleep(max(0.0, due_at - time.perf_counter()))
        due.put((due_at, index))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    return results


def _cpu_seconds(stack_pid: int) -> dict[str, float]:
    """CPU time (user + system) of the stack and its children, by role: host, emulator, each function's workers."""
    by_role: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if int(entry.name) != stack_pid and int(fields[1]) != stack_pid:
            continue
        if int(entry.name) == stack_pid:
            role = "host (gateway, pollers)"
        elif "infra.local.emulator" in command:
            role = "emulator (moto)"
        elif '"function_name": "' in command:
            role = command.split('"function_name": "', 1)[1].split('"', 1)[0].removeprefix("photomod-local-")
        else:
            continue
        by_role[role] = by_role.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return by_role


def cpu_split(api: str, stack_pid: int, image_id: str, count: int = 200) -> None:
    """Where a request's CPU goes: `count` sequential requests of each kind, CPU per request of each process."""
    upload = {"filename": "bench.jpg", "content_type": "image/jpeg", "size": 54321}
    with requests.Session() as session:
        for kind, send in (
            ("GET /predictions/{id}", lambda: session.get(f"{api}/predictions/{image_id}", timeout=35)),
            ("POST /uploads", lambda: session.post(f"{api}/uploads", json=upload, timeout=35)),
        ):
            before, started = _cpu_seconds(stack_pid), time.perf_counter()
            for _ in range(count):
                send()
            elapsed_ms = (time.perf_counter() - started) / count * 1000
            after = _cpu_seconds(stack_pid)
            spent = {role: (after[role] - before.get(role, 0.0)) / count * 1000 for role in after}
            parts = ", ".join(f"{role} {ms:.1f}" for role, ms in sorted(spent.items()) if ms >= 0.05)
            print(f"  {kind}: {elapsed_ms:.1f} ms each, one at a time; CPU ms per request: {parts}", flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(fraction * len(ordered) + 0.5) - 1))]


def summarise(results: list[Result], seconds: float) -> dict[str, float | int | dict[str, int]]:
    latencies_ms = [result.latency_s * 1000 for result in results]
    errors = [result for result in results if result.status not in (200, 201)]
    return {
        "requests": len(results),
        "rate_per_s": round(len(results) / seconds, 1),
        "p50_ms": round(statistics.median(latencies_ms), 1),
        "p99_ms": round(percentile(latencies_ms, 0.99), 1),
        "max_ms": round(max(latencies_ms), 1),
        "errors": len(errors),
        "statuses": dict(Counter(str(result.status) for result in results)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--api", help="a running stack's API (default: start one of our own)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second in all (default 100)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured run after the warm-up (default 20)")
    parser.add_argument("--photos", type=int, default=4, help="classified photos the GETs read (0: none, pending)")
    parser.add_argument("--p99-limit-ms", type=float, default=50.0)
    parser.add_argument("--json", help="also write the summary to this file")
    parser.add_argument(
        "--cpu-split", action="store_true", help="first: CPU per request of each process (a stack of its own only)"
    )
    parser.add_argument(
        "stack_args", nargs="*", help="after --: options for the stack we start (e.g. --api-concurrency 4)"
    )
    options = parser.parse_args(argv)

    stack = None
    api = options.api
    if api is None:
        print("==> starting a local stack of its own (free ports, no saved state)", flush=True)
        stack, api = start_stack(Path(tempfile.mkdtemp(prefix="photomod-bench-api-")), options.stack_args)
    try:
        if options.photos:
            image_ids = classified_photos(api, options.photos)
        else:
            image_ids = [
                requests.post(
                    f"{api}/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 9}
                ).json()["image_id"]
            ]
        if options.cpu_split and stack is not None:
            print("==> where the CPU goes, 200 sequential requests of each kind:", flush=True)
            cpu_split(api, stack.pid, image_ids[0])
        print(f"==> warm-up: {options.warmup_seconds:.0f} s at {options.rate:.0f} req/s", flush=True)
        run_load(api, image_ids, options.rate, options.warmup_seconds, options.clients)
        print(
            f"==> measured: {options.seconds:.0f} s at {options.rate:.0f} req/s, {options.clients} clients, "
            "half GET /predictions/{id}, half POST /uploads",
            flush=True,
        )
        summary = summarise(run_load(api, image_ids, options.rate, options.seconds, options.clients), options.seconds)
    finally:
        if stack is not None:
            stack.terminate()
            stack.wait(timeout=90)
    print(
        f"requests {summary['requests']}  p50 {summary['p50_ms']} ms  p99 {summary['p99_ms']} ms  "
        f"max {summary['max_ms']} ms  errors {summary['errors']}  statuses {summary['statuses']}"
    )
    if options.json:
        Path(options.json).write_text(json.dumps(summary, indent=2) + "\n")
    failed = summary["errors"] or float(summary["p99_ms"]) > options.p99_limit_ms  # type: ignore[arg-type]
    if failed:
        print(f"FAIL: p99 must be at most {options.p99_limit_ms:.0f} ms with no error")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
