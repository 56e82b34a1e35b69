"""The blog's followers, accepted or waiting for the author."""

from __future__ import annotations

from fedblog.models import Follower, RemoteActor
from fedblog.storage.db import Connection, Record

SELECT = (
    "SELECT a.id, a.host, a.type, a.inbox, a.shared_inbox, a.preferred_username, a.name, a.url,"
    " a.icon_url, f.follow_activity_id, f.state, f.created_at, f.accepted_at"
    " FROM followers f JOIN remote_actors a ON a.id = f.actor_id"
)


def _follower(row: Record) -> Follower:
    actor = RemoteActor(
        id=row["id"], host=row["host"], type=row["type"], inbox=row["inbox"],
        shared_inbox=row["shared_inbox"], preferred_username=row["preferred_username"],
        name=row["name"], url=row["url"], icon_url=row["icon_url"],
    )
    return Follower(
        actor=actor, follow_activity_id=row["follow_activity_id"], state=row["state"],
        created_at=row["created_at"], accepted_at=row["accepted_at"],
    )


async def upsert(conn: Connection, actor_id: str, follow_activity_id: str, state: str) -> None:
    await conn.execute(
        "INSERT INTO followers (actor_id, follow_activity_id, state, accepted_at)"
        " VALUES ($1, $2, $3, CASE WHEN $3 = 'accepted' THEN now() END)"
        " ON CONFLICT (actor_id) DO UPDATE SET follow_activity_id = EXCLUDED.follow_activity_id,"
        " state = CASE WHEN followers.state = 'accepted' THEN 'accepted' ELSE EXCLUDED.state END,"
        " accepted_at = coalesce(followers.accepted_at, EXCLUDED.accepted_at)",
        actor_id, follow_activity_id, state,
    )


async def get(conn: Connection, actor_id: str) -> Follower | None:
    row = await conn.fetchrow(f"{SELECT} WHERE f.actor_id = $1", actor_id)
    return _follower(row) if row else None


async def accept(conn: Connection, actor_id: str) -> Follower | None:
    await conn.execute(
        "UPDATE followers SET state = 'accepted', accepted_at = now()"
        " WHERE actor_id = $1 AND state = 'pending'",
        actor_id,
    )
    return await get(conn, actor_id)


async def remove(conn: Connection, actor_id: str, follow_activity_id: str | None = None) -> bool:
    status = await conn.execute(
        "DELETE FROM followers WHERE actor_id = $1"
        " AND ($2::text IS NULL OR follow_activity_id = $2)",
        actor_id, follow_activity_id,
    )
    return bool(status.endswith(" 1"))


async def list_page(
    conn: Connection, *, state: str, limit: int, offset: int = 0
) -> list[Follower]:
    rows = await conn.fetch(
        f"{SELECT} WHERE f.state = $1 ORDER BY f.created_at DESC, f.actor_id LIMIT $2 OFFSET $3",
        state, limit, offset,
    )
    return [_follower(r) for r in rows]


async def count(conn: Connection, state: str = "accepted") -> int:
    return int(await conn.fetchval("SELECT count(*) FROM followers WHERE state = $1", state))


async def delivery_inboxes(conn: Connection) -> list[str]:
    """One inbox per follower, shared inboxes counted once: Mastodon's own grouping."""
    rows = await conn.fetch(
        "SELECT DISTINCT coalesce(a.shared_inbox, a.inbox) AS inbox"
        " FROM followers f JOIN remote_actors a ON a.id = f.actor_id"
        " WHERE f.state = 'accepted' AND a.gone_at IS NULL"
    )
    return [r["inbox"] for r in rows]


async def remove_by_inbox(conn: Connection, inbox: str) -> int:
    """Drop followers whose personal inbox answered 410 Gone (shared inboxes are left alone)."""
    status = await conn.execute(
        "DELETE FROM followers WHERE actor_id IN (SELECT id FROM remote_actors WHERE inbox = $1)",
        inbox,
    )
    return int(status.split()[-1])
