"""Tenants (operators), their brands and their API keys.

A key is ``wsk_<mode>_<48 hex>``; only its SHA-256 is stored (the key carries 192 random bits, so a
fast hash is safe), and the clear key is returned once, at creation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.base import UTCDateTime, created_field, id_field, iso, utcnow
from models.errors import Conflict, InvalidInput, NotFound

SCOPES = frozenset(
    {
        "*",
        "players:read",
        "players:write",
        "engines:read",
        "engines:write",
        "engines:play",
        "ledger:read",
        "webhooks:write",
    }
)
SERVICE_MODES = frozenset({"plug_in", "white_label"})
KEY_MODES = frozenset({"live", "test"})
KEY_PATTERN = re.compile(r"^wsk_(live|test)_[0-9a-f]{48}$")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    id: str = id_field()
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    service_mode: str = Field(max_length=16)
    rate_limit_per_second: int | None = Field(default=None)
    created_at: datetime = created_field()


class Brand(SQLModel, table=True):
    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)
    id: str = id_field()
    tenant_id: str = Field(foreign_key="tenants.id", max_length=36, index=True)
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = created_field()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: str = id_field()
    tenant_id: str = Field(foreign_key="tenants.id", max_length=36, index=True)
    brand_id: str = Field(foreign_key="brands.id", max_length=36)
    mode: str = Field(max_length=8)
    prefix: str = Field(max_length=24)
    key_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_field()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: one tenant, one brand, one mode, some scopes."""

    key_id: str
    tenant_id: str
    tenant_slug: str
    service_mode: str
    brand_id: str
    brand_slug: str
    mode: str
    scopes: tuple[str, ...]
    rate_limit_per_second: int | None = None

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def tenant_view(tenant: Tenant, brands: list[Brand]) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "service_mode": tenant.service_mode,
        "rate_limit_per_second": tenant.rate_limit_per_second,
        "brands": [brand_view(brand) for brand in brands],
        "created_at": iso(tenant.created_at),
    }


def brand_view(brand: Brand) -> dict[str, Any]:
    return {"id": brand.id, "slug": brand.slug, "name": brand.name, "created_at": iso(brand.created_at)}


async def create_tenant(
    session: AsyncSession, *, slug: str, name: str | None, service_mode: str, brand_slug: str, brand_name: str | None
) -> tuple[Tenant, Brand]:
    """Create a tenant with its first brand; ``Conflict`` if the slug is taken."""
    if service_mode not in SERVICE_MODES:
        raise InvalidInput("must be plug_in or white_label", field="service_mode")
    tenant = Tenant(slug=slug, name=name or slug, service_mode=service_mode)
    brand = Brand(tenant_id=tenant.id, slug=brand_slug, name=brand_name or brand_slug)
    await _add_unique(session, tenant, f"tenant {slug!r} already exists", "slug")
    session.add(brand)
    await session.flush()
    return tenant, brand


