"""Real parts for tests: a private Redis, a fresh database, the stack's processes, a webhook receiver."""
