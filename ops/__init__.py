"""Operator tools: API keys, the dead-letter queue, stored logs; each locally or with --aws."""
