"""`make bench`: cold start, ingest, worker, redaction, local stack and package size, measured."""
