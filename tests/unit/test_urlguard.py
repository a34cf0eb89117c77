"""Live webhooks go only to public https hosts; sandbox ones may go over http and to a local receiver too,
never to the private network."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from actors import webhooks
from models import urlguard
from models.errors import InvalidInput
from models.urlguard import Unresolved, check_url
from models.webhooks import WebhookEndpoint, WebhookEvent


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
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "https://[64:ff9b:1::1]/hook",
        "https://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
        "https://[::7f00:1]/hook",  # IPv4-compatible 127.0.0.1
        "https://[::ffff:0:a00:1]/hook",  # SIIT of 10.0.0.1
        "https://[fec0::1]/hook",  # site-local
    ],
)
def test_live_refuses_non_public_or_plain_http(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(check_url(url, "live"))
    assert refused.value.field == "url"


def test_live_accepts_public_https_address() -> None:
    for url in ["https://93.184.215.14/hook", "https://[2606:4700::1111]/hook", "https://[64:ff9b::5db8:d70e]/"]:
        asyncio.run(check_url(url, "live"))


def test_sandbox_accepts_local_http() -> None:
    for url in ["http://127.0.0.1:9999/hook", "http://localhost/hook", "http://[::1]/hook", "http://93.184.215.14/"]:
        asyncio.run(check_url(url, "test"))
    with pytest.raises(InvalidInput):
        asyncio.run(check_url("ftp://127.0.0.1/hook", "test"))


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/hook",
        "http://[::ffff:10.0.0.8]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_sandbox_refuses_the_private_network(url: str) -> None:
    with pytest.raises(InvalidInput, match="private") as refused:
        asyncio.run(check_url(url, "test"))
    assert refused.value.field == "url"


@pytest.mark.parametrize("mode", ["live", "test"])
@pytest.mark.parametrize("url", ["https://[abc/hook", "https://example.com:99999/hook", "https://example.com:x/"])
def test_a_malformed_url_is_refused(url: str, mode: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(check_url(url, mode))
    assert refused.value.field == "url"


def test_a_name_that_does_not_resolve_is_unresolved_and_one_that_is_no_name_refused() -> None:
    """A delivery retries the first (DNS failures pass), never the second."""
    with pytest.raises(Unresolved) as unresolved:
        asyncio.run(check_url("https://nothing.invalid/hook", "live"))  # RFC 2606: never resolves
    assert unresolved.value.field == "url"
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(check_url(f"https://{'a' * 64}.com/hook", "live"))  # a label over 63 characters
    assert not isinstance(refused.value, Unresolved) and refused.value.field == "url"


@pytest.mark.parametrize("url", ["https://localhost:9/hook", "https://[::1]:9/hook", "https://10.0.0.8:9/hook"])
def test_a_live_delivery_connects_only_to_a_public_address(url: str) -> None:
    async def post(mode: str, url: str) -> None:
        async with webhooks._new_client(mode, 2) as client:
            await client.post(url, content=b"{}")

    with pytest.raises(InvalidInput):
        asyncio.run(post("live", url))
    with pytest.raises(httpx.ConnectError):  # a sandbox's may go to a local receiver: here, none listens
        asyncio.run(post("test", "http://127.0.0.1:9/hook"))
    with pytest.raises(InvalidInput):  # but not to the private network
        asyncio.run(post("test", "http://10.0.0.8:9/hook"))


def test_a_name_re_pointed_at_loopback_after_the_check_is_refused_at_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the check before the attempt sees a public address, the connection would get loopback."""
    answers: Iterator[str] = iter(["93.184.215.14", "127.0.0.1"])

    async def resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(next(answers))]

    monkeypatch.setattr(urlguard, "_addresses", resolve)
    endpoint = WebhookEndpoint(
        tenant_id="t", mode="live", url="https://rebound.example/hook", events=["*"], secret="whsec_" + "A" * 32
    )
    event = WebhookEvent(id="evt_1", tenant_id="t", mode="live", type="lootbox.opened", data={})

    async def deliver() -> tuple[int | None, str | None, int]:
        client = webhooks._new_client("live", 2)
        monkeypatch.setitem(webhooks._clients, "live", lambda: client)
        return await webhooks._post(endpoint, event)

    status, error, _ = asyncio.run(deliver())
    assert status is None and error is not None and error.startswith(webhooks.REFUSED), error
