"""A draws group whose answers could not be sent fails the draws still waiting, so their messages run again."""

from __future__ import annotations

import asyncio

from actors.draws import PrizeDraws, _Waiting
from models.prize_engines import DrawRequest


def test_a_failed_answer_fails_only_the_draws_left_waiting() -> None:
    async def scenario() -> tuple[object, BaseException | None, int]:
        draws = PrizeDraws()
        group = [
            _Waiting(DrawRequest("engine", f"p{n}", None, f"k{n}", "f", f"op{n}"), f"lock{n}", 0.0) for n in range(2)
        ]
        group[0].done.set_result(None)  # answered before the announcement failed

        async def answer() -> None:
            raise ConnectionError("Redis went away")

        task = asyncio.create_task(answer())
        draws.answering.add(task)
        await asyncio.gather(task, return_exceptions=True)
        draws._answered(task, group)
        return group[0].done.result(), group[1].done.exception(), len(draws.answering)

    first, second, answering = asyncio.run(scenario())
    assert first is None
    assert isinstance(second, ConnectionError)
    assert answering == 0
