"""Property-based tests of the author API from its own OpenAPI document (schemathesis).

The real server runs as a `fedblog serve` process; schemathesis generates requests from
/api/openapi.json and checks that none gets a 5xx and every response matches the document.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

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
