"""The soak harness: chaos runs against the local stack, their load, reconciliation and report."""
