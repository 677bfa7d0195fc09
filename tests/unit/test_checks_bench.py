"""bench.checks_bench's arithmetic: the added cost of each configuration and whether all checks meet the target."""

import pytest

from bench.checks_bench import ALL_CHECKS, CHECKS, NO_CHECKS, configurations, summarise


def test_every_check_is_measured_alone_and_all_together_against_no_checks():
    assert configurations(["text", "faces"]) == [NO_CHECKS, "text", "faces", ALL_CHECKS]
    assert configurations(["faces"]) == [NO_CHECKS, "faces"]  # one check: it is "all of them"
    assert "faces" in CHECKS


def test_the_added_cost_and_the_target_are_measured_against_the_no_check_path():
    times = {NO_CHECKS: [0.4, 0.4], "text": [0.5, 0.5], "faces": [0.41, 0.41], ALL_CHECKS: [0.52, 0.52]}

    summary = summarise(times, {"text": [100.0], "faces": [10.0]})

    assert summary["configurations"]["text"]["added_ms"] == pytest.approx(100.0)
    assert summary["configurations"][ALL_CHECKS]["throughput_ratio"] == pytest.approx(0.769, abs=1e-3)
    assert summary["added_share"] == pytest.approx(0.3) and summary["met"] is True
    assert summarise({NO_CHECKS: [0.4], ALL_CHECKS: [0.61]}, {})["met"] is False
