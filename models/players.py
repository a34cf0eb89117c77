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
from models.statements import RowUpdate
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
    try:
        async with session.begin_nested():  # added inside: ``begin_nested`` flushes what is pending before it
            session.add(player)
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
_ADVANCE_COMMITMENTS_FROM_JSON = (  # PostgreSQL, in ``write_rows``'s statement: asyncpg counts no bulk update
    "UPDATE players SET server_seed = r.seed, server_seed_hash = r.hash, nonce = r.used + 1"
    " FROM json_to_recordset({rows}) AS r(player varchar, used integer, seed varchar, hash varchar)"
    " WHERE players.id = r.player AND players.nonce = r.used RETURNING players.id"
)


@dataclass(frozen=True)
class Advance:
    """Each player's commitment used for one draw and the next one committed to (``advance_commitments``)."""

    commitments: list[Commitment]
    update: RowUpdate  # the compare-and-set of every player's commitment

    def check(self, advanced: int) -> None:
        """Raise ``StaleCommitment`` unless the update advanced every player (*advanced* of them)."""
        if advanced != len(self.commitments):
            wanted = len(self.commitments)
            raise StaleCommitment(f"{wanted - advanced} of {wanted} commitments were used by another draw")


def advance_commitments(players: Sequence[Player]) -> Advance:
    """Use each player's committed seed for one draw and commit to the next, as one update for all.

    A compare-and-set on ``nonce`` is the database's last guard against two concurrent draws using one
    commitment: unless every player advances (``Advance.check``), the caller's transaction must roll back
    and rerun.
    """
    seeds = [new_server_seed() for _ in players]
    hashes = [seed_hash(seed) for seed in seeds]
    rows = [
        {"player": player.id, "used": player.nonce, "seed": seed, "hash": hash_}
        for player, seed, hash_ in zip(players, seeds, hashes, strict=True)
    ]
    commitments = [
        Commitment(player.server_seed, player.server_seed_hash, player.nonce, hash_)
        for player, hash_ in zip(players, hashes, strict=True)
    ]
    return Advance(commitments, RowUpdate(_ADVANCE_COMMITMENT, _ADVANCE_COMMITMENTS_FROM_JSON, rows))
