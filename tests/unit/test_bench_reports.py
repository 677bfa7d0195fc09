"""bench.reports: the JSON and PNG that make bench and make eval leave under reports/."""

import json
from pathlib import Path

from bench import reports

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_bench_report_keeps_every_figure_and_draws_each_runtime(tmp_path: Path):
    result = {
        "weights": "untrained",
        "batch_size": 8,
        "raw": {"1": 15.0, "8": 26.5, "32": 27.7},
        "runtimes": {"onnxruntime": {"1": 20.0, "8": 31.0}},
    }
    summary = {"pipeline_images_per_s": 16.6, "raw_images_per_s": 26.4, "pipeline_raw_ratio": 0.63}

    json_path, png_path = reports.write_bench_report(result, summary, out_dir=tmp_path)

    written = json.loads(json_path.read_text())
    assert written["result"] == result and written["summary"] == summary
    assert png_path.read_bytes().startswith(PNG_SIGNATURE)
    assert reports.throughput_series(result) == {
        "raw model": {1: 15.0, 8: 26.5, 32: 27.7},
        "onnxruntime": {1: 20.0, 8: 31.0},
    }


def test_eval_report_counts_top1_and_top5_per_class():
    records = [
        {"truth": "n1", "top5": ["n1", "n2", "n3", "n4", "n5"]},
        {"truth": "n1", "top5": ["n2", "n1", "n3", "n4", "n5"]},
        {"truth": "n2", "top5": ["n3", "n4", "n5", "n6", "n7"]},
    ]

    assert reports.per_class(records) == {
        "n1": {"photos": 2, "top1": 1, "top5": 2},
        "n2": {"photos": 1, "top1": 0, "top5": 0},
    }


def test_eval_report_with_verdict_folders_adds_a_confusion_matrix(tmp_path: Path):
    records = [{"truth": "n1", "top5": ["n1"]}]
    pairs = [("allow", "allow"), ("block", "review"), ("block", "block"), ("block", "review")]

    json_path, png_path = reports.write_eval_report(
        records, {"top1": 1.0, "top5": 1.0, "weights": "untrained"}, verdicts=pairs, out_dir=tmp_path
    )

    confusion = json.loads(json_path.read_text())["verdict_confusion"]
    assert confusion["block"] == {"allow": 0, "review": 2, "block": 1}
    assert confusion["allow"]["allow"] == 1 and sum(confusion["review"].values()) == 0
    assert png_path.read_bytes().startswith(PNG_SIGNATURE)


def test_every_ratio_is_against_the_faster_raw_figure_of_every_model():
    from bench.classify_bench import faster_raw_rate

    # Given: batch-8 loops of 20 img/s (ResNet50), 80 img/s (nsfwjs) and 40 img/s (Open-NSFW), i.e. 1/(0.05 + 0.0125 +
    # 0.025) = 11.43 img/s for all three; the path's own batches took 1.0 + 0.25 + 0.35 s for 8 photos (5 img/s),
    # a slow moment of the machine; the phone photos' batches are read under their own prefix
    result = {
        "raw": {"8": 20.0},
        "safety_raw8": 80.0,
        "second_raw8": 40.0,
        "times": {
            "raw": [1.0],
            "safety_raw": [0.25],
            "second_raw": [0.35],
            "phone_raw": [0.2],
            "phone_second_raw": [0.2],
        },
    }

    fastest, loop, batches = faster_raw_rate(result, 8)
    phone_fastest, _, phone_batches = faster_raw_rate(result, 8, "phone_")

    assert (round(loop, 2), round(batches, 2)) == (11.43, 5.0)
    assert fastest == loop
    assert (phone_batches, phone_fastest) == (20.0, 20.0)
