"""Bulk ingestion: upload every image under a folder through the API, wait for each verdict, write a CSV report.

    make ingest DIR=photos/ [API=https://…/Prod] [REPORT=reports/x.csv]
    .venv/bin/python -m tools ingest photos/ --api http://127.0.0.1:3000

Each file goes the way the web page sends a photo (POST /uploads, the presigned POST to S3, then
GET /predictions/{id} until it is final), so a local stack and a deployed one behave the same. Uploads run a
few at a time; 429 and 5xx answers (and dropped connections) are retried with exponential backoff.

Resume: every finished file is appended to a state file beside the report (JSON lines, keyed by the SHA-256 of
the file's bytes and the API's URL). A second run over the same folder skips files whose photo already reached
a final state and reports their earlier result, and only polls photos that were uploaded but not yet final.
Files that are not images, or cannot be read, get a row saying so; they never stop the run.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from photomod_shared.formats import SUPPORTED_IN_WORDS, sniff_content_type
from photomod_shared.spreadsheet import neutralise_formula

COLUMNS = ("file", "image_id", "status", "prediction", "score", "verdict", "reasons", "error", "resumed")
# Row statuses: the API's final states, and what happened on this side when a file never got one.
DONE, FAILED = "done", "failed"
REJECTED = "rejected"  # the API refused the upload (e.g. too large): a 4xx with an error code
NOT_AN_IMAGE = "not_an_image"
UNREADABLE = "unreadable"
ERROR = "error"  # no final state: the API or storage kept failing, or the result did not come in time
PENDING = "pending"  # uploaded; the result did not come in time (a later run polls it again)
FINAL = frozenset({DONE, FAILED})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_API = "http://127.0.0.1:3000"


@dataclass(frozen=True)
class Settings:
    api_url: str
    concurrency: int = 4
    retries: int = 5
    backoff_s: float = 0.5
    result_timeout_s: float = 180.0
    poll_interval_s: float = 0.5
    http_timeout_s: float = 30.0


@dataclass
class Row:
    file: str
    status: str
    image_id: str = ""
    prediction: str = ""
    score: float | None = None
    verdict: str = ""
    reasons: str = ""
    error: str = ""
    resumed: bool = False
    sha256: str = field(default="", repr=False)

    def cells(self) -> list[str]:
        values = dataclasses.asdict(self)
        values["score"] = "" if self.score is None else f"{self.score:.6f}"
        values["resumed"] = "yes" if self.resumed else ""
        return [neutralise_formula(str(values[column])) for column in COLUMNS]


class GaveUp(Exception):
    """The API or storage kept failing after every retry."""


class Refused(Exception):
    """The API refused the request for a reason retrying will not change (a 4xx)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------- finding files
