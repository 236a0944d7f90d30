"""Presidio's recognizers for the classes we share, run in `.venv-peers` by `bench.quality`.

Reads a JSON list of texts on stdin and writes `{"seconds": s, "spans": [[[start, end,
entity], ...], ...]}`: what Presidio's analyzer, with its NoOp NLP engine (no model, pattern
and phonenumbers recognizers only), finds in each text, and how long that took. It imports
nothing of ours: the peers' virtualenv holds Presidio and its pins, not the app.
"""

from __future__ import annotations

import json
import sys
import time

import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine.no_op_nlp_engine import NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

#: Presidio's entity for each of our classes.
ENTITIES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "card",
    "US_SSN": "ssn",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip",
}


def analyzer() -> AnalyzerEngine:
    """An analyzer with only the recognizers for our classes, and no NLP model."""
    registry = RecognizerRegistry()
    for recognizer in (
        EmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        UsSsnRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine)


def main() -> None:
    """Analyze every text from stdin; print the spans and the seconds they took."""
    # The e-mail recognizer checks domains with tldextract, which would fetch the public
    # suffix list from the internet: the snapshot bundled with tldextract does instead.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    texts = json.load(sys.stdin)
    engine = analyzer()
    started = time.perf_counter()
    found = [
        [
            [result.start, result.end, ENTITIES[result.entity_type]]
            for result in engine.analyze(text, language="en", entities=list(ENTITIES))
        ]
        for text in texts
    ]
    json.dump({"seconds": time.perf_counter() - started, "spans": found}, sys.stdout)


if __name__ == "__main__":
    main()
