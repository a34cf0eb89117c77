"""Live webhooks go only to public https hosts; sandbox ones may go to a local receiver."""

from __future__ import annotations

import asyncio

import pytest

from models.errors import InvalidInput
from models.urlguard import check_url


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
