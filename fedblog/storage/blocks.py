"""Blocks of actors and domains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.storage.db import Connection, Record

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


async def followers(conn: Connection) -> list[str]:
    """Every follower's actor id: a domain block matches them by host in Python (one spelling of
    a host, federation/hosts.py; SQL cannot spell IDNA)."""
    return [r["actor_id"] for r in await conn.fetch("SELECT actor_id FROM followers")]


async def visible_commenters(conn: Connection) -> list[str]:
    """Every remote actor with a pending or approved comment (what a domain block hides)."""
    rows = await conn.fetch(
        "SELECT DISTINCT actor_id FROM comments WHERE NOT is_author"
        " AND state IN ('pending', 'approved')")
    return [r["actor_id"] for r in rows]


async def upsert_domains(conn: Connection, domains: list[tuple[str, str | None]]) -> int:
    """Domain blocks (domain, reason) in one statement, each domain once; no expiry. The count
    written."""
    if not domains:
        return 0
    values, reasons = zip(*dict(domains).items(), strict=True)
    status = await conn.execute(
        "INSERT INTO blocks (kind, value, reason, expires_at)"
        " SELECT 'domain', v, r, NULL FROM unnest($1::text[], $2::text[]) AS t (v, r)"
        " ON CONFLICT (kind, value) DO UPDATE SET reason = EXCLUDED.reason, expires_at = NULL",
        list(values), list(reasons))
    await conn.execute("SELECT pg_notify('fedblog_blocks', '')")
    return int(status.rsplit(" ", 1)[-1])


@dataclass(frozen=True)
class StoredImport:
    """A domain blocklist import: its progress, refused lines and what was not applied."""

    id: int
    state: str                        # queued, running, done, failed
    total: int
    done: int
    errors: list[dict[str, Any]]      # {"line", "error"}: nothing is imported when any
    skipped: list[dict[str, Any]]     # {"line", "domain", "severity", "note"}
    imported: list[str]
    created_at: datetime
    finished_at: datetime | None


IMPORT_COLUMNS = "id, state, total, done, errors, skipped, imported, created_at, finished_at"


def _import(row: Record) -> StoredImport:
    return StoredImport(**dict(row))  # jsonb columns arrive decoded (storage/db.py codecs)


async def create_import(conn: Connection, total: int) -> StoredImport:
    row = await conn.fetchrow(
        f"INSERT INTO block_imports (total) VALUES ($1) RETURNING {IMPORT_COLUMNS}", total)
    return _import(row)


async def import_progress(conn: Connection, import_id: int, *, state: str, done: int) -> None:
    await conn.execute("UPDATE block_imports SET state = $2, done = $3, updated_at = now()"
                       " WHERE id = $1", import_id, state, done)


async def finish_import(conn: Connection, import_id: int, *, state: str, done: int,
                        errors: list[dict[str, Any]], skipped: list[dict[str, Any]],
                        imported: list[str]) -> None:
    await conn.execute(
        "UPDATE block_imports SET state = $2, done = $3, errors = $4, skipped = $5,"
        " imported = $6, updated_at = now(), finished_at = now() WHERE id = $1",
        import_id, state, done, errors, skipped, imported)


async def get_import(conn: Connection, import_id: int) -> StoredImport | None:
    row = await conn.fetchrow(f"SELECT {IMPORT_COLUMNS} FROM block_imports WHERE id = $1",
                              import_id)
    return _import(row) if row else None
