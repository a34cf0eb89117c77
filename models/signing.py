"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``.

Secrets are ``whsec_<base64 of 24 random bytes>``; the HMAC key is the decoded bytes. Verification
compares in constant time and refuses timestamps outside a tolerance, as receivers should.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300


class SignatureError(ValueError):
    """A webhook whose signature or timestamp does not verify."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value for one message."""
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str, msg_id: str, timestamp: str, body: str, signature_header: str, *, now: float | None = None
) -> None:
    """Raise :class:`SignatureError` unless one of the header's signatures matches and the timestamp is fresh."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError("bad timestamp") from None
    if abs((now if now is not None else time.time()) - sent_at) > TOLERANCE_S:
        raise SignatureError("timestamp outside tolerance")
    expected = sign(secret, msg_id, sent_at, body).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signature_header.split()):
        raise SignatureError("no matching signature")
