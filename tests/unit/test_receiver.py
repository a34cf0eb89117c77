"""The tests' webhook receiver records whole requests only: a sender killed mid-body made no request."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx

from tests.support.receiver import receiver


def test_a_request_cut_short_is_not_received_and_the_next_one_is() -> None:
    with receiver() as hooks:
        address = urlsplit(hooks.url)
        with socket.create_connection((address.hostname, address.port)) as cut:
            cut.sendall(b'POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id": "msg_')
        assert httpx.post(hooks.url, json={"id": "msg_whole"}).status_code == 200
        assert [hit.body for hit in hooks.wait_for(1)] == ['{"id":"msg_whole"}']
