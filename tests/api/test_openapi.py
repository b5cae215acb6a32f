"""The OpenAPI document covers every route of the API with the statuses it can answer."""

from __future__ import annotations

import re

from app.web.api.openapi import openapi_document


def _routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes[path] = {m.lower() for m in rule.methods if m not in ("HEAD", "OPTIONS")}
    return routes


def test_every_route_is_documented_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document == openapi_document()
    assert document["openapi"].startswith("3.1")
    documented = {path: set(item) for path, item in document["paths"].items()}
    assert documented == _routes(app)


def test_every_operation_documents_its_errors_with_the_error_schema():
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            public = operation.get("security") == []
            if not public:
                assert "401" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(responses), (method, path)
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert schemas[ref.rsplit("/", 1)[1]]["additionalProperties"] is False
            if "{" in path or operation.get("parameters"):
                assert "422" in responses or "404" in responses, (method, path)
            for status, response in responses.items():
                schema = response["content"]["application/json"]["schema"]
                if status >= "400":
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}


def test_the_error_shape_is_the_contract(client):
    error = client.get("/api/v1/subjects/371082199001010017/standing").get_json()
    assert set(error) == {"error"} and set(error["error"]) == {"code", "message", "details"}
    schema = openapi_document()["components"]["schemas"]["ErrorDetail"]
    assert set(schema["required"]) == {"code", "message", "details"}
