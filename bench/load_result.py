"""What one load-generator run saw, whichever generator ran."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoadResult:
    """What one load-generator run saw; ``events`` counts accepted events (a batch holds many)."""

    generator: str
    duration_s: float
    requests: int
    events: int
    deduped: int
    statuses: dict[str, int]
    socket_errors: int
    latency_ms: dict[str, float]

    @property
    def rate(self) -> float:
        """Accepted events per second."""
        return self.events / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "events": self.events,
            "deduped": self.deduped,
            "rate": round(self.rate, 1),
            "statuses": self.statuses,
            "socket_errors": self.socket_errors,
            "latency_ms": self.latency_ms,
        }
