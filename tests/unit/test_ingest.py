"""tools.ingest without a network: retries and backoff, file handling, resume and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.images import solid_jpeg
from tools import ingest

API = "http://api.test"
IMAGE_ID = "a" * 32


class Reply:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        self.status_code = status
        self._body = body
        self.headers = headers or {}

    def json(self) -> Any:
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


class FakeApi:
    """A session that answers like the API and S3; `script` overrides answers per (method, url prefix)."""

    def __init__(self, script: dict[tuple[str, str], list[Any]] | None = None, verdict: str = "allow"):
        self.script = script or {}
        self.calls: list[tuple[str, str]] = []
        self.verdict = verdict
        self.uploaded = 0

    def request(self, method: str, url: str, **kwargs: Any) -> Reply:
        self.calls.append((method, url))
        for (want_method, prefix), answers in self.script.items():
            if method == want_method and url.startswith(prefix) and answers:
                answer = answers.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer
        if method == "POST" and url == f"{API}/uploads":
            self.uploaded += 1
            image_id = f"{self.uploaded:032x}"
            return Reply(201, {"image_id": image_id, "upload": {"url": "http://s3.test/b", "fields": {"key": "k"}}})
        if method == "POST" and url.startswith("http://s3.test"):
            return Reply(204)
        if method == "GET" and url.startswith(f"{API}/predictions/"):
            image_id = url.rsplit("/", 1)[1]
            return Reply(
                200,
                {
                    "image_id": image_id,
                    "status": "done",
                    "prediction": "running_shoe",
                    "score": 0.5,
                    "verdict": self.verdict,
                    "verdict_reasons": [{"category": "off_topic", "action": "review"}]
                    if self.verdict != "allow"
                    else [],
                },
            )
        raise AssertionError(f"unexpected {method} {url}")


def client(session: FakeApi, **settings: Any) -> tuple[ingest.Client, list[float]]:
    sleeps: list[float] = []
    options = {"api_url": API, "retries": 3, "backoff_s": 0.5, "result_timeout_s": 5, "poll_interval_s": 0, **settings}
    return ingest.Client(ingest.Settings(**options), session=session, sleep=sleeps.append), sleeps


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_429_and_5xx_are_retried_with_growing_backoff_and_retry_after():
    session = FakeApi({("POST", f"{API}/uploads"): [Reply(429, headers={"Retry-After": "2"}), Reply(503), Reply(502)]})
    api, sleeps = client(session)

    created = api.create_upload("a.jpg", "image/jpeg", 10)

    assert created["image_id"]
    assert [call for call in session.calls if call[1] == f"{API}/uploads"] == [("POST", f"{API}/uploads")] * 4
    backoffs = [sleeps[1], sleeps[2], sleeps[3]]  # sleeps[0] is the 429's Retry-After
    assert sleeps[0] == 2.0
    assert 0.5 <= backoffs[0] <= 0.75 and 1.0 <= backoffs[1] <= 1.5 and 2.0 <= backoffs[2] <= 3.0


def test_a_request_that_keeps_failing_gives_up_with_the_last_problem():
    session = FakeApi({("POST", f"{API}/uploads"): [requests.ConnectionError("refused")] * 4})
    api, _ = client(session)

    with pytest.raises(ingest.GaveUp, match="4 attempts.*ConnectionError"):
        api.create_upload("a.jpg", "image/jpeg", 10)


def test_a_4xx_is_not_retried_and_reports_the_api_code():
    refusal = Reply(400, {"error": {"code": "declared_size_too_large", "message": "too big"}})
    session = FakeApi({("POST", f"{API}/uploads"): [refusal]})
    api, sleeps = client(session)

    with pytest.raises(ingest.Refused) as refused:
        api.create_upload("a.jpg", "image/jpeg", 10)

    assert refused.value.code == "declared_size_too_large" and sleeps == []


def test_a_folder_with_photos_text_and_a_broken_link_gets_one_row_per_file(tmp_path: Path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(solid_jpeg())
    (folder / "sub" / "b.jpeg").write_bytes(solid_jpeg((0, 0, 200)))
    (folder / "notes.txt").write_text("=HYPERLINK(1)")
    (folder / "=evil.txt").write_text("not an image")
    (folder / "gone.jpg").symlink_to(folder / "missing.jpg")
    (folder / ".DS_Store").write_bytes(b"\0")
    report = tmp_path / "out" / "report.csv"
    api, _ = client(FakeApi(verdict="review"))

    rows = ingest.run(folder, report, api, progress=False)

    by_file = {row["file"]: row for row in read_report(report)}
    assert list(by_file) == sorted(by_file) and len(rows) == 5
    assert set(by_file) == {"'=evil.txt", "a.jpg", "gone.jpg", "notes.txt", "sub/b.jpeg"}
    assert by_file["a.jpg"]["status"] == "done" and by_file["a.jpg"]["verdict"] == "review"
    assert by_file["a.jpg"]["reasons"] == "off_topic" and by_file["a.jpg"]["score"] == "0.500000"
    assert by_file["notes.txt"]["status"] == "not_an_image" and by_file["notes.txt"]["image_id"] == ""
    assert by_file["gone.jpg"]["status"] == "unreadable" and "FileNotFoundError" in by_file["gone.jpg"]["error"]
    line = ingest.summary(rows, report, 1.0)
    assert line.startswith("ingest: 5 files in 1.0 s: 2 done (review 2), 2 not an image, 1 unreadable")


def test_a_second_run_skips_what_was_ingested_and_only_uploads_new_files(tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(solid_jpeg())
    report = tmp_path / "report.csv"
    first = FakeApi()
    ingest.run(folder, report, client(first)[0], progress=False)
    (folder / "copy-of-a.jpg").write_bytes(solid_jpeg())  # same bytes: already ingested
    (folder / "c.jpg").write_bytes(solid_jpeg((1, 200, 1)))
    second = FakeApi()

    rows = ingest.run(folder, report, client(second)[0], progress=False)

    assert second.uploaded == 1
    resumed = {row.file: row.resumed for row in rows}
    assert resumed == {"a.jpg": True, "c.jpg": False, "copy-of-a.jpg": True}
    assert rows[0].image_id == rows[1].image_id and rows[0].status == "done"
    assert "2 skipped (already ingested)" in ingest.summary(rows, report, 1.0)


def test_an_upload_whose_result_was_late_is_polled_not_uploaded_again(tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(solid_jpeg())
    report = tmp_path / "report.csv"
    slow = FakeApi({("GET", f"{API}/predictions/"): [Reply(404)] * 100})
    first = ingest.run(folder, report, client(slow, result_timeout_s=0)[0], progress=False)
    assert first[0].status == "pending"
    later = FakeApi()

    (row,) = ingest.run(folder, report, client(later)[0], progress=False)

    assert later.uploaded == 0 and (row.status, row.image_id) == ("done", first[0].image_id)


def test_state_from_another_api_is_not_reused(tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(solid_jpeg())
    report = tmp_path / "report.csv"
    ingest.run(folder, report, client(FakeApi())[0], progress=False)
    other = FakeApi()

    ingest.run(folder, report, client(other, api_url="http://other.test")[0], progress=False)

    assert other.calls and other.calls[0] == ("POST", "http://other.test/uploads")


def test_files_with_the_same_bytes_in_one_run_are_uploaded_once(tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (folder / name).write_bytes(solid_jpeg())
    api = FakeApi()

    rows = ingest.run(folder, tmp_path / "report.csv", client(api, concurrency=3)[0], progress=False)

    assert api.uploaded == 1
    assert len({row.image_id for row in rows}) == 1 and sorted(row.resumed for row in rows) == [False, True, True]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (requests.ConnectionError("refused"), "cannot reach the API at http://api.test (ConnectionError)"),
        (Reply(404, headers={}), "does not look like the photomod API"),
        (Reply(404, {"error": {"code": "image_not_found"}}), None),
    ],
    ids=["unreachable", "another-service", "photomod"],
)
def test_the_api_is_checked_once_before_any_upload(monkeypatch, answer, problem):
    def get(url: str, timeout: float) -> Reply:
        assert url == f"{API}/predictions/{'0' * 32}"
        if isinstance(answer, Exception):
            raise answer
        answer.text = json.dumps(answer._body) if answer._body else "<html>not found</html>"
        return answer

    monkeypatch.setattr(ingest.requests, "get", get)

    found = ingest.api_problem(ingest.Settings(api_url=API))

    assert (found is None) if problem is None else (problem in found)
