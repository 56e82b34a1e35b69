"""Likes and boosts of the blog's posts and answers, with who gave them."""

from __future__ import annotations

from fedblog.storage.db import Connection


async def add(conn: Connection, *, activity_id: str, kind: str, actor_id: str, object_id: str) -> bool:
    status = await conn.execute(
        "INSERT INTO reactions (activity_id, kind, actor_id, object_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        activity_id, kind, actor_id, object_id,
    )
    return bool(status.endswith(" 1"))


async def remove(conn: Connection, *, kind: str, actor_id: str, activity_id: str | None,
                 object_id: str | None) -> bool:
    status = await conn.execute(
        "DELETE FROM reactions WHERE kind = $1 AND actor_id = $2"
        " AND (activity_id = $3 OR object_id = $4)",
        kind, actor_id, activity_id, object_id,
    )
    return not status.endswith(" 0")


async def by_activity(conn: Connection, activity_id: str) -> str | None:
    value = await conn.fetchval("SELECT kind FROM reactions WHERE activity_id = $1", activity_id)
    return str(value) if value else None


async def counts(conn: Connection, object_id: str) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT kind, count(*) AS n FROM reactions WHERE object_id = $1 GROUP BY kind", object_id)
    found = {r["kind"]: int(r["n"]) for r in rows}
    return {"like": found.get("like", 0), "announce": found.get("announce", 0)}


async def actors(conn: Connection, object_id: str, kind: str, limit: int = 100) -> list[str]:
    rows = await conn.fetch(
        "SELECT actor_id FROM reactions WHERE object_id = $1 AND kind = $2 ORDER BY id LIMIT $3",
        object_id, kind, limit)
    return [r["actor_id"] for r in rows]


async def remove_by_actor(conn: Connection, actor_id: str) -> int:
    status = await conn.execute("DELETE FROM reactions WHERE actor_id = $1", actor_id)
    return int(status.split()[-1])
