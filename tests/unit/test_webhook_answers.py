"""A receiver's answer bounds nothing but its own attempt: it is read within the attempt's timeout, and
only so far."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from actors import webhooks
from models.webhooks import WebhookEndpoint, WebhookEvent


@contextmanager
def _receiver(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A receiver on a local port that reads the request's head and then *answer*s on the raw socket."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            with suppress(OSError):  # the attempt dropped the connection
                answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.close()
        thread.join(timeout=5)


def _attempt(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int | None, str | None, int]:
    endpoint = WebhookEndpoint(tenant_id="t", mode="test", url=url, events=["*"], secret="whsec_" + "A" * 32)
    event = WebhookEvent(id="evt_1", tenant_id="t", mode="test", type="lootbox.opened", data={})

    async def deliver() -> tuple[int | None, str | None, int]:
        client = webhooks._new_client("test", 1.0)
        monkeypatch.setitem(webhooks._clients, "test", lambda: client)
        return await asyncio.wait_for(webhooks._post(endpoint, event), 10)  # the old attempt never ended

    return asyncio.run(deliver())


def test_an_answer_trickled_byte_by_byte_ends_the_attempt_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    def trickle(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(40):  # each read waits well under the client's 1 s
            connection.sendall(b"1\r\nx\r\n")
            time.sleep(0.2)

    with _receiver(trickle) as url:
        status, error, latency_ms = _attempt(url, monkeypatch)
    assert (status, error) == (None, "timeout") and latency_ms < 3000


def test_only_the_head_of_a_huge_answer_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = [0]
    size = 256 * 1024 * 1024

    def flood(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"\0" * 65536
        while sent[0] < size:
            connection.sendall(block)
            sent[0] += len(block)

    with _receiver(flood) as url:
        status, error, _ = _attempt(url, monkeypatch)
    assert (status, error) == (200, None)
    assert sent[0] < size // 4, sent[0]  # dropped after the first 64 KiB, whatever the socket buffers took
