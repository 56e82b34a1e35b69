"""Blocks of actors and domains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fedblog.storage.db import Connection

COLUMNS = "id, kind, value, reason, created_at, expires_at, block_sent"


@dataclass(frozen=True)
class StoredBlock:
    id: int
    kind: str
    value: str
    reason: str | None
    created_at: datetime
    expires_at: datetime | None
    block_sent: bool


async def upsert(conn: Connection, *, kind: str, value: str, reason: str | None,
                 expires_at: datetime | None) -> StoredBlock:
    row = await conn.fetchrow(
        f"INSERT INTO blocks (kind, value, reason, expires_at) VALUES ($1, $2, $3, $4)"
        f" ON CONFLICT (kind, value) DO UPDATE SET reason = EXCLUDED.reason,"
        f" expires_at = EXCLUDED.expires_at RETURNING {COLUMNS}",
        kind, value, reason, expires_at,
    )
    await conn.execute("SELECT pg_notify('fedblog_blocks', '')")
    return StoredBlock(**dict(row))


async def mark_block_sent(conn: Connection, block_id: int) -> None:
    await conn.execute("UPDATE blocks SET block_sent = true WHERE id = $1", block_id)


async def delete(conn: Connection, block_id: int) -> StoredBlock | None:
    row = await conn.fetchrow(f"DELETE FROM blocks WHERE id = $1 RETURNING {COLUMNS}", block_id)
    await conn.execute("SELECT pg_notify('fedblog_blocks', '')")
    return StoredBlock(**dict(row)) if row else None


async def all_blocks(conn: Connection) -> list[StoredBlock]:
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM blocks ORDER BY id")
    return [StoredBlock(**dict(r)) for r in rows]


async def expired(conn: Connection) -> list[StoredBlock]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM blocks WHERE expires_at IS NOT NULL AND expires_at <= now()"
        f" FOR UPDATE SKIP LOCKED")
    return [StoredBlock(**dict(r)) for r in rows]


async def actors_on_domain(conn: Connection, domain: str) -> list[str]:
    """Known actors whose host is the domain or one of its subdomains (port included or not)."""
    rows = await conn.fetch(
        "SELECT id FROM remote_actors WHERE host = $1 OR host LIKE $1 || ':%'"
        " OR host LIKE '%.' || $1 OR host LIKE '%.' || $1 || ':%'", domain)
    return [r["id"] for r in rows]


async def commenters_on_domain(conn: Connection, domain: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT actor_id FROM comments WHERE NOT is_author AND ("
        " split_part(split_part(actor_id, '://', 2), '/', 1) = $1"
        " OR split_part(split_part(actor_id, '://', 2), '/', 1) LIKE $1 || ':%'"
        " OR split_part(split_part(actor_id, '://', 2), '/', 1) LIKE '%.' || $1)", domain)
    return [r["actor_id"] for r in rows]
