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


def test_noise_cannot_hide_a_checks_own_time_from_the_target():
    # The side-by-side difference came out at nothing (noise), but the check itself took 250 ms of the 400.
    summary = summarise({NO_CHECKS: [0.4], "faces": [0.4]}, {"faces": [250.0]})

    assert summary["added_ms"] == pytest.approx(250.0) and summary["met"] is False


def test_the_faces_eval_counts_found_and_false_flags_and_leaves_unclear_photos_out():
    from bench.evaluate_faces import UNCLEAR, WITH_FACES, rates

    best = {WITH_FACES[0]: 0.9, WITH_FACES[1]: 0.55, UNCLEAR[0]: 0.95, "n07753592_banana.JPEG": 0.65, "x.JPEG": 0.0}

    row = rates(best, 0.6)

    assert (row["found"], row["with_faces"], row["missed"]) == (1, 2, [WITH_FACES[1]])
    assert (row["falsely_flagged"], row["without_faces"]) == (1, 2)  # the unclear photo counts for neither
