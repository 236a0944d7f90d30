"""Redaction: MB/s on realistic lines, linear growth on hard inputs, quality beside Presidio.

Throughput counts UTF-8 bytes in, one core, every default class on. Realistic text is measured
as one long text of lines and line by line (one call per line, as a worker holding one-line
logs calls it), beside a policy with only phone numbers and e-mail addresses, what redaction
covered before the other classes. Adversarial inputs are measured at growing sizes with every
class on (IP addresses too): time per byte at the largest size over time per byte at the
smallest is 1.0 for linear growth. Quality is `bench.quality`'s labeled corpus.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

from bench import quality
from bench.figures import Figure, Row, Section, at_least, throughput
from bench.workload import ADVERSARIAL, log_lines

TARGET_MB_S: Final = 50.0


def _seconds(call: Callable[[], object], repeats: int) -> list[float]:
    """Seconds each of `repeats` calls takes, from a collected heap.

    The sections before leave garbage behind them; a full collection of it would land in
    one of the timed calls (a third of its speed, seen in full runs), and is no redaction's.
    The calls' own collections stay in, as timeit does not (it turns the collector off).
    """
    gc.collect()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _line_by_line(lines: list[str]) -> None:
    from chalicelib.redact import redact

    for line in lines:
        redact(line)


def _realistic(size: int, repeats: int) -> list[Row]:
    from chalicelib.redact import redact
    from chalicelib.redaction_policy import policy_from_settings

    contact_only = policy_from_settings(
        {"classes": {kind: kind in {"email", "phone"} for kind in _classes()}}
    )
    rows = []
    for label, pii in (("without PII", False), ("with one thing to redact each", True)):
        lines = log_lines(max(1, size // 150), pii)
        text = "\n".join(lines)
        size_bytes = len(text.encode())
        redact(text)  # imports and caches, as a warm worker has them
        block = _seconds(partial(redact, text), repeats)
        contact = _seconds(partial(redact, text, contact_only), repeats)
        by_line = _seconds(partial(_line_by_line, lines), repeats)
        speed = throughput(size_bytes, block)
        rows += [
            Row(
                f"realistic lines {label}",
                "MB/s",
                speed,
                floor=throughput(size_bytes, contact),
                ratio=Figure.of(one / other for one, other in zip(contact, block, strict=True)),
                target=at_least(TARGET_MB_S, speed.median, "MB/s"),
            ),
            Row(
                f"  the same, one call per line ({len(lines)} lines)",
                "MB/s",
                throughput(size_bytes, by_line),
            ),
        ]
    return rows


def _classes() -> tuple[str, ...]:
    from chalicelib.redaction_policy import CLASSES

    return CLASSES


def _adversarial(sizes: Sequence[int], repeats: int) -> list[Row]:
    from chalicelib.redact import redact
    from chalicelib.redaction_policy import policy_from_settings

    everything = policy_from_settings({"classes": {"ip": True}})
    rows = []
    smallest, largest = sizes[0], sizes[-1]
    for name, make in ADVERSARIAL.items():
        per_byte = {
            size: [
                seconds / size
                for seconds in _seconds(partial(redact, make(size), everything), repeats)
            ]
            for size in sizes
        }
        growth = Figure.of(
            large / small
            for large, small in zip(per_byte[largest], per_byte[smallest], strict=True)
        )
        rows.append(
            Row(
                f"{name}, {largest // 1024} KB",
                "MB/s",
                Figure.of(1 / seconds / 1e6 for seconds in per_byte[largest]),
                ratio=growth,
            )
        )
    return rows


def _percent(value: float) -> Figure:
    return Figure.of([value * 100])


def _quality(lines: int) -> tuple[list[Row], list[str]]:
    corpus = quality.corpus(lines)
    ours = quality.ours(corpus)
    peer = quality.presidio(corpus)
    rows: list[Row] = []
    missing: list[str] = []
    for kind in _classes():
        for measure, mine, theirs in (
            ("recall", ours.recall.get(kind), peer.recall.get(kind) if peer else None),
            ("precision", ours.precision.get(kind), peer.precision.get(kind) if peer else None),
        ):
            if mine is None:
                missing.append(f"{kind} {measure}: nothing predicted")
                continue
            if theirs is not None and theirs > 0:
                rows.append(
                    Row(
                        f"{kind}: {measure}",
                        "%",
                        _percent(mine),
                        floor=_percent(theirs),
                        ratio=Figure.of([mine / theirs]),
                    )
                )
                continue
            if peer is not None and kind in quality.PRESIDIO_CLASSES:
                missing.append(f"{kind} {measure}: Presidio {0 if theirs == 0 else 'n/a'}")
            rows.append(Row(f"{kind}: {measure}", "%", _percent(mine)))
    rows.append(
        Row(
            "look-alikes left intact",
            "%",
            _percent(ours.intact),
            floor=_percent(peer.intact) if peer else None,
            ratio=Figure.of([ours.intact / peer.intact]) if peer else None,
        )
    )
    rows.append(
        Row(
            "speed on this corpus, one call per line",
            "MB/s",
            Figure.of([ours.mb_per_second]),
            floor=Figure.of([peer.mb_per_second]) if peer else None,
            ratio=Figure.of([ours.mb_per_second / peer.mb_per_second]) if peer else None,
        )
    )
    notes = [
        f"{lines} lines generated from seed {quality.SEED} by `bench/quality.py`: log lines of "
        "four shapes, each with one labeled item of a random class (IP addresses included) "
        "and two look-alikes. Ours: every class on. Recall: labeled items covered whole by "
        "what is redacted; precision: redacted spans of a class that overlap a labeled item.",
        "Presidio "
        + (
            "(`.venv-peers`, requirements-peers.txt): its analyzer with the NoOp NLP engine and "
            "the e-mail, phone (phonenumbers), credit card, US SSN, IBAN and IP recognizers, "
            "all results whatever their score; it has no recognizer for the credential classes."
            if peer
            else "not measured: `.venv-peers` is missing (`make bench` builds it)."
        ),
        "We generate this corpus and tuned against what it found; the issue's goal is 99% "
        "found and 99% intact on corpora we do not see.",
        *missing,
    ]
    return rows, notes


def measure(
    size: int, repeats: int, adversarial_sizes: Sequence[int], quality_lines: int
) -> list[Section]:
    """The three redaction sections.

    Realistic text of about `size` characters, adversarial inputs at `adversarial_sizes`,
    quality on `quality_lines` labeled lines.
    """
    quality_rows, quality_notes = _quality(quality_lines)
    return [
        Section(
            "Redaction: realistic log lines",
            _realistic(size, repeats),
            floor_label="phone and e-mail only",
            ratio_label="share of that speed",
            notes=[
                "Every default class on (all but IP addresses), plain placeholders. The floor "
                "is the same text with only phone numbers and e-mail addresses on.",
                "One call per line pays a fixed cost per call (encoding, the byte searches, one "
                "RE2 scan, some microseconds) that weighs on 150-byte lines; it is the same "
                "whatever the line holds.",
            ],
        ),
        Section(
            "Redaction: adversarial inputs",
            _adversarial(adversarial_sizes, repeats),
            ratio_label="time/byte, largest / smallest",
            notes=[
                f"Sizes {', '.join(f'{size // 1024} KB' for size in adversarial_sizes)}, every "
                "class on; the last column is 1.0 when time grows linearly with the input.",
            ],
        ),
        Section(
            "Redaction: quality per class",
            quality_rows,
            floor_label="Presidio",
            ratio_label="x Presidio",
            notes=quality_notes,
        ),
    ]
