"""Reading the event lines a test captured, and holding them to the rules CloudWatch applies."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from chalicelib.redact import redact

#: The units CloudWatch accepts in an Embedded Metric Format declaration.
EMF_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: What every line carries, whoever wrote it.
COMMON_FIELDS = ("timestamp", "level", "service", "stage", "event")


def event_lines(output: str) -> list[dict[str, Any]]:
    """Every line of `output` as a JSON object, each checked for the fields all lines carry."""
    lines = []
    for text in output.splitlines():
        line = json.loads(text)
        assert isinstance(line, dict), text
        for field in COMMON_FIELDS:
            assert isinstance(line.get(field), str), (field, text)
        assert _TIMESTAMP.fullmatch(line["timestamp"]), text
        assert line["level"] in {"INFO", "WARNING", "ERROR"}, text
        if "_aws" in line:
            check_embedded_metrics(line)
        lines.append(line)
    return lines


def events(output: str, event: str) -> list[dict[str, Any]]:
    """The lines of one kind of event."""
    return [line for line in event_lines(output) if line["event"] == event]


def check_embedded_metrics(line: dict[str, Any]) -> None:
    """Fail unless `line` is a document CloudWatch would turn into metrics (EMF's rules)."""
    metadata = line["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    written = datetime.fromisoformat(line["timestamp"]).timestamp()
    assert metadata["Timestamp"] == round(written * 1000)  # the same moment, to the millisecond
    directives = metadata["CloudWatchMetrics"]
    assert isinstance(directives, list)
    assert directives
    for directive in directives:
        assert isinstance(directive["Namespace"], str)
        assert 1 <= len(directive["Namespace"]) <= 255
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(line[name], str)
                assert 1 <= len(line[name]) <= 1024
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], int | float)
            assert not isinstance(line[metric["Name"]], bool)
            assert metric["Unit"] in EMF_UNITS


def metric_values(line: dict[str, Any]) -> dict[str, float]:
    """The metrics a line declares, by name, with their values."""
    declared = line["_aws"]["CloudWatchMetrics"][0]["Metrics"] if "_aws" in line else []
    return {metric["Name"]: line[metric["Name"]] for metric in declared}


def dimension_sets(line: dict[str, Any]) -> list[dict[str, str]]:
    """Each dimension set a line declares, with the values it takes from the line."""
    sets = line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    return [{name: line[name] for name in names} for names in sets]


def strings_in(value: Any) -> list[str]:
    """Every string in a parsed line, keys and values, however deeply nested."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *strings_in(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def assert_no_personal_data(line: dict[str, Any]) -> None:
    """No string of the line holds anything redaction would take out."""
    for text in strings_in(line):
        assert redact(text) == text, text
