"""The HTTP API: authenticate, validate, deduplicate, enqueue, answer."""
