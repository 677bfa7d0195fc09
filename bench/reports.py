"""Reports to keep and look at: `make bench` and `make eval` write JSON and a PNG chart under reports/.

The measuring scripts stay as they are and hand their figures to one call at their end:

    reports.write_bench_report(result, summary)        # bench.classify_bench
    reports.write_eval_report(records, summary)        # bench.evaluate

`result` is the classify worker's RESULT dict; any other throughput series it carries under "runtimes"
({runtime: {batch size: images/s}}) is drawn beside the raw model's. `records` are one dict per photo
({"file", "truth", "top5"}); `verdicts`, when a folder is labelled by verdict, are (expected, got) pairs and
add a confusion matrix. Charts carry the weights they were measured with: "untrained" is written on them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

REPORTS_DIR = Path(__file__).resolve().parents[1] / "reports"
VERDICTS = ("allow", "review", "block")
# The bench summary's throughput figures, as the chart names them.
PATH_NAMES = {
    "pipeline_images_per_s": "classify path",
    "raw_images_per_s": "raw model",
    "in_memory_images_per_s": "classify path,\nstorage in memory",
}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _weights_note(weights: str | None) -> str:
    return " (UNTRAINED weights)" if weights == "untrained" else ""


# ---------------------------------------------------------------------------- make bench
def throughput_series(result: Mapping[str, Any]) -> dict[str, dict[int, float]]:
    """{series name: {batch size: images/s}}: the raw model's, and each extra runtime's."""
    series = {"raw model": {int(size): float(value) for size, value in result.get("raw", {}).items()}}
    for runtime, by_batch in (result.get("runtimes") or {}).items():
        series[str(runtime)] = {int(size): float(value) for size, value in by_batch.items()}
    return {name: values for name, values in series.items() if values}


def write_bench_report(
    result: Mapping[str, Any], summary: Mapping[str, Any], out_dir: Path | None = None
) -> tuple[Path, Path]:
    """reports/bench.json (everything measured) and reports/bench.png (throughput by batch size and path)."""
    out_dir = out_dir or REPORTS_DIR
    json_path = _write_json(out_dir / "bench.json", {"measured_at": _stamp(), "summary": summary, "result": result})

    series = throughput_series(result)
    paths = {
        PATH_NAMES.get(key, key.removesuffix("_images_per_s").replace("_", " ")): float(value)
        for key, value in summary.items()
        if key.endswith("_images_per_s")
    }
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    sizes = sorted({size for values in series.values() for size in values})
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        positions = [sizes.index(size) + index * width for size in values]
        left.bar(positions, list(values.values()), width=width, label=name)
    left.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(sizes))], [str(s) for s in sizes])
    left.set_xlabel("batch size")
    left.set_ylabel("images/s")
    left.set_title("Model throughput by batch size")
    left.legend(fontsize="small")
    if paths:
        right.barh(list(paths), list(paths.values()), color="tab:green")
        right.set_xlabel("images/s")
        right.set_title(f"At batch size {result.get('batch_size', '?')}")
        right.invert_yaxis()
    else:
        right.axis("off")
    figure.suptitle(f"make bench, {summary.get('measured_on', _stamp())}{_weights_note(result.get('weights'))}")
    figure.tight_layout()
    png_path = out_dir / "bench.png"
    figure.savefig(png_path, dpi=80)
    plt.close(figure)
    return json_path, png_path


# ---------------------------------------------------------------------------- make eval
def class_labels() -> dict[str, str]:
    """wnid -> ImageNet label, from the class index the classifier ships (for readable chart rows)."""
    path = Path(__file__).resolve().parents[1] / "functions" / "classify" / "classify" / "imagenet_class_index.json"
    try:
        return {wnid: label for wnid, label in json.loads(path.read_text()).values()}
    except (OSError, ValueError):
        return {}


def per_class(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """{true class: {"photos", "top1", "top5"}} from one record per photo."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: {"photos": 0, "top1": 0, "top5": 0})
    for record in records:
        row = table[str(record["truth"])]
        top5 = list(record["top5"])
        row["photos"] += 1
        row["top1"] += bool(top5) and top5[0] == record["truth"]
        row["top5"] += record["truth"] in top5
    return dict(sorted(table.items()))


def verdict_confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """{expected verdict: {verdict given: count}}, every verdict present in both directions."""
    counts = Counter(pairs)
    labels = list(VERDICTS) + sorted({v for pair in counts for v in pair} - set(VERDICTS))
    return {expected: {got: counts[(expected, got)] for got in labels} for expected in labels}


def write_eval_report(
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    verdicts: Iterable[tuple[str, str]] | None = None,
    out_dir: Path | None = None,
) -> tuple[Path, Path]:
    """reports/eval.json and reports/eval.png: per-class top-1/top-5, and the verdicts' confusion matrix."""
    out_dir = out_dir or REPORTS_DIR
    classes = per_class(records)
    confusion = verdict_confusion(verdicts) if verdicts is not None else None
    document = {"measured_at": _stamp(), "summary": summary, "per_class": classes, "records": list(records)}
    if confusion is not None:
        document["verdict_confusion"] = confusion
    json_path = _write_json(out_dir / "eval.json", document)

    panels = 2 if confusion is not None else 1
    height = max(3.0, 0.16 * len(classes) + 1.2)
    figure, axes = plt.subplots(1, panels, figsize=(7 * panels, height), squeeze=False)
    left = axes[0][0]
    labels = class_labels()
    names = [f"{labels.get(wnid, '').replace('_', ' ')} {wnid}".strip() for wnid in classes]
    top5 = [row["top5"] / row["photos"] for row in classes.values()]
    top1 = [row["top1"] / row["photos"] for row in classes.values()]
    left.barh(names, top5, color="tab:blue", alpha=0.45, label="top-5")
    left.barh(names, top1, color="tab:blue", label="top-1")
    left.set_xlim(0, 1)
    left.set_ylim(len(names) - 0.5, -0.5)  # first class on top, no empty margin
    left.tick_params(axis="y", labelsize=5)
    left.set_xlabel("share of the class's photos")
    left.set_title(f"Per class: top-1 {summary.get('top1', 0):.3f}, top-5 {summary.get('top5', 0):.3f}")
    left.legend(fontsize="small", loc="lower right")
    if confusion is not None:
        right = axes[0][1]
        labels = list(confusion)
        grid = [[confusion[expected][got] for got in labels] for expected in labels]
        right.imshow(grid, cmap="Blues")
        right.set_xticks(range(len(labels)), labels)
        right.set_yticks(range(len(labels)), labels)
        right.set_xlabel("verdict given")
        right.set_ylabel("folder (expected verdict)")
        right.set_title("Verdicts")
        darkest = max(max(values) for values in grid) or 1
        for row, values in enumerate(grid):
            for column, value in enumerate(values):
                colour = "white" if value > darkest / 2 else "black"
                right.text(column, row, str(value), ha="center", va="center", color=colour)
    figure.suptitle(f"make eval{_weights_note(summary.get('weights'))}")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.5 / height))  # room for the title above the panels
    png_path = out_dir / "eval.png"
    figure.savefig(png_path, dpi=80)
    plt.close(figure)
    return json_path, png_path
