"""A webhook receiver on loopback that records every request and answers from a script of statuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    answered: int
    at: float
    peer: tuple[str, int]  # the sender's address and port: one connection kept open shows one port


@dataclass
class Receiver:
    url: str
    script: list[int] = field(default_factory=list)  # statuses to answer in turn; then 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def receiver(
    script: list[int] | None = None, *, port: int = 0, delay_s: float = 0.0, together: int = 1
) -> Iterator[Receiver]:
    """A receiver on a free port (or *port*); *together* > 1 holds each request until that many are waiting,
    then answers them all at once."""
    state = Receiver(url="", script=list(script or []), delay_s=delay_s)
    lock = threading.Lock()
    gathered = threading.Barrier(together)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # a sender may keep its connection open between requests

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length)
            if len(raw) < length:  # the sender stopped mid-body (a killed worker): no request was made
                self.close_connection = True
                return
            body = raw.decode()
            if state.delay_s:
                time.sleep(state.delay_s)
            gathered.wait(timeout=30)
            with lock:
                status = state.script.pop(0) if state.script else 200
                state.received.append(
                    Received(
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        status,
                        time.monotonic(),
                        self.client_address,
                    )
                )
            self.send_response(status)
            self.send_header("set-cookie", "receiver-session=1; Path=/")  # which a sender must not send back
            if 300 <= status < 400:
                self.send_header("location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
