"""The template's alarms on the functions' own metrics, evaluated over the EMF lines the functions really wrote.

CloudWatch builds a metric from every EMF document (namespace, metric name and the exact set of dimensions
with their values) and evaluates an alarm on it period by period. An alarm whose namespace, name or dimensions
differ from what a function writes by one letter watches a metric that never receives a datapoint, and with
`TreatMissingData: notBreaching` it stays OK forever. This module applies an alarm of template.yaml to EMF
documents the way CloudWatch would (the statistics and the few metric-math functions the template uses), so
tests can show each alarm fires on what the functions emit, and stays quiet otherwise.

    python -m infra.metrics.alarms [LOG_DIR]    # the state of every such alarm over .run/logs
"""

import argparse
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.metrics.stats import emf_records, metric_values
from infra.paths import REPO_ROOT
from infra.template import LocalNames, ResolvedTemplate, load_template

ALARM, OK = "ALARM", "OK"
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "SampleCount": len,
    "Average": lambda values: sum(values) / len(values),
}


@dataclass(frozen=True)
class Datapoint:
    namespace: str
    metric: str
    dimensions: frozenset[tuple[str, str]]
    values: tuple[float, ...]
    timestamp_ms: int


@dataclass(frozen=True)
class MetricQuery:
    id: str
    namespace: str
    metric: str
    dimensions: frozenset[tuple[str, str]]
    statistic: str
    period_s: int


@dataclass(frozen=True)
class AlarmRule:
    logical_id: str
    queries: tuple[MetricQuery, ...]
    expression: str | None  # metric math over the queries' ids; None: the one query is the alarm's metric
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int

    @property
    def period_s(self) -> int:
        return self.queries[0].period_s

    @property
    def namespaces(self) -> set[str]:
        return {query.namespace for query in self.queries}


def _dimensions(entries: Iterable[dict[str, Any]] | None) -> frozenset[tuple[str, str]]:
    return frozenset((str(entry["Name"]), str(entry["Value"])) for entry in entries or [])


def alarm_rule(logical_id: str, properties: dict[str, Any]) -> AlarmRule:
    """One AWS::CloudWatch::Alarm's resolved properties: a single metric, or metric math over several."""
    if "Metrics" in properties:
        queries, expression = [], None
        for entry in properties["Metrics"]:
            if "Expression" in entry:
                expression = str(entry["Expression"])
                continue
            stat = entry["MetricStat"]
            metric = stat["Metric"]
            queries.append(
                MetricQuery(
                    str(entry["Id"]),
                    str(metric["Namespace"]),
                    str(metric["MetricName"]),
                    _dimensions(metric.get("Dimensions")),
                    str(stat["Stat"]),
                    int(stat["Period"]),
                )
            )
    else:
        queries = [
            MetricQuery(
                "m",
                str(properties["Namespace"]),
                str(properties["MetricName"]),
                _dimensions(properties.get("Dimensions")),
                str(properties["Statistic"]),
                int(properties["Period"]),
            )
        ]
        expression = None
    evaluation_periods = int(properties["EvaluationPeriods"])
    return AlarmRule(
        logical_id,
        tuple(queries),
        expression,
        str(properties["ComparisonOperator"]),
        float(properties["Threshold"]),
        evaluation_periods,
        int(properties.get("DatapointsToAlarm", evaluation_periods)),
    )


def template_alarms(template: ResolvedTemplate) -> dict[str, AlarmRule]:
    return {
        logical_id: alarm_rule(logical_id, template.resolve(resource["Properties"]))
        for logical_id, resource in template.resources_of_type("AWS::CloudWatch::Alarm").items()
    }


def custom_metric_alarms(template: ResolvedTemplate) -> dict[str, AlarmRule]:
    """The alarms on metrics the functions write themselves (not AWS/Lambda's or AWS/SQS's own)."""
    return {
        logical_id: rule
        for logical_id, rule in template_alarms(template).items()
        if not any(namespace.startswith("AWS/") for namespace in rule.namespaces)
    }


def datapoints(documents: Iterable[dict[str, Any]]) -> list[Datapoint]:
    """Every metric value of the EMF documents, under each dimension set it is published with."""
    points = []
    for document in documents:
        meta = document.get("_aws") or {}
        timestamp = meta.get("Timestamp")
        if not isinstance(timestamp, int):
            continue
        for directive in meta.get("CloudWatchMetrics") or []:
            for metric in directive.get("Metrics") or []:
                values = metric_values(document.get(metric.get("Name")))
                if not values:
                    continue
                for dimension_set in directive.get("Dimensions") or [[]]:
                    dimensions = frozenset((str(key), str(document.get(key, ""))) for key in dimension_set)
                    points.append(
                        Datapoint(str(directive.get("Namespace")), metric["Name"], dimensions, tuple(values), timestamp)
                    )
    return points


def _statistic(query: MetricQuery, points: Sequence[Datapoint], bucket: int) -> float | None:
    values = [
        value
        for point in points
        if (point.namespace, point.metric, point.dimensions) == (query.namespace, query.metric, query.dimensions)
        and point.timestamp_ms // (query.period_s * 1000) == bucket
        for value in point.values
    ]
    return float(STATISTICS[query.statistic](values)) if values else None


def _fill(value: float | None, filler: float) -> float:
    return filler if value is None else value


def _if(condition: Any, when_true: float, when_false: float) -> float:
    return when_true if condition else when_false


def _math(expression: str, values: dict[str, float | None]) -> float | None:
    """The template's metric math: + - * /, comparisons, FILL(m, v) and IF(c, a, b). Missing data stays missing."""
    try:
        # The expression is the template's own, and the namespace holds only the metric values and these functions.
        result = eval(expression, {"__builtins__": {}}, {**values, "FILL": _fill, "IF": _if})  # noqa: S307
    except (TypeError, ZeroDivisionError):  # a missing metric outside FILL, or 0/0
        return None
    return None if result is None or math.isnan(float(result)) else float(result)


def evaluate(rule: AlarmRule, documents: Iterable[dict[str, Any]], at_ms: int | None = None) -> str:
    """ALARM or OK after the last `EvaluationPeriods` periods up to `at_ms` (default: the newest datapoint), missing
    data not breaching (what every alarm of the template says)."""
    points = datapoints(documents)
    if not points and at_ms is None:
        return OK
    newest = at_ms if at_ms is not None else max(point.timestamp_ms for point in points)
    last_bucket = newest // (rule.period_s * 1000)
    breaching = 0
    for bucket in range(last_bucket - rule.evaluation_periods + 1, last_bucket + 1):
        values = {query.id: _statistic(query, points, bucket) for query in rule.queries}
        value = _math(rule.expression, values) if rule.expression else values[rule.queries[0].id]
        if value is not None and COMPARISONS[rule.comparison](value, rule.threshold):
            breaching += 1
    return ALARM if breaching >= rule.datapoints_to_alarm else OK


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.metrics.alarms", description=__doc__.splitlines()[0])
    parser.add_argument("log_dir", nargs="?", default=str(REPO_ROOT / ".run" / "logs"))
    options = parser.parse_args(argv)
    documents = []
    for log in sorted(Path(options.log_dir).glob("*.log")):
        documents += list(emf_records(log.read_text(errors="replace").splitlines()))
    for logical_id, rule in custom_metric_alarms(ResolvedTemplate(load_template(), LocalNames())).items():
        print(f"{logical_id:32} {evaluate(rule, documents)}")


if __name__ == "__main__":
    main()
