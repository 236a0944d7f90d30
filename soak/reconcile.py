"""Hold every log the API accepted against what the table and the dead-letter queue hold.

The table's key makes two items under one (tenant_id, log_id) impossible, so "no duplicates"
would be true by construction if it only meant that. Every text the soak posts is unique (it
starts with its own tenant, log id and variant), which lets a stored item be traced back to the
post it came from whatever key it sits under:

- **stored**: items in the table; a log counts as stored when an item under its key holds a
  text that was posted under that key;
- **lost**: accepted (answered 202 at least once) yet neither stored nor in the dead-letter
  queue;
- **duplicates**: a text stored more than once (necessarily under different keys), or stored
  under another log id of the same tenant;
- **wrong partition**: a text stored under a tenant other than the one it was posted for;
- **unknown**: an item holding a text nobody posted;
- **wrong redaction**: an item whose `modified_data` is not `redact(original_text)`, still
  holds a planted phone number or address, or lost a planted look-alike; or whose attributes
  are not the planned ones redacted (`redact_attributes`), or still hold planted PII;
- **wrong log ids**: a batch's answer gave a log another log_id than the planned one (given,
  derived from the Idempotency-Key, or derived by the API's own OTLP decoder from our request);
- **stored though refused**: an item for a log whose every answer refused it (400, 413);
- **in the dead-letter queue**: accepted logs found there and not in the table.

A batched log is one submission like a single one: the batch's attempts as that log saw them.
Since each batched log is planned under the id the API must give it, "stored" also proves that
each batch's given or derived ids map to exactly one item.

An item may come from a post the client never saw accepted: SQS took the message but the
answer was lost, the client got a 503 and posted again. Its request id is then not one the
client saw; such items are counted, and they are not failures. OTLP answers carry no request
id, so OTLP logs are left out of that count.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.attributes import redact_attributes
from chalicelib.message import InvalidFieldError, LogMessage
from chalicelib.redact import redact
from chalicelib.store import attributes_json
from soak.load import FORMS, KEEP_SAMPLES, PII_SAMPLES, PlannedLog, Submission

Key = tuple[str, str]
Item = Mapping[str, Any]


@dataclass(frozen=True)
class Figures:
    """The soak's outcome; `passed` is the bar: nothing lost, doubled, misplaced or misredacted."""

    posted: int
    accepted: int
    refused: int
    unexpected_answers: int
    gave_up: int
    stored: int
    duplicates: int
    lost: int
    in_dead_letter_queue: int
    poison_injected: int
    poison_in_dead_letter_queue: int
    wrong_partition: int
    wrong_redaction: int
    wrong_log_ids: int
    stored_though_refused: int
    unknown: int
    reposted: int
    changed_text: int
    changed_text_kept_first: int
    stored_from_unacknowledged_post: int
    stored_on_redelivery: int
    post_seconds: tuple[float, ...] = field(repr=False)
    post_to_stored_seconds: tuple[float, ...] = field(repr=False)
    examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def failures(self) -> dict[str, int]:
        """Each figure that breaks the bar, with its count."""
        counts = {
            "lost": self.lost,
            "duplicates": self.duplicates,
            "wrong partition": self.wrong_partition,
            "wrong redaction": self.wrong_redaction,
            "wrong log ids": self.wrong_log_ids,
            "stored though refused": self.stored_though_refused,
            "unknown items": self.unknown,
            "unexpected answers": self.unexpected_answers,
            "poison not in the dead-letter queue": self.poison_injected
            - self.poison_in_dead_letter_queue,
        }
        return {name: count for name, count in counts.items() if count}

    @property
    def passed(self) -> bool:
        """Zero lost, duplicated, misplaced, misredacted; every answer expected; poison caught."""
        return not self.failures


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def epoch_seconds(timestamp: str) -> float:
    """Seconds since the epoch of a stored timestamp (`2026-11-21T10:00:00.000Z`)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@dataclass
class _Ledger:
    """What the client did, by key and by text."""

    owner: dict[str, Key] = field(default_factory=dict)
    planned: dict[str, PlannedLog] = field(default_factory=dict)
    accepted: dict[Key, list[Submission]] = field(default_factory=lambda: defaultdict(list))
    refused: set[Key] = field(default_factory=set)
    first_post: dict[Key, float] = field(default_factory=dict)

    @classmethod
    def of(cls, submissions: Iterable[Submission]) -> _Ledger:
        ledger = cls()
        for submission in submissions:
            key = (submission.log.tenant_id, submission.log.log_id)
            ledger.owner[submission.text] = key
            ledger.planned[submission.text] = submission.log
            ledger.first_post.setdefault(key, submission.started)
            if submission.status == 202:
                ledger.accepted[key].append(submission)
            elif _settled(submission):
                ledger.refused.add(key)
        ledger.refused -= ledger.accepted.keys()
        return ledger

    def request_ids(self, key: Key) -> set[str]:
        """Request ids the client saw in 202 answers for `key`."""
        return {i for s in self.accepted.get(key, []) for i in s.accepted_request_ids}


def _redaction_ok(item: Item, log: PlannedLog) -> bool:
    original, modified = str(item["original_text"]), str(item["modified_data"])
    if modified != redact(original):
        return False
    attributes = str(item.get("attributes", ""))
    if attributes != attributes_json(redact_attributes(dict(log.attributes))):
        return False
    if any(sample in modified or sample in attributes for sample in PII_SAMPLES):
        return False
    return all(sample in modified for sample in KEEP_SAMPLES if sample in original)


def _dead_letter_keys(bodies: Iterable[str]) -> set[Key]:
    keys: set[Key] = set()
    for body in bodies:
        try:
            message = LogMessage.from_json(body)
        except InvalidFieldError:
            continue
        keys.add((message.tenant_id, message.log_id))
    return keys


def _verdict(item: Item, ledger: _Ledger) -> str:
    """Where an item stands: placed (under the key its text was posted with), or what is wrong."""
    key = (str(item["tenant_id"]), str(item["log_id"]))
    owner = ledger.owner.get(str(item["original_text"]))
    if owner is None:
        return "unknown"
    if owner[0] != key[0]:
        return "wrong partition"
    if owner != key:
        return "duplicate"
    planned = ledger.planned[str(item["original_text"])]
    return "placed" if _redaction_ok(item, planned) else "wrong redaction"


def _expected_status(submission: Submission) -> int:
    """A planned log's first text must get the planned status; any later post must get 202."""
    return submission.log.expect if submission.text == submission.log.texts[0] else 202


