"""The stack as ``make run`` starts it (``wowsino run``: Procfile under honcho), and its processes by role."""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from redis import Redis

from bench.database import forget_unsettled_inbox
from bench.procs import BIN, ROOT, Child, ProcInfo, child_env, descendants, free_port, info, wait_http

NAMESPACE = "wowsino"  # the project's Dramatiq namespace (actors/broker.py)
SETTLE_S = 30.0  # how long a purge waits for the workers to finish the messages they hold
RATE_LIMIT = 10_000_000  # per key and second: the bench measures capacity, not the limiter's threshold


@dataclass(frozen=True)
class Topology:
    """How many processes and threads serve each part; the floors are run with the same numbers.

    Each field is the Procfile variable of the same name in capitals; unless chosen, it takes the
    Procfile's own default (``${EVENT_THREADS:-256}``), so the bench measures what ``make run`` starts.
    """

    web_concurrency: int = 2
    event_processes: int = 1
    event_threads: int = 8
    draw_processes: int = 1
    draw_threads: int = 8
    webhook_processes: int = 1

    @classmethod
    def from_procfile(cls, procfile: Path = ROOT / "Procfile", **chosen: int | None) -> Topology:
        defaults = dict(re.findall(r"\$\{(\w+):-(\d+)\}", procfile.read_text()))
        values = {
            field.name: chosen.get(field.name) or int(defaults.get(field.name.upper(), field.default))
            for field in fields(cls)
        }
        return cls(**values)

    def env(self) -> dict[str, str]:
        return {
            "WEB_CONCURRENCY": str(self.web_concurrency),
            "EVENT_PROCESSES": str(self.event_processes),
            "EVENT_THREADS": str(self.event_threads),
            "DRAW_PROCESSES": str(self.draw_processes),
            "DRAW_THREADS": str(self.draw_threads),
            "WEBHOOK_PROCESSES": str(self.webhook_processes),
        }


@contextmanager
def _stopped(pids: list[int], into: set[int]) -> Iterator[None]:
    """The processes *pids* stopped (SIGSTOP) and listed in *into* for the block, then continued."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    into.update(pids)
    try:
        yield
    finally:
        into.difference_update(pids)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


class Stack:
    """``wowsino run`` in its own folder, on the given database and Redis, with a private admin token."""

    def __init__(self, database_url: str, redis_url: str, topology: Topology, home: Path, label: str) -> None:
        self.topology = topology
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_urlsafe(32)  # never printed: it lives in this object and the child's env
        self.redis = Redis.from_url(redis_url)
        self.unsettled = 0  # purges after which the workers were still busy when the wait ran out
        self.aside: set[int] = set()  # workers kept stopped (``set_aside``)
        self.stopped: set[int] = set()  # workers stopped for a while (``paused``)
        self.inbox_to_forget = False  # a backlog was dropped while workers were stopped (``purge``)
        home.mkdir(parents=True, exist_ok=True)
        env = child_env(
            {
                "PORT": str(self.port),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "WOWSINO_ADMIN_TOKEN": self.admin_token,
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_PER_SECOND": str(RATE_LIMIT),
                **topology.env(),
            }
        )
        self.child = Child(f"stack-{label}", [str(BIN / "wowsino"), "run"], env, home, cwd=home)
        try:
            wait_http(f"{self.url}/ready", timeout=90, child=self.child)
            self._wait_for_workers(timeout=60)
        except BaseException:
            self.stop()
            raise

    def _wait_for_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (
            len(self.processes("events")) < self.topology.event_processes
            or len(self.processes("draws")) < self.topology.draw_processes
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack's workers did not start:\n{self.child.tail()}")
            time.sleep(0.2)

    def processes(self, role: str) -> list[ProcInfo]:
        """The processes doing the work of *role*: ``api`` (uvicorn workers) or a queue (Dramatiq workers)."""
        tree = [found for pid in descendants(self.child.pid) if (found := info(pid)) is not None]
        by_pid = {proc.pid: proc for proc in tree}
        if role == "api":
            servers = [proc for proc in tree if any(part.endswith("uvicorn") for part in proc.argv[:2])]
            workers = [
                proc
                for proc in tree
                if proc.ppid in {server.pid for server in servers} and "resource_tracker" not in proc.command
            ]
            return workers or servers  # one web process serves by itself
        return [  # Dramatiq's worker processes are forks of the ``dramatiq`` command, under it
            proc for proc in tree if _serves(proc, role) and proc.ppid in by_pid and _serves(by_pid[proc.ppid], role)
        ]

    @contextmanager
    def paused(self, queue: str) -> Iterator[None]:
        """The workers of *queue* stopped (SIGSTOP) for the block: messages queued meanwhile wait for them.
        Those set aside (``set_aside``) are stopped already, and stay so."""
        with _stopped([proc.pid for proc in self.processes(queue) if proc.pid not in self.aside], self.stopped):
            yield

    @contextmanager
    def set_aside(self, queue: str, count: int) -> Iterator[None]:
        """*count* of the workers of *queue* stopped (SIGSTOP) for the block: the others serve the queue
        alone, as a stack started with that many fewer would."""
        workers = sorted(proc.pid for proc in self.processes(queue))
        if not 0 <= count <= len(workers):
            raise ValueError(f"cannot set aside {count} of the {len(workers)} {queue} workers")
        with _stopped(workers[len(workers) - count :], self.aside):
            yield

    def purge(self, queue: str = "events", settle_s: float = SETTLE_S) -> int:
        """Drop the messages still waiting in *queue* (a backlog left by a test), then wait up to *settle_s*
        seconds for the workers to finish those they already hold; how many were dropped.

        The dropped messages' inbox rows are deleted too, once no worker is stopped: a worker stopped inside
        its inbox transaction holds some of those rows, and the delete would wait for it."""
        keys = (queue, f"{queue}.msgs", f"{queue}.DQ", f"{queue}.DQ.msgs")
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hlen(f"{NAMESPACE}:{queue}.msgs")
            pipe.delete(*(f"{NAMESPACE}:{name}" for name in keys))
            dropped, _ = pipe.execute()
        self.inbox_to_forget |= bool(dropped)
        if self.inbox_to_forget and not self.stopped and not self.aside:
            forget_unsettled_inbox(self.database_url)
            self.inbox_to_forget = False
        deadline = time.monotonic() + settle_s
        while settle_s > 0 and self._held(queue):
            if time.monotonic() > deadline:
                self.unsettled += 1
                break
            time.sleep(0.05)
        return int(dropped)

    def _held(self, queue: str) -> int:
        """Messages of *queue* fetched by a worker and not yet acknowledged (Dramatiq's ack sets)."""
        return sum(int(self.redis.scard(key)) for key in self.redis.scan_iter(f"{NAMESPACE}:__acks__.*.{queue}"))

    def backlog(self, queue: str = "events") -> int:
        """Messages enqueued and not yet acknowledged (waiting, being worked on, or delayed for a retry)."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hlen(f"{NAMESPACE}:{queue}.msgs")
            pipe.hlen(f"{NAMESPACE}:{queue}.DQ.msgs")
            return sum(int(count) for count in pipe.execute())

    def stop(self) -> None:
        self.redis.close()
        self.child.stop(timeout=20)


def _serves(proc: ProcInfo, queue: str) -> bool:
    """A ``dramatiq … --queues <queue>`` process (not the shell that started it)."""
    return any(arg == "--queues" and value == queue for arg, value in zip(proc.argv, proc.argv[1:], strict=False))
