"""Ingest: per-log outcomes in request order, and event lines that never hold a text or PII."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from chalice.app import BadRequestError, ChaliceViewError
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import ingest, queue
from chalicelib.normalize import LogContext
from tests.event_lines import assert_no_personal_data, events, metric_values
from tests.strategies import fillers, pii

# A JSON body's tenant may be anything a client sends; some of it is refused, all of it logged.
tenants = st.one_of(st.sampled_from(["acme", "beta_inc"]), pii, st.text(max_size=20))


@settings(max_examples=150, deadline=None)
@given(
    before=fillers(),
    found=pii,
    after=fillers(),
    tenant=tenants,
    form=st.sampled_from(["application/json", "text/plain"]),
)
def test_no_text_and_no_personal_data_reach_the_ingest_line(
    before: str, found: str, after: str, tenant: str, form: str
) -> None:
    text = f"{before} {found} {after}"
    if form == "application/json":
        body, headers = json.dumps({"tenant_id": tenant, "text": text}), {}
    else:
        body, headers = text, {"X-Tenant-ID": tenant}
    sent: list[str] = []
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(io.StringIO()) as output,
    ):
        patch.setattr(queue, "send", lambda body, tenant: sent.append(body))
        patch.setattr(ingest, "admit_each", lambda logs: [None] * len(logs))
        with contextlib.suppress(ChaliceViewError):  # a refusal: its line is what is checked
            ingest.accept({"Content-Type": form, **headers}, body.encode(), "req-1")
    [line] = events(output.getvalue(), "ingest")
    assert line["outcome"] == ("accepted" if sent else "rejected")
    assert line["status"] < 500
    assert sum(metric_values(line).get(name, 0) for name in ("IngestAccepted", "IngestRejected"))
    assert_no_personal_data(line)
    shown = json.dumps(line, ensure_ascii=False)
    assert found not in shown
    assert text.strip() not in shown


valid_logs = st.fixed_dictionaries(
    {
        "tenant_id": st.sampled_from(["acme", "beta_inc"]),
        "log_id": st.from_regex(r"[A-Za-z0-9_.:\-]{1,20}", fullmatch=True),
        "text": st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
    },
    optional={"host": st.text(max_size=10), "timestamp": st.integers(0, 2_000_000_000)},
)
invalid_logs = st.one_of(
    st.just({"tenant_id": "acme"}),
    st.just({"tenant_id": "no spaces", "text": "x"}),
    st.just({"tenant_id": "acme", "text": "x", "timestamp": "soon"}),
    st.just(["not", "an", "object"]),
    st.just(BadRequestError("line 3 is not valid JSON: Expecting value at line 1 column 1")),
)


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.tuples(st.booleans(), valid_logs, invalid_logs), min_size=1, max_size=25))
def test_any_mix_of_logs_is_answered_log_by_log_in_request_order(
    items: list[tuple[bool, dict[str, Any], Any]],
) -> None:
    logs = [valid if is_valid else invalid for is_valid, valid, invalid in items]
    sent: list[str] = []

    def send_all(bodies: list[str], tenants: list[str]) -> list[None]:
        sent.extend(bodies)
        return [None] * len(bodies)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queue, "send", lambda body, tenant_id: sent.append(body))
        patch.setattr(queue, "send_all", send_all)
        context = LogContext("req-1", "2026-11-21T10:00:00.000Z", "json_upload", single=False)
        outcomes = ingest.enqueue_logs(logs, context)
    assert len(outcomes) == len(logs)
    for (is_valid, valid, _), outcome in zip(items, outcomes, strict=True):
        if is_valid:
            assert (outcome.status, outcome.tenant_id, outcome.log_id) == (
                202,
                valid["tenant_id"],
                valid["log_id"],
            )
        else:
            assert outcome.status == 400
            assert isinstance(outcome.error, BadRequestError)
    queued = [json.loads(body)["log_id"] for body in sent]
    assert queued == [valid["log_id"] for is_valid, valid, _ in items if is_valid]
    answer = ingest.batch_answer(outcomes, "req-1")
    assert answer.status == (202 if queued else 400)
    assert [item["status"] for item in answer.body["items"]] == [o.status for o in outcomes]
