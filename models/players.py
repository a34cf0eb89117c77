"""Players mirrored from an operator's PAM, and each player's fairness commitment.

A player is ``(brand, mode, username)``. The player row also holds the *next* draw's server seed
(secret until used), its published hash and the draw counter ``nonce``; every draw moves them
forward with a compare-and-set on ``nonce``, so two draws can never share a seed or a nonce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, select

from models.base import created_field, id_field, iso, table
from models.errors import NotFound
from models.fairness import new_server_seed, seed_hash
from models.tenancy import Principal


class StaleCommitment(Exception):
    """Another draw used this player's commitment first; the caller reruns its transaction."""


class Player(SQLModel, table=True):
    __tablename__ = "players"
    # The username first: a lookup of many players is searched by their names, whatever the database's
    # statistics (see migration 0005); the uniqueness is the same in any order.
    __table_args__ = (UniqueConstraint("username", "brand_id", "mode", name="uq_players_username"),)
    id: str = id_field()
    tenant_id: str = Field(max_length=36, index=True)
    brand_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    username: str = Field(max_length=64)
    email: str | None = Field(default=None, max_length=254)
    external_ref: str | None = Field(default=None, max_length=255)
    country_code: str | None = Field(default=None, max_length=2)
    server_seed: str = Field(max_length=64)
    server_seed_hash: str = Field(max_length=64)
    nonce: int = Field(default=0)
    created_at: datetime = created_field()


def player_view(player: Player) -> dict[str, Any]:
    return {
        "id": player.id,
        "username": player.username,
        "email": player.email,
        "external_ref": player.external_ref,
        "country_code": player.country_code,
        "created_at": iso(player.created_at),
    }


async def find_player(session: AsyncSession, principal: Principal, username: str) -> Player | None:
    return (
        await session.execute(
            select(Player).where(
                Player.brand_id == principal.brand_id, Player.mode == principal.mode, Player.username == username
            )
        )
    ).scalar_one_or_none()


async def get_player(session: AsyncSession, principal: Principal, username: str, *, field: str = "username") -> Player:
    player = await find_player(session, principal, username)
    if player is None:
        raise NotFound(f"no player {username!r}", field=field)
    return player


async def create_player(
    session: AsyncSession,
    principal: Principal,
    *,
    username: str,
    email: str | None,
    external_ref: str | None,
    country_code: str | None,
) -> tuple[Player, bool]:
    """The player with this username, created if new; the flag says whether it was created."""
    existing = await find_player(session, principal, username)
    if existing is not None:
        return existing, False
    seed = new_server_seed()
    player = Player(
        tenant_id=principal.tenant_id,
        brand_id=principal.brand_id,
        mode=principal.mode,
        username=username,
        email=email,
        external_ref=external_ref,
        country_code=country_code,
        server_seed=seed,
        server_seed_hash=seed_hash(seed),
    )
    session.add(player)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # created by a concurrent request: that one is the player
        existing = await find_player(session, principal, username)
        if existing is None:
            raise
        return existing, False
    return player, True


@dataclass(frozen=True)
class Commitment:
    """What one draw uses of a player's commitment, and the commitment published for the next draw."""

    server_seed: str
    server_seed_hash: str
    nonce: int
    next_server_seed_hash: str


_ADVANCE_COMMITMENT = (  # built once: building and keying a statement costs more than running it
    update(table(Player))
    .where(table(Player).c.id == bindparam("player"), table(Player).c.nonce == bindparam("used"))
    .values(server_seed=bindparam("seed"), server_seed_hash=bindparam("hash"), nonce=bindparam("used") + 1)
)


async def advance_commitments(session: AsyncSession, players: Sequence[Player]) -> list[Commitment]:
    """Use each player's committed seed for one draw and commit to the next, in one or two statements for all.

    A compare-and-set on ``nonce`` is the database's last guard against two concurrent draws using one
    commitment. Where the driver reports a bulk update's row count (SQLite) a full count says every one
    took; otherwise (asyncpg) reading the new seeds' hashes back tells. A miss raises ``StaleCommitment``
    and the caller reruns.
    """
    if not players:
        return []
    seeds = [new_server_seed() for _ in players]
    hashes = [seed_hash(seed) for seed in seeds]
    players_ = table(Player).c
    updated = await session.execute(
        _ADVANCE_COMMITMENT,
        [
            {"player": player.id, "used": player.nonce, "seed": seed, "hash": hash_}
            for player, seed, hash_ in zip(players, seeds, hashes, strict=True)
        ],
    )
    counted = session.get_bind().dialect.supports_sane_multi_rowcount
    if not counted or updated.rowcount != len(players):  # type: ignore[attr-defined]
        found = await session.execute(
            select(players_.id, players_.server_seed_hash).where(players_.id.in_([player.id for player in players]))
        )
        published: dict[str, str] = {id_: hash_ for id_, hash_ in found}
        for player, hash_ in zip(players, hashes, strict=True):
            if published.get(player.id) != hash_:
                raise StaleCommitment(player.id)
    return [
        Commitment(player.server_seed, player.server_seed_hash, player.nonce, hash_)
        for player, hash_ in zip(players, hashes, strict=True)
    ]
