"""The logic behind app.py: one module per job (normalize, redact, store, queue, ...)."""