def image_files(folder: Path, skip: Iterable[Path] = ()) -> Iterator[Path]:
    """Every regular file (and broken link) under `folder`, sorted, without hidden files and `skip`."""
    skipped = {path.resolve() for path in skip}
    for root, directories, names in os.walk(folder):
        directories[:] = sorted(name for name in directories if not name.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and path.resolve() not in skipped:
                yield path


# ---------------------------------------------------------------------------- state (resume)
class State:
    """Results of earlier runs, by (API, content hash); appended to as files finish, so a crash loses nothing."""

    def __init__(self, path: Path, api_url: str):
        self.path = path
        self.api_url = api_url
        self._lock = threading.Lock()
        self.known: dict[str, dict[str, Any]] = {}
        # Content being ingested right now: a second file with the same bytes waits for the first one's result.
        self._in_flight: dict[str, threading.Event] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(record, dict) and record.get("api") == api_url and record.get("sha256"):
                    self.known[record["sha256"]] = record

    def claim(self, sha256: str) -> tuple[bool, dict[str, Any] | None]:
        """(True, record) when these bytes already reached a final state: in an earlier run, or in this run for
        another file with the same bytes (waited for). Otherwise (False, earlier record or None): the caller
        ingests the content and then calls `release`."""
        while True:
            with self._lock:
                earlier = self.known.get(sha256)
                if earlier and earlier.get("status") in FINAL:
                    return True, earlier
                running = self._in_flight.get(sha256)
                if running is None:
                    self._in_flight[sha256] = threading.Event()
                    return False, earlier
            running.wait()

    def release(self, sha256: str) -> None:
        with self._lock:
            event = self._in_flight.pop(sha256, None)
        if event:
            event.set()

    def record(self, row: Row) -> None:
        if not row.sha256 or not row.image_id:
            return
        entry = {"api": self.api_url, **dataclasses.asdict(row)}
        entry.pop("resumed")
        with self._lock:
            self.known[row.sha256] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as state_file:
                state_file.write(json.dumps(entry) + "\n")


# ---------------------------------------------------------------------------- the API client
class Client:
    def __init__(self, settings: Settings, session: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.session = session or requests.Session()
        self.sleep = sleep

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        """One request, retried on 429/5xx and dropped connections with exponential backoff and jitter."""
        last = ""
        for attempt in range(self.settings.retries + 1):
            if attempt:
                delay = self.settings.backoff_s * 2 ** (attempt - 1) * (1 + random.random() / 2)
                self.sleep(min(delay, 30.0))
            try:
                reply = self.session.request(method, url, timeout=self.settings.http_timeout_s, **kwargs)
            except requests.RequestException as error:
                last = f"{type(error).__name__}: {error}"
                continue
            if reply.status_code not in RETRY_STATUSES:
                return reply
            last = f"HTTP {reply.status_code}"
            retry_after = reply.headers.get("Retry-After", "")
            if retry_after.isdigit():
                self.sleep(min(float(retry_after), 30.0))
        raise GaveUp(f"{method} {url.split('?')[0]}: gave up after {self.settings.retries + 1} attempts ({last})")

    def create_upload(self, filename: str, content_type: str, size: int) -> dict[str, Any]:
        reply = self._send(
            "POST",
            f"{self.settings.api_url}/uploads",
            json={"filename": filename, "content_type": content_type, "size": size},
        )
        if reply.status_code != 201:
            raise _refusal(reply)
        return reply.json()

    def store(self, upload: dict[str, Any], filename: str, data: bytes, content_type: str) -> None:
        reply = self._send("POST", upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)})
        if reply.status_code not in (200, 201, 204):
            raise Refused("storage_refused", f"storage refused the upload: HTTP {reply.status_code}")

    def wait_for_result(self, image_id: str) -> dict[str, Any] | None:
        """The final prediction, or None if it is not final within the timeout."""
        deadline = time.monotonic() + self.settings.result_timeout_s
        while True:
            reply = self._send("GET", f"{self.settings.api_url}/predictions/{image_id}")
            if reply.status_code == 200:
                body = reply.json()
                if body.get("status") in FINAL:
                    return body
            elif reply.status_code != 404:  # 404: the upload event has not reached the classifier yet
                raise _refusal(reply)
            if time.monotonic() >= deadline:
                return None
            self.sleep(self.settings.poll_interval_s)


def _refusal(reply: Any) -> Refused:
    try:
        error = reply.json().get("error") or {}
    except ValueError:
        error = {}
    return Refused(error.get("code", f"http_{reply.status_code}"), error.get("message", f"HTTP {reply.status_code}"))


# ---------------------------------------------------------------------------- one file
def ingest_file(path: Path, relative: str, client: Client, state: State) -> Row:
    try:
        data = path.read_bytes()
    except OSError as error:
        return Row(relative, UNREADABLE, error=f"{type(error).__name__}: {error.strerror or error}")
    if not data:
        return Row(relative, NOT_AN_IMAGE, error="the file is empty")
    content_type = sniff_content_type(data)
    if content_type is None:
        return Row(relative, NOT_AN_IMAGE, error=f"not a {SUPPORTED_IN_WORDS} file")
    sha256 = hashlib.sha256(data).hexdigest()
    done_before, earlier = state.claim(sha256)
    if done_before and earlier:
        return Row(**{**_row_fields(earlier), "file": relative, "resumed": True})
    try:
        return _ingest_new(path, relative, data, content_type, sha256, earlier, client, state)
    finally:
        state.release(sha256)


def _ingest_new(
    path: Path,
    relative: str,
    data: bytes,
    content_type: str,
    sha256: str,
    earlier: dict[str, Any] | None,
    client: Client,
    state: State,
) -> Row:
    try:
        if earlier and earlier.get("status") == PENDING:
            image_id = earlier["image_id"]  # uploaded by an earlier run: only its result is missing
        else:
            created = client.create_upload(path.name[:255], content_type, len(data))
            image_id = created["image_id"]
            client.store(created["upload"], path.name, data, content_type)
        result = client.wait_for_result(image_id)
    except Refused as refused:
        return Row(relative, REJECTED, sha256=sha256, error=f"{refused.code}: {refused}")
    except GaveUp as gave_up:
        return Row(relative, ERROR, sha256=sha256, error=str(gave_up))
    if result is None:
        row = Row(relative, PENDING, image_id=image_id, sha256=sha256, error="no result in time; run again to resume")
    else:
        row = result_row(relative, sha256, result)
    state.record(row)
    return row


