"""bench.judgement: the figures and the exact last line of `make eval`, from judged photos (no model needed)."""

from pathlib import Path

from bench.judgement import Judged, judgement_line, summarise, write_report

LISTED = {"n04090263": "weapons", "n02823428": "alcohol"}
PHOTOS = [
    Judged("n04090263_rifle.JPEG", "n04090263", ("n04090263",), "block", ("weapons",)),
    Judged("n02823428_beer_bottle.JPEG", "n02823428", ("n04591713", "n02823428"), "allow", ()),
    Judged("n02123045_tabby.JPEG", "n02123045", ("n02123045",), "allow", ()),
    Judged("n04254777_sock.JPEG", "n04254777", ("n04254777",), "review", ("explicit",)),
    Judged("n03000134_fence.JPEG", "n03000134", ("n04090263",), "block", ("weapons",)),
]


def test_flagged_recall_counts_listed_photos_not_allowed_and_false_flags_the_others():
    summary = summarise(PHOTOS, LISTED)

    assert (summary["flagged"], summary["flagged_not_allowed"]) == (2, 1)
    assert summary["missed_files"] == ["n02823428_beer_bottle.JPEG"]
    # the sock (the safety model's review) and the fence (a firearm rule) are false flags of the whole verdict
    assert (summary["unflagged"], summary["false_flags"]) == (3, 2)
    assert summary["categories"]["weapons"] == {
        "photos": 1,
        "not_allowed": 1,
        "missed": [],
        "false_flags": 1,
        "false_flag_files": ["n03000134_fence.JPEG"],
    }
    assert summary["categories"]["alcohol"]["missed"] == ["n02823428_beer_bottle.JPEG"]
    assert (summary["top1"], summary["top5"]) == (3 / 5, 4 / 5)


def test_the_last_line_has_the_issues_exact_shape():
    line = judgement_line(summarise(PHOTOS, LISTED), "EfficientNet-Lite0", "imagenet (pkg 0.1.0)")
    assert line == (
        "judgement: 5 photos, classifier EfficientNet-Lite0 (imagenet (pkg 0.1.0)), top-1 0.60, top-5 0.80, "
        "flagged recall 0.50 (1/2), false flags 0.67 (2/3)"
    )


def test_the_report_is_json_and_a_chart(tmp_path: Path):
    json_path, png_path = write_report(summarise(PHOTOS, LISTED), PHOTOS, "title", tmp_path)
    assert json_path.read_text().count("n04090263_rifle.JPEG") == 1
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
