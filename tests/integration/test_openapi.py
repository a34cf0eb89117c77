"""The OpenAPI document describes every success answer field by field, never as a bare object."""

from __future__ import annotations

from typing import Any

from api.app import create_app
from config.settings import load_settings

METHODS = ("get", "post", "patch", "put", "delete")


def _document() -> dict[str, Any]:
    app = create_app(load_settings({"WOWSINO_ADMIN_TOKEN": "x" * 32}))
    return app.openapi_schema.to_schema()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_success_answer_names_its_fields() -> None:
    document = _document()
    checked = 0
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or path.startswith("/schema"):
                continue
            successes = {status: answer for status, answer in operation["responses"].items() if status[0] == "2"}
            assert successes, f"{method.upper()} {path} documents no success answer"
            for status, answer in successes.items():
                where = f"{method.upper()} {path} -> {status}"
                if status == "204":
                    assert not answer.get("content"), f"{where} has a body"
                    continue
                media = answer.get("content", {}).get("application/json")
                assert media is not None, f"{where} documents no JSON body"
                schema = _resolve(document, media["schema"])
                assert schema.get("type") == "object" and schema.get("properties"), f"{where} is a bare object"
                assert "additionalProperties" not in schema, f"{where} is a free-form map"
                assert set(schema.get("required", [])) <= set(schema["properties"]), where
                checked += 1
    assert checked > 70


def test_listings_answer_a_page_of_rows() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    pages = [name for name in schemas if schemas[name].get("title", "").startswith("Page[")]
    assert len(pages) >= 15
    for name in pages:
        page = schemas[name]
        assert page["required"] == ["data", "next_cursor"], name
        rows = _resolve(document, page["properties"]["data"]["items"])
        assert rows.get("properties"), f"{name}: rows without fields"


def test_every_operation_names_the_credential_it_takes() -> None:
    """Admin routes the admin token; /v1 routes an API key with their scope; only health and schema none."""
    document = _document()
    schemes = document["components"]["securitySchemes"]
    assert {schemes[name]["scheme"] for name in ("apiKey", "adminToken")} == {"bearer"}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            security = item[method].get("security")
            if path.startswith("/tenants"):
                assert security == [{"adminToken": []}], (method, path)
            elif path.startswith("/v1/"):
                assert security and set(security[0]) == {"apiKey"}, (method, path)
                assert path == "/v1/me" or len(security[0]["apiKey"]) == 1, (method, path)
            else:
                assert path in {"/health", "/ready"} and security is None, (method, path)
