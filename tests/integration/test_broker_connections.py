"""The broker's blocking Redis client keeps a bounded number of connections, however many threads use it:
Dramatiq's worker threads acknowledge their own messages, up to 256 of them at once in an events worker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from models.redis_client import connect_sync


def test_many_threads_share_a_bounded_pool_and_each_gets_its_answer(redis_url: str) -> None:
    observer = connect_sync(redis_url)
    before = int(observer.info("clients")["connected_clients"])
    client = connect_sync(redis_url, max_connections=8)

    def busy(n: int) -> bytes:
        client.blpop(["never-filled"], timeout=0.05)  # holds its connection a moment, as an acknowledgement may
        return client.echo(str(n))  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=64) as threads:
        answers = list(threads.map(busy, range(256)))
    assert answers == [str(n).encode() for n in range(256)]
    opened = int(observer.info("clients")["connected_clients"]) - before
    assert 1 <= opened <= 8  # one per thread (64) without the bound: the pool keeps what it opened
    client.close()
    observer.close()