def result_row(relative: str, sha256: str, result: dict[str, Any]) -> Row:
    error = result.get("error") or {}
    return Row(
        file=relative,
        status=result["status"],
        image_id=result["image_id"],
        prediction=result.get("prediction") or "",
        score=result.get("score"),
        verdict=result.get("verdict") or "",
        reasons="; ".join(str(reason.get("category")) for reason in result.get("verdict_reasons") or []),
        error=f"{error.get('code')}: {error.get('message')}" if error else "",
        sha256=sha256,
    )


def _row_fields(record: dict[str, Any]) -> dict[str, Any]:
    names = {item.name for item in dataclasses.fields(Row)}
    return {key: value for key, value in record.items() if key in names}


# ---------------------------------------------------------------------------- the run
def run(folder: Path, report: Path, client: Client, *, progress: bool = True) -> list[Row]:
    state = State(state_path(report), client.settings.api_url)
    files = list(image_files(folder, skip=[report, state.path]))
    rows: list[Row] = []
    counts: Counter[str] = Counter()
    with (
        ThreadPoolExecutor(max_workers=client.settings.concurrency) as pool,
        tqdm(total=len(files), unit="file", desc="ingest", disable=not progress, dynamic_ncols=True) as bar,
    ):
        futures = {
            pool.submit(ingest_file, path, path.relative_to(folder).as_posix(), client, state): path for path in files
        }
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as error:  # a bug must cost one row, not the whole run
                row = Row(
                    futures[future].relative_to(folder).as_posix(), ERROR, error=f"{type(error).__name__}: {error}"
                )
            rows.append(row)
            counts[row.status] += 1
            bar.set_postfix({status: count for status, count in sorted(counts.items())}, refresh=False)
            bar.update()
    rows.sort(key=lambda row: row.file)
    write_report(report, rows)
    return rows


def state_path(report: Path) -> Path:
    return report.with_name(report.stem + ".state.jsonl")


def write_report(report: Path, rows: list[Row]) -> None:
    report.parent.mkdir(parents=True, exist_ok=True)
    with report.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in rows)


def summary(rows: list[Row], report: Path, seconds: float) -> str:
    counts = Counter(row.status for row in rows)
    verdicts = Counter(row.verdict for row in rows if row.status == DONE)
    resumed = sum(row.resumed for row in rows)
    parts = [f"{counts[DONE]} done ({', '.join(f'{v} {n}' for v, n in sorted(verdicts.items())) or 'none'})"]
    parts += [f"{counts[status]} {status.replace('_', ' ')}" for status in sorted(counts) if status != DONE]
    if resumed:
        parts.append(f"{resumed} skipped (already ingested)")
    return f"ingest: {len(rows)} files in {seconds:.1f} s: {', '.join(parts)}; report {report}"


def default_report(folder: Path) -> Path:
    name = folder.resolve().name or "root"
    return Path("reports") / f"ingest-{name}.csv"


def api_problem(settings: Settings) -> str | None:
    """Why the API cannot be used (unreachable, or not photomod's), checked once before any file is read."""
    url = f"{settings.api_url}/predictions/{'0' * 32}"
    try:
        reply = requests.get(url, timeout=settings.http_timeout_s)
    except requests.RequestException as error:
        return f"cannot reach the API at {settings.api_url} ({type(error).__name__})"
    # An unknown image id: photomod answers 404 image_not_found; a busy API may answer 429 or 5xx (retried later).
    if reply.status_code == 404 and "image_not_found" not in reply.text:
        return f"{settings.api_url} does not look like the photomod API (GET {url} answered {reply.text[:80]!r})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="photomod ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder to upload (every image file under it)")
    parser.add_argument("--api", default=os.environ.get("PHOTOMOD_API", DEFAULT_API), help="API base URL")
    parser.add_argument("--report", type=Path, help="CSV report (default: reports/ingest-<folder>.csv)")
    parser.add_argument("--concurrency", type=int, default=4, help="files in flight at once (default 4)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each result")
    parser.add_argument("--retries", type=int, default=5, help="retries of a request answered 429/5xx")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in CI logs)")
    options = parser.parse_args(argv)
    if not options.folder.is_dir():
        parser.error(f"{options.folder} is not a folder")
    if not 1 <= options.concurrency <= 32:
        parser.error("--concurrency must be between 1 and 32")
    report = options.report or default_report(options.folder)
    settings = Settings(
        api_url=options.api.rstrip("/"),
        concurrency=options.concurrency,
        retries=options.retries,
        result_timeout_s=options.timeout,
    )
    problem = api_problem(settings)
    if problem:
        print(f"ingest: {problem}; nothing was uploaded", file=sys.stderr)
        return 2
    started = time.monotonic()
    rows = run(options.folder, report, Client(settings), progress=not options.no_progress)
    print(summary(rows, report, time.monotonic() - started))
    # Broken photos are results; files that never got one (API or storage kept failing) are not.
    return 1 if any(row.status in (ERROR, PENDING) for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
