"""The Litestar application: routes, dependencies, error mapping and lifespan."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from api.auth import provide_principal, require_key
from api.errors import EXCEPTION_HANDLERS
from api.openapi import document_problems, document_security
from api.pagination import page
from api.routes import (
    admin,
    health,
    jackpots,
    journeys,
    ledger,
    operations,
    pipeline,
    players,
    prize_engines,
    raffles,
    tournaments,
    webhooks,
)
from api.schemas import refuse_nul
from api.state import lifespan
from config import Settings, SettingsError, get_settings


async def before_request(request: Request[Any, Any, Any]) -> None:
    """Every route: the key, for those that take one (``require_key``); then no NUL in its parameters."""
    await require_key(request)
    refuse_nul(request)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the API for *settings* (the environment's by default)."""
    settings = settings or get_settings()
    if not settings.admin_token:
        raise SettingsError("WOWSINO_ADMIN_TOKEN: required (at least 16 characters) to administer tenants")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Litestar(
        route_handlers=[
            admin.TenantController,
            health.health,
            health.ready,
            players.me,
            players.create,
            players.show,
            players.fairness,
            players.ledger,
            prize_engines.lootbox_router,
            prize_engines.mini_game_router,
            raffles.router,
            jackpots.router,
            tournaments.router,
            journeys.router,
            pipeline.batch,
            ledger.transactions,
            webhooks.create,
            webhooks.index,
            webhooks.show,
            webhooks.change,
            webhooks.remove,
            webhooks.deliveries,
            webhooks.redeliver,
            webhooks.rotate,
            webhooks.redeliver_failed,
            operations.show,
        ],
        dependencies={"principal": Provide(provide_principal), "paging": Provide(page, sync_to_thread=False)},
        before_request=before_request,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan(settings)],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="WOWsino engagement API",
            version="1.0.0",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        debug=False,
    )
    document_problems(app.openapi_schema)
    document_security(app.openapi_schema, app)
    return app
