"""Ingest's event lines: whatever a client posts, accepted or refused, no text or PII is logged."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from chalice.app import ChaliceViewError
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import ingest, queue
from chalicelib.limiter import Admission
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
        patch.setattr(ingest, "admit", lambda tenant, sizes: Admission(len(sizes)))
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
