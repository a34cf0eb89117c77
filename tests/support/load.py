"""Many concurrent requests from one test, with bounded concurrency (httpx slows down past a few
dozen requests queued on one client, which would measure the client rather than the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

Request = tuple[str, dict[str, Any]]  # (absolute URL, JSON body)
IDEMPOTENT = {"idempotency_key", "source_wager_id", "source_event_id"}  # fields that make a write safe to resend


def post_many(requests: Sequence[Request], key: str, *, concurrency: int = 64) -> list[httpx.Response]:
    """POST every request concurrently (at most *concurrency* in flight); responses in request order."""
    return asyncio.run(post_many_async(requests, key, concurrency))


async def post_many_async(requests: Sequence[Request], key: str, concurrency: int = 64) -> list[httpx.Response]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits) as client:

        async def one(url: str, body: dict[str, Any]) -> httpx.Response:
            async with gate:
                try:
                    return await client.post(url, json=body)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    if not IDEMPOTENT.intersection(body):
                        raise
                    # A kept-alive connection closed by the server as the request went out (its idle
                    # timer fired on a loaded machine): a client sends an idempotent write again, and
                    # the test's exact counts still prove that it took effect once.
                    return await client.post(url, json=body)

        return await asyncio.gather(*(one(url, body) for url, body in requests))


async def post_each_async(requests: Sequence[Request], key: str, *, concurrency: int = 64) -> list[int | None]:
    """Like :func:`post_many_async`, but a request whose connection failed gives None instead of raising."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits) as client:

        async def one(url: str, body: dict[str, Any]) -> int | None:
            async with gate:
                try:
                    return (await client.post(url, json=body)).status_code
                except httpx.TransportError:
                    return None

        return await asyncio.gather(*(one(url, body) for url, body in requests))
