"""Live webhooks go only to public https hosts; sandbox ones may go to a local receiver."""

from __future__ import annotations

import asyncio

import pytest

from models.errors import InvalidInput
from models.urlguard import Unresolved, check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://user:pw@93.184.215.14/hook",
    ],
)
def test_live_refuses_non_public_or_plain_http(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(check_url(url, "live"))
    assert refused.value.field == "url"


def test_live_accepts_public_https_address() -> None:
    asyncio.run(check_url("https://93.184.215.14/hook", "live"))


def test_sandbox_accepts_local_http() -> None:
    asyncio.run(check_url("http://127.0.0.1:9999/hook", "test"))
    with pytest.raises(InvalidInput):
        asyncio.run(check_url("ftp://127.0.0.1/hook", "test"))


def test_a_name_that_does_not_resolve_is_unresolved_and_one_that_is_no_name_refused() -> None:
    """A delivery retries the first (DNS failures pass), never the second."""
    with pytest.raises(Unresolved) as unresolved:
        asyncio.run(check_url("https://nothing.invalid/hook", "live"))  # RFC 2606: never resolves
    assert unresolved.value.field == "url"
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(check_url(f"https://{'a' * 64}.com/hook", "live"))  # a label over 63 characters
    assert not isinstance(refused.value, Unresolved) and refused.value.field == "url"
