"""Shared fixtures: a real PostgreSQL (the machine's, or an embedded one) and a fresh database per test."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from fedblog.storage.db import migrate
from fedblog.storage.embedded import EmbeddedPostgres

TEMPLATE = f"fedblog_tpl_{os.getpid()}"


def _local_postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def _with_database(dsn: str, name: str) -> str:
    """The same server DSN pointing at another database (works for host= socket DSNs too)."""
    head, _, tail = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """TEST_DATABASE_URL, else 127.0.0.1:5432 (trust), else an embedded PostgreSQL."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    if _local_postgres_up():
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
        return
    folder = Path(tempfile.mkdtemp(prefix="fedblog-test-pg-"))
    embedded = EmbeddedPostgres(folder)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database(pg_server_dsn: str) -> Iterator[str]:
    """A database migrated once per session; each test copies it."""
    asyncio.run(_admin(pg_server_dsn, f'DROP DATABASE IF EXISTS "{TEMPLATE}"',
                       f'CREATE DATABASE "{TEMPLATE}"'))
    asyncio.run(migrate(_with_database(pg_server_dsn, TEMPLATE)))
    yield TEMPLATE
    asyncio.run(_admin(pg_server_dsn, f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))


@pytest.fixture
async def database_url(pg_server_dsn: str, template_database: str) -> AsyncIterator[str]:
    name = f"fedblog_t_{uuid.uuid4().hex[:12]}"
    await _admin(pg_server_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield _with_database(pg_server_dsn, name)
    await _admin(pg_server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
