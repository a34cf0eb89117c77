"""The benchmark: the real stack and its floors, measured in the same run, reported as ratios.

``make bench`` (or ``python -m bench``) starts a private Redis, a fresh database and the stack the
way ``make run`` does, drives it over HTTP with a separate load-generator process, measures the
floors (a bare Litestar handler, a bare Dramatiq no-op drain, a bare Dramatiq result round trip) on
the same machine and Redis, and writes ``bench/results/<date>.{json,md,png}``.
"""