def _settled(submission: Submission) -> bool:
    """Whether the client got an answer that ends its retries (not 5xx, 429 or silence)."""
    status = submission.status
    return status is not None and status < 500 and status != 429


def _wrong_log_id(submission: Submission) -> bool:
    """Whether an answer gave the log another log_id than the one planned for it."""
    return any(a.log_id not in (None, submission.log.log_id) for a in submission.attempts)


def reconcile(
    submissions: Sequence[Submission],
    items: Sequence[Item],
    dead_letters: Sequence[str],
    poison: Sequence[str],
) -> Figures:
    """Compare the client's submissions with the table's items and the dead-letter bodies."""
    ledger = _Ledger.of(submissions)
    verdicts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    placed: dict[Key, Item] = {}
    for item in items:
        key = (str(item["tenant_id"]), str(item["log_id"]))
        verdict = _verdict(item, ledger)
        verdicts[verdict] += 1
        if verdict == "placed" or verdict == "wrong redaction":
            placed[key] = item
        if verdict != "placed":
            examples[verdict].append(f"{key[0]}/{key[1]}")
    dead_keys = _dead_letter_keys(dead_letters)
    missing = [key for key in ledger.accepted if key not in placed]
    lost = [key for key in missing if key not in dead_keys]
    examples["lost"] = [f"{tenant}/{log_id}" for tenant, log_id in lost]
    examples["in the dead-letter queue"] = [
        f"{tenant}/{log_id}" for tenant, log_id in missing if (tenant, log_id) in dead_keys
    ]
    changed = {key for key, subs in ledger.accepted.items() if len({s.text for s in subs}) > 1}
    return Figures(
        posted=len(ledger.first_post),
        accepted=len(ledger.accepted),
        refused=sum(1 for s in submissions if s.status in (400, 413)),
        unexpected_answers=sum(
            1 for s in submissions if _settled(s) and s.status != _expected_status(s)
        ),
        gave_up=sum(1 for s in submissions if not _settled(s)),
        stored=len(items),
        duplicates=verdicts["duplicate"],
        lost=len(lost),
        in_dead_letter_queue=len(missing) - len(lost),
        poison_injected=len(poison),
        poison_in_dead_letter_queue=sum((Counter(dead_letters) & Counter(poison)).values()),
        wrong_partition=verdicts["wrong partition"],
        wrong_redaction=verdicts["wrong redaction"],
        wrong_log_ids=sum(1 for s in submissions if _wrong_log_id(s)),
        stored_though_refused=len(ledger.refused & placed.keys()),
        unknown=verdicts["unknown"],
        reposted=sum(
            1 for key, subs in ledger.accepted.items() if len(subs) > 1 and key not in changed
        ),
        changed_text=len(changed),
        changed_text_kept_first=sum(
            1
            for key in changed & placed.keys()
            if placed[key]["original_text"] == ledger.accepted[key][0].text
        ),
        stored_from_unacknowledged_post=sum(
            1
            for key, item in placed.items()
            if ledger.request_ids(key) and str(item["request_id"]) not in ledger.request_ids(key)
        ),
        stored_on_redelivery=sum(1 for item in placed.values() if int(item.get("attempt", 1)) > 1),
        post_seconds=tuple(
            a.seconds
            for s in submissions
            if s.log.form in FORMS
            for a in s.attempts
            if a.status in (202, 413)
        ),
        post_to_stored_seconds=tuple(
            epoch_seconds(str(item["processed_at"])) - ledger.first_post[key]
            for key, item in placed.items()
        ),
        examples={name: tuple(keys[:10]) for name, keys in examples.items() if keys},
    )
