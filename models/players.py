"""Players mirrored from an operator's PAM, and each player's fairness commitment.

A player is ``(brand, mode, username)``. The player row also holds the *next* draw's server seed
(secret until used), its published hash and the draw counter ``nonce``; every draw moves them
forward with a compare-and-set on ``nonce``, so two draws can never share a seed or a nonce.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint, update
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
    __table_args__ = (UniqueConstraint("brand_id", "mode", "username"),)
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


async def advance_commitment(session: AsyncSession, player: Player) -> tuple[str, str, int, str]:
    """Use the player's committed seed for one draw and commit to the next.

    Returns ``(server_seed, server_seed_hash, nonce, next_server_seed_hash)``. The compare-and-set on
    ``nonce`` is the database's last guard against two concurrent draws using one commitment.
    """
    next_seed = new_server_seed()
    next_hash = seed_hash(next_seed)
    result = await session.execute(
        update(table(Player))
        .where(table(Player).c.id == player.id, table(Player).c.nonce == player.nonce)
        .values(server_seed=next_seed, server_seed_hash=next_hash, nonce=player.nonce + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleCommitment(player.id)
    return player.server_seed, player.server_seed_hash, player.nonce, next_hash
