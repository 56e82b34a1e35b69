"""The connection pool and the migration runner: the only place that opens PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
Connection = asyncpg.Connection
Record = asyncpg.Record


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_connection(conn: asyncpg.Connection) -> None:
    return None


class Database:
    """A pool plus helpers; repositories take a connection so callers choose the transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 20) -> Database:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection,
            # The default reset (unlock, close, unlisten, reset all) costs a round trip on every
            # release; our code ends its transactions and removes its own listeners.
            reset=_keep_connection,
            # Pool connections survive a PostgreSQL restart: a broken one is replaced.
            max_inactive_connection_lifetime=300,
        )
        assert pool is not None
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def listening(self, channel: str, callback: Callable[[], None]) -> AsyncIterator[None]:
        """Call `callback` on each NOTIFY; polling remains the fallback if the link drops."""
        conn = await self.pool.acquire()

        def handler(*_: object) -> None:
            callback()

        await conn.add_listener(channel, handler)
        try:
            yield
        finally:
            # A connection that died with the server has no listener left to remove.
            with contextlib.suppress(asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                await conn.remove_listener(channel, handler)
            await self.pool.release(conn)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(query, *args)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def migrations_dir() -> Path:
    """The sql/ folder: shipped inside the wheel as fedblog/sql, or the source tree's sql/."""
    packaged = Path(__file__).resolve().parent.parent / "sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sql"


def list_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or migrations_dir()
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.stem, path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number in {folder}")
    return found


async def migrate(dsn: str, folder: Path | None = None) -> list[str]:
    """Apply each pending migration once, in order, each in its own transaction."""
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        # One migrator at a time, even with several processes starting together.
        await conn.execute("SELECT pg_advisory_lock(7220517)")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in list_migrations(folder):
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version, migration.name,
                )
            log.info("applied migration %s", migration.name)
            applied_now.append(migration.name)
        await conn.execute("SELECT pg_advisory_unlock(7220517)")
    finally:
        await conn.close()
    return applied_now
