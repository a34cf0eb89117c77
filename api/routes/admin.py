"""Platform administration (the account manager): tenants, brands and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from sqlmodel import col, select

from api import pagination
from api.auth import app_state, cache_key, require_admin, revoked_mark
from api.pagination import cut, window
from api.responses import Page, answer
from api.responses.accounts import Brand, IssuedKey, Tenant
from api.schemas import BrandCreate, KeyCreate, TenantCreate, TenantPatch
from models import tenancy


def _position(tenant: tenancy.Tenant) -> tuple[datetime, str]:
    return tenant.created_at, tenant.id


class TenantController(Controller):
    path = "/tenants"
    tags = ["admin"]
    guards = [require_admin]

    @post("/", responses=answer(Tenant, "the tenant with its first brand", 201))
    async def create(self, request: Request[Any, Any, Any], data: TenantCreate) -> dict[str, Any]:
        async with app_state(request).db.transaction() as session:
            tenant, brand = await tenancy.create_tenant(
                session,
                slug=data.slug,
                name=data.name,
                service_mode=data.service_mode,
                brand_slug=data.brand.slug,
                brand_name=data.brand.name,
            )
            if data.rate_limit_per_second is not None:
                tenant = await tenancy.update_tenant(
                    session, data.slug, name=None, rate_limit_per_second=data.rate_limit_per_second
                )
        return tenancy.tenant_view(tenant, [brand])

    @get("/", responses=answer(Page[Tenant], "tenants with their brands, newest first"))
    async def list(
        self,
        request: Request[Any, Any, Any],
        paging: pagination.Page,
    ) -> dict[str, Any]:
        query = window(select(tenancy.Tenant), col(tenancy.Tenant.created_at), col(tenancy.Tenant.id), paging)
        async with app_state(request).db.reader() as session:
            shown, next_cursor = cut(list((await session.execute(query)).scalars()), paging, _position)
            tenants = await tenancy.brands_of(session, shown)
        return {"data": [tenancy.tenant_view(tenant, brands) for tenant, brands in tenants], "next_cursor": next_cursor}

    @get("/{slug:str}", responses=answer(Tenant, "the tenant with its brands"))
    async def show(self, request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
        async with app_state(request).db.reader() as session:
            tenant = await tenancy.get_tenant(session, slug)
            return tenancy.tenant_view(tenant, await tenancy.list_brands(session, tenant.id))

    @patch("/{slug:str}", responses=answer(Tenant, "the changed tenant"))
    async def change(self, request: Request[Any, Any, Any], slug: str, data: TenantPatch) -> dict[str, Any]:
        """Rename a tenant or change its per-key rate limit (effective within a minute on every API process)."""
        state = app_state(request)
        async with state.db.transaction() as session:
            tenant = await tenancy.update_tenant(
                session, slug, name=data.name, rate_limit_per_second=data.rate_limit_per_second
            )
            brands = await tenancy.list_brands(session, tenant.id)
            hashes = await tenancy.key_hashes(session, tenant.id)
        if hashes:
            await state.redis.delete(*(cache_key(key_hash) for key_hash in hashes))
        return tenancy.tenant_view(tenant, brands)

    @post("/{slug:str}/brands", responses=answer(Brand, "the new brand", 201))
    async def add_brand(self, request: Request[Any, Any, Any], slug: str, data: BrandCreate) -> dict[str, Any]:
        async with app_state(request).db.transaction() as session:
            brand = await tenancy.add_brand(session, slug, slug=data.slug, name=data.name)
        return tenancy.brand_view(brand)

    @post("/{slug:str}/keys", responses=answer(IssuedKey, "the new key, shown this once", 201))
    async def issue_key(self, request: Request[Any, Any, Any], slug: str, data: KeyCreate) -> dict[str, Any]:
        async with app_state(request).db.transaction() as session:
            return await tenancy.issue_key(
                session, slug, brand_slug=data.brand, mode=data.mode, scopes=list(data.scopes) if data.scopes else None
            )

    @delete("/{slug:str}/keys/{key_id:str}", status_code=204)
    async def revoke_key(self, request: Request[Any, Any, Any], slug: str, key_id: str) -> None:
        state = app_state(request)
        async with state.db.transaction() as session:
            key_hash = await tenancy.revoke_key(session, slug, key_id)
        name, mark, ttl = revoked_mark(key_hash)
        await state.redis.set(name, mark, ex=ttl)
