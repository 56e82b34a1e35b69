"""Reports (Flag) from remote servers, for the admin."""

from __future__ import annotations

from typing import Any

from fedblog.storage.db import Connection


async def insert(conn: Connection, *, activity_id: str, actor_id: str, reporter_host: str,
                 content: str | None, object_ids: list[str]) -> None:
    await conn.execute(
        "INSERT INTO reports (activity_id, actor_id, reporter_host, content, object_ids)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (activity_id) DO NOTHING",
        activity_id, actor_id, reporter_host, content, object_ids,
    )


async def list_open(conn: Connection, *, include_resolved: bool, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, activity_id, actor_id, reporter_host, content, object_ids, received_at,"
        " resolved_at, resolution FROM reports WHERE $1 OR resolved_at IS NULL"
        " ORDER BY id DESC LIMIT $2",
        include_resolved, limit,
    )
    return [dict(r) for r in rows]


async def resolve(conn: Connection, report_id: int, resolution: str) -> bool:
    status = await conn.execute(
        "UPDATE reports SET resolved_at = now(), resolution = $2"
        " WHERE id = $1 AND resolved_at IS NULL", report_id, resolution)
    return bool(status.endswith(" 1"))


async def get(conn: Connection, report_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, activity_id, actor_id, reporter_host, content, object_ids, received_at,"
        " resolved_at, resolution FROM reports WHERE id = $1", report_id)
    return dict(row) if row else None
