"""The judgements of `make bench-api`, `make soak` and the cost table: what counts as an error, as growth, as billed."""

from pathlib import Path

import pytest

from bench.api_bench import Result, summarise
from bench.cost import measure
from bench.soak import growing


def test_any_answer_but_200_or_201_is_an_error_and_latency_counts_from_when_the_request_was_due():
    results = [Result("GET", 200, 0.010)] * 98 + [Result("POST", 429, 0.002), Result("POST", -1, 2.0)]

    summary = summarise(results, seconds=1.0)

    assert summary["errors"] == 2
    assert summary["p50_ms"] == 10.0 and summary["p99_ms"] == 10.0 and summary["max_ms"] == 2000.0


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([200.0, 205.0, 210.0], False),  # noise
        ([200.0, 300.0, 400.0], True),  # doubled
        ([20.0, 28.0], False),  # a quarter more, but only 8 MB
        ([100.0], False),
    ],
)
def test_growth_must_pass_both_the_fraction_and_the_slack(samples, expected):
    assert growing(samples, 0.25, 40) is expected


def test_the_cost_reads_the_classifiers_billed_time_per_photo_from_the_hosts_logs(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "event-sources.log").write_text(
        "[ClassifyFunction] batch of 3: ok, 3 deleted, 0 left for retry (1500 ms)\n"
        "[ClassifyFunction] batch of 1: ok, 1 deleted, 0 left for retry (500 ms)\n"
        "[DeadLetterFunction] batch of 1: ok, 1 deleted, 0 left for retry (40 ms)\n"
    )
    (logs / "api.log").write_text("POST /uploads -> 201 (10 ms)\nGET /predictions/abc -> 200 (30 ms)\n")

    measured = measure(tmp_path)

    assert (measured.photos, measured.classify_ms_per_photo, measured.photos_per_batch) == (4, 500.0, 2.0)
    assert measured.api_ms_median == 20.0
