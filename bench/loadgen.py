"""An asyncio HTTP/1.1 load generator, run as its own process: ``python -m bench.loadgen SPEC.json``.

It is the fallback when wrk is not installed, and the sender of exact counts (the processing and
memory scenarios need to know how many events were accepted) and of paced, open-loop traffic.
Keep-alive connections, ``Content-Length`` bodies only: enough for uvicorn, and cheap per request.
The API key comes from ``BENCH_API_KEY``; the results go to stdout as one JSON document.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.workload import Workload

TIMEOUT_S = 10


@dataclass
class Tally:
    """Shared between the connections of this process: the next request number and what came back."""

    workload: Workload
    sender: int
    started: float
    deadline: float
    count: int | None
    rate: float | None
    issued: int = 0
    events: int = 0
    deduped: int = 0
    socket_errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    finished: float = 0.0

    def take(self) -> int | None:
        """The next request's number, or None once the count is reached or the time is up."""
        if (self.count is not None and self.issued >= self.count) or time.monotonic() >= self.deadline:
            return None
        self.issued += 1
        return self.issued - 1

    def record(self, status: int, body: bytes, latency_s: float) -> None:
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        self.latencies_ms.append(round(latency_s * 1000, 2))
        if status == self.workload.ok_status and self.workload.batch:
            self.events += body.count(b'"status":"accepted"')
            self.deduped += body.count(b'"status":"duplicate"')
        elif status == self.workload.ok_status and b'"deduped":true' in body:
            self.deduped += 1
        elif status == self.workload.ok_status:
            self.events += 1
        self.finished = time.monotonic()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed by the server")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise ConnectionError("chunked responses are not supported")
    return status, await reader.readexactly(length)


async def _connection(tally: Tally, host: str, port: int, key: str) -> None:
    head = f"POST %s HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while (number := tally.take()) is not None:
        if tally.rate:
            await asyncio.sleep(max(0.0, tally.started + number / tally.rate - time.monotonic()))
        path, body = tally.workload.request(number, tally.sender)
        request = (head % (path, len(body))).encode() + body
        try:
            if stream is None:
                stream = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT_S)
            sent = time.monotonic()
            status, answer = await asyncio.wait_for(_exchange(*stream, request), TIMEOUT_S)
            tally.record(status, answer, time.monotonic() - sent)
        except (OSError, ConnectionError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.socket_errors += 1
            if stream is not None:
                stream[1].close()
            stream = None
    if stream is not None:
        stream[1].close()


async def run(spec: dict[str, Any], key: str) -> dict[str, Any]:
    target = urlsplit(spec["base_url"])
    if target.hostname != "127.0.0.1":
        raise SystemExit("bench.loadgen sends traffic to 127.0.0.1 only")
    now = time.monotonic()
    tally = Tally(
        workload=Workload.from_json(spec["workload"]),
        sender=spec["sender_base"],
        started=now,
        deadline=now + spec["duration_s"],
        count=spec["count"],
        rate=spec["rate"],
    )
    port = target.port or 80
    await asyncio.gather(*(_connection(tally, "127.0.0.1", port, key) for _ in range(spec["connections"])))
    return {
        "duration_s": max(tally.finished, now) - now,
        "requests": sum(tally.statuses.values()),
        "events": tally.events,
        "deduped": tally.deduped,
        "statuses": tally.statuses,
        "socket_errors": tally.socket_errors,
        "latencies_ms": tally.latencies_ms,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    json.dump(asyncio.run(run(spec, os.environ["BENCH_API_KEY"])), sys.stdout)


if __name__ == "__main__":
    main()
