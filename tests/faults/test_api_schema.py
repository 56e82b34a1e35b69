"""Property-based tests of the author API from its own OpenAPI document (schemathesis).

The real server runs as a `fedblog serve` process; schemathesis generates requests from
/api/openapi.json and checks that none gets a 5xx and every response matches the document.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import _admin, _with_database
from tests.harness import free_port

TOKEN = "schema-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def live_api(pg_server_dsn: str, template_database: str) -> Iterator[schemathesis.BaseSchema]:
    name = f"fedblog_s_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(pg_server_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": _with_database(pg_server_dsn, name),
           "FEDBLOG_DOMAIN": f"127.0.0.1:{port}", "FEDBLOG_SCHEME": "http",
           "FEDBLOG_API_TOKEN": TOKEN}
    server = subprocess.Popen([sys.executable, "-m", "fedblog.cli", "--log-level", "error",
                               "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/openapi.json").is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        httpx.post(f"http://127.0.0.1:{port}/api/v1/posts", headers=AUTH,
                   json={"markdown": "Något att läsa"}).raise_for_status()
        yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/api/openapi.json")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        asyncio.run(_admin(pg_server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_api_never_fails_and_keeps_to_its_document(live_api: schemathesis.BaseSchema) -> None:
    """Every operation of the document, 25 generated requests each (Hypothesis drives them;
    schemathesis' own pytest plugin does not run on this pytest, so the loop is ours)."""
    tried: list[str] = []
    for result in live_api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=AUTH, timeout=30)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")
            case.validate_response(response, checks=[
                status_code_conformance, content_type_conformance, response_schema_conformance])

        run()
        tried.append(operation.label)
    assert len(tried) >= 20, tried


HOSTILE_JSON = ['"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"x\\udfffy"', "1e999", "-1e999",
                "9" * 5000, "[" * 3000 + "]" * 3000, '{"\\u0000": "\\ud800"}',
                '"0001-01-01T00:00:00+14:00"', '"9999-12-31T23:59:59-14:00"']
# "%C2%B2" is a superscript two: str.isdigit() but not int()
HOSTILE_QUERY = ["%00", "a%00b", "%ED%A0%80", "%FF", "9" * 5000, "-1", "1e999", "%C2%B2"]
PLACEHOLDER = {"string": '"x"', "integer": "1", "number": "1", "boolean": "false",
               "array": "[]", "object": "{}"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def test_hostile_values_in_every_documented_field_are_never_a_5xx(
        live_api: schemathesis.BaseSchema) -> None:
    """Issue 14: every JSON field and query parameter the document names, given NUL, lone
    surrogates (as JSON escapes), huge or non-finite numbers, deep nesting or an out-of-range
    date, with the other required fields valid: a 4xx, never a 5xx."""
    base = live_api.get_base_url().rstrip("/")
    document: dict[str, Any] = httpx.get(f"{base}/api/openapi.json").json()
    tried = 0
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        for path, operations in document["paths"].items():
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method, operation in operations.items():
                content = operation.get("requestBody", {}).get("content", {})
                schema = _resolve(document, content.get("application/json", {}).get("schema", {}))
                properties = schema.get("properties", {})
                required = {name: PLACEHOLDER[_kind(_resolve(document, properties[name]))]
                            for name in schema.get("required", []) if name in properties}
                for name in properties:
                    for value in HOSTILE_JSON:
                        fields = {**required, name: value}
                        body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
                        response = client.request(method.upper(), url, content=body.encode(),
                                                  headers={"Content-Type": "application/json"})
                        tried += 1
                        assert response.status_code < 500, (method, path, body[:100],
                                                            response.text[:200])
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") != "query":
                        continue
                    for value in HOSTILE_QUERY:
                        response = client.request(method.upper(),
                                                  f"{url}?{parameter['name']}={value}")
                        tried += 1
                        assert response.status_code < 500, (method, path, parameter["name"],
                                                            value[:20], response.text[:200])
    assert tried > 200, tried
