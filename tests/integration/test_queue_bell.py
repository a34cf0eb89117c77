"""An idle consumer waits on its queue's bell: a message the API, the sweep or a worker queues wakes it at
once, not at its next look (which these consumers would take 20 s to make)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from redis import Redis

from actors.broker import QUEUE_WEBHOOKS, PromptRedisBroker, bell_key
from actors.scheduler import _REQUEUE
from api.enqueue import _CLAIM_AND_ENQUEUE
from models.redis_client import connect
from tests.support.processes import wait_until

IDLE_POLL_MS = 20_000


class _CountingBroker(PromptRedisBroker):
    """Counts its consumers' fetches (Dramatiq's dispatch script, run against the real Redis)."""

    fetches = 0

    def do_fetch(self, queue_name: str, prefetch: int) -> Any:
        """As Dramatiq's ``do_fetch`` (which its ``__getattr__`` resolves to the dispatch script), counted."""
        self.fetches += 1
        return self._dispatch("fetch")(queue_name, prefetch)  # type: ignore[no-untyped-call]


def _broker(redis_url: str, namespace: str) -> _CountingBroker:
    """A broker whose consumers would take 20 s to look at their queue again on their own."""
    return _CountingBroker(
        idle_poll_ms=IDLE_POLL_MS,
        background_idle_poll_ms=IDLE_POLL_MS,
        loop_client=lambda: connect(redis_url),
        client=Redis.from_url(redis_url, socket_timeout=IDLE_POLL_MS / 1000 + 10),
        namespace=namespace,
    )


def _message(broker: PromptRedisBroker) -> tuple[str, bytes]:
    message_id = str(uuid.uuid4())
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUEUE_WEBHOOKS,
        actor_name="bell_test",
        args=(),
        kwargs={},
        options={"redis_message_id": message_id},
        message_id=message_id,
    )
    return message_id, message.encode()


async def _claim_and_enqueue(url: str, queue: str, message_id: str, data: bytes) -> None:
    client = connect(url)
    keys = [f"claim:{message_id}", f"{queue}.msgs", queue, bell_key(queue)]
    assert await _CLAIM_AND_ENQUEUE(client, keys, [message_id, 60, message_id, data]) == 1
    await client.aclose()


async def _requeue(url: str, queue: str, message_id: str, data: bytes) -> None:
    client = connect(url)
    assert await _REQUEUE(client, [f"{queue}.msgs", queue, bell_key(queue)], [message_id, data]) == 1
    await client.aclose()


async def _send(url: str, queue: str, message_id: str, data: bytes) -> None:
    """As a worker queues a message (a webhook delivery, a retry once due): through the broker."""
    namespace, _, queue_name = queue.rpartition(":")
    sender = _broker(url, namespace)
    sent = sender.enqueue(dramatiq.Message.decode(data))
    assert sent.queue_name == queue_name and sent.message_id == message_id


def _next_once_woken(consumer: Any, enqueue: Any, redis_url: str) -> tuple[MessageProxy, int]:
    """The message *enqueue* queues, taken by *consumer* waiting on its bell, and the fetches it had made
    while it waited."""
    woken: list[MessageProxy | None] = []
    waiting = threading.Thread(target=lambda: woken.append(next(consumer)))
    waiting.start()
    watcher = Redis.from_url(redis_url)
    wait_until(lambda: int(watcher.info("clients")["blocked_clients"]) == 1, what="the consumer to wait")
    blocked_fetches = consumer.broker.fetches
    enqueue()
    waiting.join(timeout=IDLE_POLL_MS / 2000)
    assert not waiting.is_alive(), "the consumer slept through the bell"
    fetched = woken[0] or next(consumer)  # woken before the message was there: it fetches it now
    assert fetched is not None
    return fetched, blocked_fetches


@pytest.mark.parametrize("enqueue", [_claim_and_enqueue, _requeue, _send], ids=["api", "sweep", "worker"])
def test_a_queued_message_wakes_an_idle_consumer(redis_url: str, enqueue: Any) -> None:
    namespace = f"bell-{uuid.uuid4().hex[:8]}"
    broker = _broker(redis_url, namespace)
    consumer = broker.consume(QUEUE_WEBHOOKS, prefetch=4, timeout=IDLE_POLL_MS)
    message_id, data = _message(broker)
    queue = f"{namespace}:{QUEUE_WEBHOOKS}"
    fetched, _ = _next_once_woken(consumer, lambda: asyncio.run(enqueue(redis_url, queue, message_id, data)), redis_url)
    assert fetched.message_id == message_id


def test_a_consumer_holding_all_it_may_fetches_again_once_a_quarter_is_acknowledged(redis_url: str) -> None:
    namespace = f"full-{uuid.uuid4().hex[:8]}"
    broker = _broker(redis_url, namespace)
    messages: list[dramatiq.Message[Any]] = [
        dramatiq.Message(QUEUE_WEBHOOKS, "bell_test", (), {}, {}) for _ in range(6)
    ]
    sent = [broker.enqueue(message).message_id for message in messages]
    consumer = broker.consume(QUEUE_WEBHOOKS, prefetch=4, timeout=IDLE_POLL_MS)
    held = [message for message in (next(consumer) for _ in range(4)) if message is not None]
    assert len(held) == 4  # its whole prefetch, as its threads would hold it
    Redis.from_url(redis_url).delete(bell_key(f"{namespace}:{QUEUE_WEBHOOKS}"))  # no bell to wake it either
    woken: list[MessageProxy | None] = []
    waiting = threading.Thread(target=lambda: woken.append(next(consumer)))
    waiting.start()
    consumer.ack(held[0])  # a quarter of 4, acknowledged as a worker thread does
    waiting.join(timeout=IDLE_POLL_MS / 2000)
    assert not waiting.is_alive(), "a full consumer slept its idle poll after a slot was freed"
    fetched = woken[0] or next(consumer)
    assert fetched is not None and fetched.message_id == sent[4]


def test_a_consumer_whose_fetch_emptied_the_queue_waits_for_the_bell_before_fetching_again(redis_url: str) -> None:
    namespace = f"emptied-{uuid.uuid4().hex[:8]}"
    broker = _broker(redis_url, namespace)
    queue = f"{namespace}:{QUEUE_WEBHOOKS}"
    consumer = broker.consume(QUEUE_WEBHOOKS, prefetch=4, timeout=IDLE_POLL_MS)
    sent = [_message(broker) for _ in range(2)]

    def enqueue(index: int) -> Any:
        return lambda: asyncio.run(_claim_and_enqueue(redis_url, queue, *sent[index]))

    first, _ = _next_once_woken(consumer, enqueue(0), redis_url)  # found the queue empty, then fetched it
    assert first.message_id == sent[0][0] and broker.fetches == 2  # 1 of the 4 asked for: the queue is empty
    second, blocked_fetches = _next_once_woken(consumer, enqueue(1), redis_url)
    assert blocked_fetches == 2, "the consumer fetched from a queue its last fetch had emptied"
    assert second.message_id == sent[1][0] and broker.fetches == 3
