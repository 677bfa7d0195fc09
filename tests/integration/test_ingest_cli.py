"""`python -m tools ingest` against the running stack: the malformed corpus and sample photos, one CSV row per
file, every outcome the one the API gives; a second run skips everything it already ingested."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from infra.paths import REPO_ROOT
from photomod_shared.formats import sniff_image_format
from tests.integration import browser
from tests.support.imagecorpus import build_corpus

pytestmark = pytest.mark.integration

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
CASES = build_corpus()


def expected_outcome(data: bytes, status: str, code: str | None) -> tuple[str, str | None]:
    """What the ingest report must say: the CLI refuses non-images itself, the API refuses the oversized, the
    classifier decides the rest."""
    if sniff_image_format(data) is None:
        return "not_an_image", None
    if len(data) > MAX_UPLOAD_BYTES:
        return "rejected", "file_too_large"
    return status, code


def ingest(folder: Path, report: Path, api_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools", "ingest", str(folder), "--api", api_url, "--report", str(report)]
        + ["--concurrency", "4", "--timeout", "300"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def read_rows(report: Path) -> dict[str, dict[str, str]]:
    with report.open(newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def test_ingest_reports_every_file_and_resumes(local_stack, tmp_path: Path) -> None:
    # Given a folder of sample photos, the whole malformed corpus, and a link to a file that is gone
    folder = tmp_path / "catalogue"
    (folder / "corpus").mkdir(parents=True)
    expected: dict[str, tuple[str, str | None]] = {}
    for case in CASES:
        (folder / "corpus" / case.name).write_bytes(case.data)
        expected[f"corpus/{case.name}"] = expected_outcome(case.data, case.expected_status, case.expected_code)
    for photo in sorted(browser.SAMPLES.glob("*.jpg")):
        (folder / photo.name).write_bytes(photo.read_bytes())
        expected[photo.name] = ("done", None)
    (folder / "vanished.jpg").symlink_to(folder / "nowhere.jpg")
    expected["vanished.jpg"] = ("unreadable", None)
    report = tmp_path / "reports" / "catalogue.csv"

    # When the catalogue team ingests it
    first = ingest(folder, report, local_stack.api_url)

    # Then the run finishes, says what happened in one line, and the report has one row per file
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.strip().startswith(f"ingest: {len(expected)} files in"), first.stdout
    assert "ingest:" in first.stderr and "file" in first.stderr  # tqdm's progress bar
    rows = read_rows(report)
    assert set(rows) == set(expected)
    for name, (status, code) in expected.items():
        row = rows[name]
        assert row["status"] == status, (name, row)
        if code:
            assert row["error"].startswith(f"{code}:"), (name, row)
        if status in ("done", "failed"):
            assert len(row["image_id"]) == 32, (name, row)
        if status == "done":
            assert row["verdict"] in ("allow", "review", "block") and row["prediction"], (name, row)
            assert 0 <= float(row["score"]) <= 1, (name, row)

    # When it runs again over the same folder
    second = ingest(folder, report, local_stack.api_url)

    # Then nothing is uploaded again: every photo that reached a result is reported from the first run
    assert second.returncode == 0, second.stdout + second.stderr
    again = read_rows(report)
    for name, row in again.items():
        if rows[name]["status"] in ("done", "failed"):
            assert row["resumed"] == "yes" and row["image_id"] == rows[name]["image_id"], (name, row)
        else:
            assert row["resumed"] == "" and row["status"] == rows[name]["status"], (name, row)
    assert "skipped (already ingested)" in second.stdout
