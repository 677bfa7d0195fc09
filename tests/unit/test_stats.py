"""infra.metrics.stats (`make stats`): CloudWatch EMF lines in the local logs, summarised."""

import json

from infra.metrics.stats import collect, emf_records, main, summary


def emf(metrics: dict, dimensions: dict, unit: str = "Count", timestamp: int = 1795900000000) -> str:
    """One line as Powertools Metrics prints it."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "photomod",
                        "Dimensions": [list(dimensions)],
                        "Metrics": [{"Name": name, "Unit": unit} for name in metrics],
                    }
                ],
            },
            **dimensions,
            **metrics,
        }
    )


LINES = [
    '{"level":"INFO","message":"classifier ready"}',
    "START RequestId: 1",
    emf({"PhotosClassified": 3}, {"service": "photomod", "verdict": "allow"}),
    emf({"PhotosClassified": [1, 1]}, {"service": "photomod", "verdict": "allow"}),
    emf({"PhotosClassified": 1}, {"service": "photomod", "verdict": "block"}),
    emf({"InferenceMs": [120.5, 80.0, 100.0]}, {"service": "photomod"}, unit="Milliseconds", timestamp=1795900060000),
    '{"_aws": "not emf"}',
    '{broken json with "_aws"',
]


def test_only_emf_lines_are_read():
    assert len(list(emf_records(LINES))) == 4


def test_values_are_grouped_by_metric_and_dimension_values():
    series = collect(emf_records(LINES))

    by_name = {(key.metric, key.dimensions): value.values for key, value in series.items()}
    assert by_name[("PhotosClassified", (("service", "photomod"), ("verdict", "allow")))] == [3, 1, 1]
    assert by_name[("PhotosClassified", (("service", "photomod"), ("verdict", "block")))] == [1]
    assert by_name[("InferenceMs", (("service", "photomod"),))] == [120.5, 80.0, 100.0]


def test_since_leaves_out_older_data_points():
    series = collect(emf_records(LINES), since_ms=1795900030000)

    assert [key.metric for key in series] == ["InferenceMs"]


def test_the_summary_table_has_counts_sums_and_percentiles():
    text = summary(collect(emf_records(LINES)))

    allow = next(line for line in text.splitlines() if "verdict=allow" in line).split()
    assert allow[:6] == ["photomod", "PhotosClassified", "service=photomod,verdict=allow", "Count", "3", "5"]
    inference = next(line for line in text.splitlines() if "InferenceMs" in line).split()
    assert inference[3:] == ["Milliseconds", "3", "300.50", "80", "100.17", "120.50", "120.50"]


def test_make_stats_reads_every_log_in_the_folder(tmp_path, capsys):
    (tmp_path / "ClassifyFunction.log").write_text("\n".join(LINES[:4]) + "\n")
    (tmp_path / "ReconcileFunction.log").write_text(emf({"PhotosRequeued": 2}, {"service": "photomod"}) + "\n")

    main([str(tmp_path)])

    out = capsys.readouterr().out
    assert "PhotosClassified" in out and "PhotosRequeued" in out


def test_no_metrics_says_so(tmp_path, capsys):
    (tmp_path / "api.log").write_text("GET /x -> 200\n")

    main([str(tmp_path)])

    assert "no metrics" in capsys.readouterr().out
