"""The OpenAPI document: every route also documents the problem-details answers it can give, and
what it takes: an API key holding the route's scope, or the admin token."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.openapi.spec.enums import OpenAPIType

from api.auth import require_admin, scopes_of
from api.errors import PROBLEM_JSON

API_KEY, ADMIN_TOKEN = "apiKey", "adminToken"
SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    API_KEY: SecurityScheme(
        type="http",
        scheme="bearer",
        description="an API key, wsk_live_... or wsk_test_...; the requirement names the scope the route needs",
    ),
    ADMIN_TOKEN: SecurityScheme(type="http", scheme="bearer", description="the platform's WOWSINO_ADMIN_TOKEN"),
}

PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem details",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="problem slug, e.g. insufficient-balance"),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={"field": Schema(type=OpenAPIType.STRING), "message": Schema(type=OpenAPIType.STRING)},
            ),
        ),
    },
)
ERRORS = {
    "400": "malformed JSON or a field of the wrong type or shape (the field is named)",
    "401": "missing, malformed, unknown or revoked key (or admin token)",
    "402": "insufficient balance",
    "403": "the key lacks the route's scope",
    "404": "unknown id in this tenant and mode",
    "405": "method not allowed",
    "409": "conflicts with the object's state (already drawn, closed, outside the window...)",
    "413": "body too large",
    "422": "a value out of range or an idempotency key reused with another request",
    "429": "rate limit or cooldown; see Retry-After",
    "503": "a dependency (database, Redis) is unavailable; retry",
}


def document_problems(schema: OpenAPI) -> None:
    """Add the shared problem responses to every operation of *schema* (in place). They replace the
    error answers Litestar documents by itself, but not an answer a route declares with a shape of
    its own (``/ready``'s ``503``)."""
    schema.components = schema.components or Components()
    schema.components.schemas = {**(schema.components.schemas or {}), "Problem": PROBLEM}
    problem = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
    for item in (schema.paths or {}).values():
        for method in ("get", "post", "patch", "put", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            responses = dict(operation.responses or {})
            for status, description in ERRORS.items():
                if not _declared(responses.get(status)):
                    responses[status] = OpenAPIResponse(description=description, content={PROBLEM_JSON: problem})
            operation.responses = responses


def _declared(response: OpenAPIResponse | Reference | None) -> bool:
    """Whether *response* is a route's own answer: a body referring to a named shape."""
    if not isinstance(response, OpenAPIResponse) or not response.content:
        return False
    return any(isinstance(media.schema, Reference) for media in response.content.values())


def document_security(schema: OpenAPI, app: Litestar) -> None:
    """Name on every operation of *schema* (in place) the credential it takes: an API key with the route's
    scope (one requirement per scope where any of several will do; an empty list: any valid key), or the
    admin token; health and schema routes take none."""
    schema.components = schema.components or Components()
    schema.components.security_schemes = {**(schema.components.security_schemes or {}), **SECURITY_SCHEMES}
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        item = (schema.paths or {}).get(path)
        for handler in getattr(route, "route_handlers", []):
            if "principal" in handler.parsed_fn_signature.parameters:  # any one of the route's scopes will do
                requirements = [{API_KEY: [scope]} for scope in scopes_of(handler)] or [{API_KEY: []}]
            elif require_admin in handler.resolve_guards():
                requirements = [{ADMIN_TOKEN: []}]
            else:
                continue
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                operation = getattr(item, method.lower(), None)
                if isinstance(operation, Operation):
                    operation.security = requirements
