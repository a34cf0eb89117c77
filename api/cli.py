"""``wowsino``: the account manager's and operator's command line.

``wowsino run`` starts the whole stack; ``tenants``/``brands``/``keys`` administer tenants directly in
the database (the same functions as the ``/tenants`` routes); ``verify`` recomputes a draw from its
response; ``audit`` checks the ledger; ``migrate`` applies migrations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from config import SettingsError, get_settings

Handler = Callable[[argparse.Namespace], int]
B = TypeVar("B", bound=msgspec.Struct)


class BadArgument(Exception):
    """An argument the API would refuse in its body."""


def _checked(body: type[B], arguments: dict[str, Any]) -> B:
    """The arguments as the API route's body, so the command line takes exactly what the API takes."""
    from api.errors import located

    try:
        return msgspec.convert({name: value for name, value in arguments.items() if value is not None}, body)
    except msgspec.ValidationError as refused:
        path, detail = located(str(refused))
        raise BadArgument(f"{path if path is not None else 'arguments'}: {detail}") from None


def _with_session(work: Callable[[Any], Awaitable[Any]]) -> Any:
    from models.db import Database

    async def run() -> Any:
        db = Database(get_settings())
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


def tenants_create(args: argparse.Namespace) -> int:
    from api.schemas import TenantCreate
    from models import tenancy

    arguments = {"slug": args.slug, "name": args.name, "service_mode": args.service_mode}
    brand = {"slug": args.brand or args.slug, "name": args.brand_name}
    body = _checked(TenantCreate, {**arguments, "brand": brand})

    async def work(session: Any) -> dict[str, Any]:
        tenant, brand = await tenancy.create_tenant(
            session,
            slug=body.slug,
            name=body.name,
            service_mode=body.service_mode,
            brand_slug=body.brand.slug,
            brand_name=body.brand.name,
        )
        return tenancy.tenant_view(tenant, [brand])

    _print(_with_session(work))
    return 0


def tenants_list(args: argparse.Namespace) -> int:
    from models import tenancy

    async def work(session: Any) -> list[dict[str, Any]]:
        return [tenancy.tenant_view(tenant, brands) for tenant, brands in await tenancy.list_tenants(session)]

    _print(_with_session(work))
    return 0


def tenants_show(args: argparse.Namespace) -> int:
    from models import tenancy

    async def work(session: Any) -> dict[str, Any]:
        tenant = await tenancy.get_tenant(session, args.slug)
        return tenancy.tenant_view(tenant, await tenancy.list_brands(session, tenant.id))

    _print(_with_session(work))
    return 0


def brands_add(args: argparse.Namespace) -> int:
    from api.schemas import BrandCreate
    from models import tenancy

    body = _checked(BrandCreate, {"slug": args.slug, "name": args.name})

    async def work(session: Any) -> dict[str, Any]:
        return tenancy.brand_view(await tenancy.add_brand(session, args.tenant, slug=body.slug, name=body.name))

    _print(_with_session(work))
    return 0


def keys_issue(args: argparse.Namespace) -> int:
    from api.schemas import KeyCreate
    from models import tenancy

    scopes = args.scopes.split(",") if args.scopes else None
    body = _checked(KeyCreate, {"brand": args.brand, "mode": args.mode, "scopes": scopes})

    async def work(session: Any) -> dict[str, Any]:
        return await tenancy.issue_key(session, args.tenant, brand_slug=body.brand, mode=body.mode, scopes=scopes)

    issued = _with_session(work)
    _print(issued)
    print("Store this key now: it is shown only once.", file=sys.stderr)
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    from redis import Redis
    from redis.exceptions import RedisError

    from api.auth import revoked_mark
    from models import tenancy

    async def work(session: Any) -> str:
        return await tenancy.revoke_key(session, args.tenant, args.key_id)

    name, mark, ttl = revoked_mark(_with_session(work))
    try:
        Redis.from_url(get_settings().redis_url).set(name, mark, ex=ttl)
    except RedisError:
        print("warning: Redis unreachable; API processes may accept the key for up to a minute", file=sys.stderr)
    print(f"revoked {args.key_id}")
    return 0


def verify(args: argparse.Namespace) -> int:
    from models.verify import VerificationError, verify_draw

    try:
        response = json.loads(Path(args.response).read_text())
        table = json.loads(Path(args.prize_table).read_text()) if args.prize_table else None
    except (OSError, ValueError) as unreadable:
        raise BadArgument(f"cannot read a JSON document: {unreadable}") from None
    try:
        print(verify_draw(response, table))
    except VerificationError as failure:
        print(f"NOT VERIFIED: {failure}", file=sys.stderr)
        return 1
    return 0


def audit(args: argparse.Namespace) -> int:
    from models.ledger import audit as audit_ledger

    problems = _with_session(audit_ledger)
    for problem in problems:
        print(problem)
    print("ledger balanced" if not problems else f"{len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


def migrate(args: argparse.Namespace) -> int:
    from models.migrate import upgrade

    upgrade(get_settings().database_url)
    print("database at the latest schema")
    return 0


def run(args: argparse.Namespace) -> int:
    from api.stack import run_stack

    return run_stack()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="wowsino", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = root.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help: str, parent: Any = commands) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(name, help=help)
        sub.set_defaults(handler=handler)
        return sub

    add("run", run, "start API, workers and scheduler (Procfile), with a private Redis if none answers")
    add("migrate", migrate, "apply database migrations")
    add("audit", audit, "check that every transaction balances and every balance equals its postings")
    check = add("verify", verify, "recompute a draw from its response JSON")
    check.add_argument("response", help="file holding a draw response (lootbox open, mini-game play, raffle draw)")
    check.add_argument("--prize-table", help="file holding the prize table (or the lootbox JSON) of a weighted draw")

    tenants = commands.add_parser("tenants", help="tenants").add_subparsers(dest="action", required=True)
    create = add("create", tenants_create, "create a tenant and its first brand", tenants)
    create.add_argument("slug")
    create.add_argument("--service-mode", default="plug_in", choices=["plug_in", "white_label"])
    create.add_argument("--brand", help="first brand's slug (default: the tenant's)")
    create.add_argument("--name")
    create.add_argument("--brand-name", help="first brand's name")
    add("list", tenants_list, "list tenants", tenants)
    add("show", tenants_show, "show a tenant and its brands", tenants).add_argument("slug")

    brands = commands.add_parser("brands", help="brands").add_subparsers(dest="action", required=True)
    brand = add("add", brands_add, "add a brand to a tenant", brands)
    brand.add_argument("tenant")
    brand.add_argument("slug")
    brand.add_argument("--name")

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    issue = add("issue", keys_issue, "issue an API key (shown once)", keys)
    issue.add_argument("tenant")
    issue.add_argument("--brand", required=True)
    issue.add_argument("--mode", required=True, choices=["live", "test"])
    issue.add_argument("--scopes", help="comma-separated scopes (default: *)")
    revoke = add("revoke", keys_revoke, "revoke an API key at once", keys)
    revoke.add_argument("tenant")
    revoke.add_argument("key_id")
    return root


def main(argv: list[str] | None = None) -> int:
    from models.errors import DomainError

    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except SettingsError as bad:
        print(f"wowsino: {bad}", file=sys.stderr)
        return 2
    except DomainError as refused:
        print(f"wowsino: {refused.detail}", file=sys.stderr)
        return 1
    except BadArgument as bad:
        print(f"wowsino: {bad}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
