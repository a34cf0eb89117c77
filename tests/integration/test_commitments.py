"""The seed commitment's compare-and-set: two draws can never use one commitment."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from models.db import Database
from models.fairness import new_server_seed, seed_hash
from models.players import Commitment, Player, StaleCommitment, advance_commitments
from models.statements import write_rows


async def _players(db: Database, count: int) -> list[Player]:
    players = []
    async with db.transaction() as session:
        for n in range(count):
            seed = new_server_seed()
            where = {"tenant_id": "t", "brand_id": "b", "mode": "test", "username": f"p{n}"}
            player = Player(**where, server_seed=seed, server_seed_hash=seed_hash(seed))
            session.add(player)
            players.append(player)
    return players


async def _advance(session: AsyncSession, players: list[Player]) -> list[Commitment]:
    """What a draw does with its players' commitments: one update for all, then the check that each advanced."""
    advance = advance_commitments(players)
    (advanced,) = await write_rows(session, [], [advance.update])
    advance.check(advanced)
    return advance.commitments


async def _stored(db: Database) -> dict[str, tuple[int, str]]:
    """Each player's nonce and published seed hash, as committed."""
    async with db.reader() as session:
        rows = await session.execute(select(Player.id, Player.nonce, Player.server_seed_hash))
        return {id_: (nonce, hash_) for id_, nonce, hash_ in rows}


def test_a_draw_uses_each_players_commitment_and_publishes_the_next(db: Database) -> None:
    async def scenario() -> None:
        players = await _players(db, 3)
        async with db.transaction() as session:
            used = await _advance(session, players)
        assert [(c.server_seed, c.nonce) for c in used] == [(p.server_seed, 0) for p in players]
        stored = await _stored(db)
        assert [stored[p.id] for p in players] == [(1, c.next_server_seed_hash) for c in used]

    asyncio.run(scenario())


def test_a_commitment_used_meanwhile_refuses_the_whole_draw(db: Database) -> None:
    async def scenario() -> None:
        players = await _players(db, 3)
        async with db.transaction() as session:
            await _advance(session, players[1:2])  # another draw used p1's commitment
        before = await _stored(db)
        with pytest.raises(StaleCommitment):
            async with db.transaction() as session:
                await _advance(session, players)  # p1 as read before that draw
        assert await _stored(db) == before  # rolled back: p0 and p2 keep their commitments too

    asyncio.run(scenario())
