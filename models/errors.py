"""Domain errors: raised by business functions, mapped to problem details in one place in ``api/``.

Actors send errors back to the API as plain dicts (:meth:`DomainError.to_dict`), so every error
carries only primitives.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error a client can cause; ``slug`` names the problem type."""

    slug: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "Request refused"

    def __init__(self, detail: str, *, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "detail": self.detail, "field": self.field, "retry_after": self.retry_after}

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> DomainError:
        kind = _BY_SLUG.get(raw["slug"], DomainError)
        return kind(raw["detail"], field=raw.get("field"), retry_after=raw.get("retry_after"))


class InvalidInput(DomainError):
    slug = "invalid-input"
    title = "Invalid input"


class NotFound(DomainError):
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    slug = "conflict"
    title = "Conflict"


class InsufficientBalance(DomainError):
    slug = "insufficient-balance"
    title = "Insufficient balance"


class Cooldown(DomainError):
    slug = "cooldown"
    title = "Cooling down"


class RateLimited(DomainError):
    slug = "rate-limited"
    title = "Too many requests"


class IdempotencyKeyReused(DomainError):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class Unauthorized(DomainError):
    slug = "unauthorized"
    title = "Unauthorized"


class Forbidden(DomainError):
    slug = "forbidden"
    title = "Forbidden"


class Unavailable(DomainError):
    slug = "unavailable"
    title = "Service unavailable"


_BY_SLUG: dict[str, type[DomainError]] = {
    kind.slug: kind
    for kind in (
        InvalidInput,
        NotFound,
        Conflict,
        InsufficientBalance,
        Cooldown,
        RateLimited,
        IdempotencyKeyReused,
        Unauthorized,
        Forbidden,
        Unavailable,
    )
}
