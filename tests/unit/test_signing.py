"""Signatures that the Standard Webhooks reference library accepts, and that we refuse when wrong."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook

from models.signing import SignatureError, new_secret, sign, verify


def test_reference_library_verifies_our_signature() -> None:
    secret = new_secret()
    timestamp = int(time.time())
    body = '{"id":"msg_1","type":"lootbox.opened","data":{}}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, "msg_1", timestamp, body),
    }
    assert Webhook(secret).verify(body, headers) == {"id": "msg_1", "type": "lootbox.opened", "data": {}}


def test_tampered_body_and_stale_timestamp_are_refused() -> None:
    secret = new_secret()
    now = int(time.time())
    signature = sign(secret, "msg_1", now, "{}")
    verify(secret, "msg_1", str(now), "{}", signature)
    with pytest.raises(SignatureError):
        verify(secret, "msg_1", str(now), "{ }", signature)
    with pytest.raises(SignatureError):
        verify(secret, "msg_1", str(now - 3600), "{}", sign(secret, "msg_1", now - 3600, "{}"))
