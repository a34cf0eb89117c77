"""The floors: the least the stack's parts could cost on this machine, measured in the same run.

A: a bare Litestar app validating the same JSON bodies (``app.py``), served like the API.
B: a bare Dramatiq no-op actor drained by the events workers' processes and threads (``drain.py``).
C: a bare Dramatiq send and Results round trip at the draws' concurrency (``roundtrip.py``).
"""

NAMESPACE = "bench-floor"  # the floors' Dramatiq namespace on the benchmark's Redis
DRAIN_QUEUE = "floor-drain"
ROUNDTRIP_QUEUE = "floor-roundtrip"