async def _add_unique(session: AsyncSession, row: SQLModel, message: str, field: str) -> None:
    """Insert *row* in a savepoint, a taken unique key raising ``Conflict``; the row is added inside it, as
    ``begin_nested`` flushes what is pending before its ``SAVEPOINT``."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(message, field=field) from None


async def get_tenant(session: AsyncSession, slug: str) -> Tenant:
    tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


async def update_tenant(
    session: AsyncSession, slug: str, *, name: str | None, rate_limit_per_second: int | None
) -> Tenant:
    """Rename a tenant or set its per-key rate limit (requests a second)."""
    tenant = await get_tenant(session, slug)
    tenant.name = name if name is not None else tenant.name
    tenant.rate_limit_per_second = (
        rate_limit_per_second if rate_limit_per_second is not None else tenant.rate_limit_per_second
    )
    await session.flush()
    return tenant


async def key_hashes(session: AsyncSession, tenant_id: str) -> list[str]:
    rows = await session.execute(select(ApiKey.key_hash).where(ApiKey.tenant_id == tenant_id))
    return list(rows.scalars())


async def list_brands(session: AsyncSession, tenant_id: str) -> list[Brand]:
    rows = await session.execute(select(Brand).where(Brand.tenant_id == tenant_id).order_by(col(Brand.created_at)))
    return list(rows.scalars())


async def brands_of(session: AsyncSession, tenants: Sequence[Tenant]) -> list[tuple[Tenant, list[Brand]]]:
    """Each of *tenants* with its brands, read in one statement."""
    brands: dict[str, list[Brand]] = {tenant.id: [] for tenant in tenants}
    query = select(Brand).where(col(Brand.tenant_id).in_(list(brands))).order_by(col(Brand.created_at))
    for brand in (await session.execute(query)).scalars():
        brands[brand.tenant_id].append(brand)
    return [(tenant, brands[tenant.id]) for tenant in tenants]


async def list_tenants(session: AsyncSession) -> list[tuple[Tenant, list[Brand]]]:
    tenants = list((await session.execute(select(Tenant).order_by(col(Tenant.created_at)))).scalars())
    return await brands_of(session, tenants)


async def add_brand(session: AsyncSession, tenant_slug: str, *, slug: str, name: str | None) -> Brand:
    tenant = await get_tenant(session, tenant_slug)
    brand = Brand(tenant_id=tenant.id, slug=slug, name=name or slug)
    await _add_unique(session, brand, f"brand {slug!r} already exists for {tenant_slug!r}", "slug")
    return brand


async def issue_key(
    session: AsyncSession, tenant_slug: str, *, brand_slug: str, mode: str, scopes: list[str] | None
) -> dict[str, Any]:
    """Create a key; the answer holds the clear key, which is never stored or shown again."""
    if mode not in KEY_MODES:
        raise InvalidInput("must be live or test", field="mode")
    scopes = scopes if scopes is not None else ["*"]
    if not scopes or any(scope not in SCOPES for scope in scopes):
        raise InvalidInput(f"scopes must be a non-empty list of {sorted(SCOPES)}", field="scopes")
    tenant = await get_tenant(session, tenant_slug)
    brand = (
        await session.execute(select(Brand).where(Brand.tenant_id == tenant.id, Brand.slug == brand_slug))
    ).scalar_one_or_none()
    if brand is None:
        raise NotFound(f"no brand {brand_slug!r} for tenant {tenant_slug!r}", field="brand")
    clear = f"wsk_{mode}_{secrets.token_hex(24)}"
    key = ApiKey(
        tenant_id=tenant.id,
        brand_id=brand.id,
        mode=mode,
        prefix=clear[:17],
        key_hash=hash_key(clear),
        scopes=sorted(set(scopes)),
    )
    session.add(key)
    await session.flush()
    return {
        "id": key.id,
        "key": clear,
        "prefix": key.prefix,
        "mode": mode,
        "brand": brand.slug,
        "scopes": key.scopes,
        "created_at": iso(key.created_at),
    }


async def revoke_key(session: AsyncSession, tenant_slug: str, key_id: str) -> str:
    """Revoke a key at once; returns its hash so callers can drop any cached copy."""
    tenant = await get_tenant(session, tenant_slug)
    key = (
        await session.execute(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant.id))
    ).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no key {key_id!r} for tenant {tenant_slug!r}")
    await session.execute(
        update(ApiKey).where(col(ApiKey.id) == key.id, col(ApiKey.revoked_at).is_(None)).values(revoked_at=utcnow())
    )
    return key.key_hash


async def find_principal(session: AsyncSession, key: str) -> Principal | None:
    """The principal of a live, well-formed key, or None."""
    if not KEY_PATTERN.match(key):
        return None
    row = (
        await session.execute(
            select(ApiKey, Tenant, Brand)
            .join(Tenant, col(Tenant.id) == ApiKey.tenant_id)
            .join(Brand, col(Brand.id) == ApiKey.brand_id)
            .where(ApiKey.key_hash == hash_key(key), col(ApiKey.revoked_at).is_(None))  # type: ignore[union-attr]
        )
    ).one_or_none()
    if row is None:
        return None
    api_key, tenant, brand = row
    return Principal(
        key_id=api_key.id,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        service_mode=tenant.service_mode,
        brand_id=brand.id,
        brand_slug=brand.slug,
        mode=api_key.mode,
        scopes=tuple(api_key.scopes),
        rate_limit_per_second=tenant.rate_limit_per_second,
    )
