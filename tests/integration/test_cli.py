"""The account manager's command line works on the same database as the API."""

from __future__ import annotations

import json

import httpx

from tests.support.stack import Stack


def test_create_tenant_issue_and_revoke_a_key(stack: Stack) -> None:
    made = stack.cli(["tenants", "create", "cli-casino", "--service-mode", "white_label", "--brand-name", "Casino"])
    created = json.loads(made.split("\n\n")[0])
    assert created["slug"] == "cli-casino" and created["brands"][0]["slug"] == "cli-casino"
    assert json.loads(stack.cli(["tenants", "show", "cli-casino"])) == created
    assert created["brands"][0]["name"] == "Casino"
    out = stack.cli(
        ["keys", "issue", "cli-casino", "--brand", "cli-casino", "--mode", "test", "--scopes", "players:read"]
    )
    issued = json.loads(out[: out.rindex("}") + 1])
    assert issued["key"].startswith("wsk_test_") and issued["scopes"] == ["players:read"]
    headers = {"Authorization": f"Bearer {issued['key']}"}
    me = httpx.get(f"{stack.url}/v1/me", headers=headers).json()
    assert me["tenant"] == {
        "slug": "cli-casino",
        "service_mode": "white_label",
        "key_mode": "test",
        "scopes": ["players:read"],
    }
    stack.cli(["keys", "revoke", "cli-casino", issued["id"]])
    assert httpx.get(f"{stack.url}/v1/me", headers=headers).status_code == 401


def test_cli_errors_are_one_line(stack: Stack) -> None:
    out = stack.cli(["keys", "issue", "no-such-tenant", "--brand", "x", "--mode", "live"], check=False)
    assert out.strip() == "wowsino: no tenant 'no-such-tenant'"
    assert stack.cli(["verify", "no-such-file.json"], check=False).startswith("wowsino: cannot read a JSON document")


def test_cli_takes_what_the_api_takes(stack: Stack, admin: httpx.Client) -> None:
    refused = {
        ("tenants", "create", "Bad Slug"): "slug",
        ("tenants", "create", "a" * 65): "slug",
        ("tenants", "create", "cli-ok", "--brand", "B B"): "brand.slug",
        ("brands", "add", "cli-ok", "x y"): "slug",
        ("keys", "issue", "cli-ok", "--brand", "cli-ok", "--mode", "live", "--scopes", "*,nope"): "scopes[1]",
    }
    for args, field in refused.items():
        out = stack.cli(list(args), check=False).strip()
        assert out.startswith(f"wowsino: {field}: ") and "\n" not in out, out
    assert "Bad Slug" not in {tenant["slug"] for tenant in admin.get("/tenants", params={"limit": 500}).json()["data"]}
