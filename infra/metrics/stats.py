"""`make stats`: a summary of the CloudWatch metrics the functions emitted into the local logs.

Functions publish metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout (Powertools'
Metrics does this), which the local host writes to .run/logs/<Function>.log. An EMF line is a JSON object
whose `_aws.CloudWatchMetrics` lists, per namespace, the dimension sets and the metric names; the values
of the metrics and the dimensions are the object's top-level members. A value may be one number or a
list of numbers (several data points in one line).

    python -m infra.metrics.stats [LOG_DIR] [--since 2026-11-29T08:00:00Z]
"""

import argparse
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.paths import REPO_ROOT


@dataclass(frozen=True)
class SeriesKey:
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str


@dataclass
class Series:
    values: list[float] = field(default_factory=list)
    first_ms: int | None = None
    last_ms: int | None = None

    def add(self, values: Iterable[float], timestamp_ms: int | None) -> None:
        self.values.extend(values)
        if timestamp_ms is not None:
            self.first_ms = timestamp_ms if self.first_ms is None else min(self.first_ms, timestamp_ms)
            self.last_ms = timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms)


def emf_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The EMF objects among log lines (other lines, JSON or not, are skipped)."""
    for line in lines:
        start = line.find("{")
        if start < 0 or '"_aws"' not in line:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("_aws"), dict):
            yield record


def metric_values(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list):
        return [float(item) for item in value if isinstance(item, int | float) and not isinstance(item, bool)]
    if isinstance(value, dict) and isinstance(value.get("Values"), list):  # the Values/Counts form
        counts = value.get("Counts") or [1] * len(value["Values"])
        return [float(item) for item, count in zip(value["Values"], counts, strict=False) for _ in range(int(count))]
    return []


def collect(records: Iterable[dict[str, Any]], since_ms: int | None = None) -> dict[SeriesKey, Series]:
    series: dict[SeriesKey, Series] = defaultdict(Series)
    for record in records:
        meta = record["_aws"]
        timestamp = meta.get("Timestamp") if isinstance(meta.get("Timestamp"), int) else None
        if since_ms is not None and timestamp is not None and timestamp < since_ms:
            continue
        for directive in meta.get("CloudWatchMetrics") or []:
            namespace = str(directive.get("Namespace", ""))
            dimension_sets = directive.get("Dimensions") or [[]]
            for metric in directive.get("Metrics") or []:
                name = metric.get("Name")
                values = metric_values(record.get(name))
                if not name or not values:
                    continue
                for dimension_set in dimension_sets:
                    dimensions = tuple((str(key), str(record.get(key, ""))) for key in dimension_set)
                    key = SeriesKey(namespace, name, dimensions, str(metric.get("Unit", "None")))
                    series[key].add(values, timestamp)
    return dict(series)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[index]


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) and abs(value) < 1e12 else f"{value:.2f}"


def summary(series: dict[SeriesKey, Series]) -> str:
    if not series:
        return "no metrics (EMF lines) found"
    header = ("namespace", "metric", "dimensions", "unit", "samples", "sum", "min", "avg", "p95", "max")
    rows = [header]
    for key in sorted(series, key=lambda k: (k.namespace, k.metric, k.dimensions)):
        values = series[key].values
        rows.append(
            (
                key.namespace,
                key.metric,
                ",".join(f"{name}={value}" for name, value in key.dimensions) or "-",
                key.unit,
                str(len(values)),
                _number(sum(values)),
                _number(min(values)),
                _number(sum(values) / len(values)),
                _number(percentile(values, 0.95)),
                _number(max(values)),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    stamps = [stamp for s in series.values() for stamp in (s.first_ms, s.last_ms) if stamp is not None]
    if stamps:
        span = " to ".join(
            datetime.fromtimestamp(stamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            for stamp in (min(stamps), max(stamps))
        )
        lines.insert(0, f"metrics from {span} UTC")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.metrics.stats", description=__doc__.splitlines()[0])
    parser.add_argument("log_dir", nargs="?", default=str(REPO_ROOT / ".run" / "logs"))
    parser.add_argument("--since", help="only data points at or after this ISO 8601 time (UTC)")
    options = parser.parse_args(argv)
    since_ms = None
    if options.since:
        moment = datetime.fromisoformat(options.since.replace("Z", "+00:00"))
        since_ms = int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)
    log_dir = Path(options.log_dir)
    files = sorted(log_dir.glob("*.log")) if log_dir.is_dir() else []
    if not files:
        print(f"no logs in {log_dir}: start the stack with `make up` and use it first")
        return

    def lines() -> Iterator[str]:
        for path in files:
            with path.open(errors="replace") as log:
                yield from log

    print(f"{log_dir}:")
    print(summary(collect(emf_records(lines()), since_ms)))


if __name__ == "__main__":
    main()
