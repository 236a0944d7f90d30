"""Reading the stack's CloudWatch dashboard body: its graphs, their dimensions, its log tables.

Shared by the SAM and Terraform tests, which render the same dashboard each in its own syntax.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.metrics import NAMESPACE

#: A `${...}` that CloudFormation's Fn::Sub (or Terraform) substitutes.
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def widgets(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The properties of the dashboard's widgets of one kind (`metric`, `log`, `alarm`)."""
    return [widget["properties"] for widget in body["widgets"] if widget["type"] == kind]


def graphed(body: dict[str, Any]) -> list[list[Any]]:
    """Every line of every graph: a metric's array, or an expression in a one-element array."""
    return [line for properties in widgets(body, "metric") for line in properties["metrics"]]


def searches(body: dict[str, Any]) -> list[str]:
    """Every metric math expression of the graphs."""
    return [line[0]["expression"] for line in graphed(body) if isinstance(line[0], dict)]


def graphed_metrics(body: dict[str, Any]) -> set[str]:
    """Our metrics that some graph shows, as a metric or found by a SEARCH."""
    plain = {line[1] for line in graphed(body) if line[0] == NAMESPACE}
    return plain | {name for s in searches(body) for name in re.findall(r'MetricName="(\w+)"', s)}


def dimension_values(body: dict[str, Any], namespace: str, dimension: str) -> set[str]:
    """The values the graphs give `dimension` of `namespace`'s metrics."""
    values: set[str] = set()
    for line in graphed(body):
        if line[0] == namespace:
            pairs = [item for item in line[2:] if isinstance(item, str)]
            values |= {
                value
                for name, value in zip(pairs[::2], pairs[1::2], strict=True)
                if name == dimension
            }
    return values


def graphed_names(body: dict[str, Any], namespace: str) -> set[str]:
    """The metric names of `namespace` the graphs show."""
    return {line[1] for line in graphed(body) if line[0] == namespace}


def log_tables(body: dict[str, Any]) -> list[tuple[list[str], str]]:
    """Each Logs Insights table: the log groups it reads, and the query it runs on them."""
    tables = []
    for properties in widgets(body, "log"):
        query = properties["query"]
        sources = re.findall(r"SOURCE '([^']*)' \| ", query)
        tables.append((sources, re.sub(r"SOURCE '[^']*' \| ", "", query)))
    return tables


def check_log_tables(body: dict[str, Any], log_groups: dict[str, str]) -> None:
    """Ingest tables read the API's log group, record tables the worker's, the rest all three."""
    tables = log_tables(body)
    for sources, query in tables:
        if 'event = "ingest"' in query:
            assert sources == [log_groups["api_handler"]], query
        elif 'event = "record"' in query:
            assert sources == [log_groups["worker"]], query
        else:
            assert sorted(sources) == sorted(log_groups.values()), query
    queries = [query for _, query in tables]
    assert any('outcome = "accepted"' in q and "by tenant_id" in q for q in queries)
    assert any('outcome = "rejected"' in q and "by tenant_id, reason" in q for q in queries)
    assert any('outcome = "failed"' in q and "by reason" in q for q in queries)
