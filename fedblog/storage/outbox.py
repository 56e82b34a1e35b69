"""Published activities and the durable delivery queue (one row per activity and inbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.federation.hosts import url_host_or_empty
from fedblog.storage.db import Connection
from fedblog.storage.workers import STALE_AFTER, claim_is_free


@dataclass(frozen=True)
class StoredActivity:
    pk: int
    activity_id: str
    type: str
    object_id: str | None
    body: Any
    signer: str
    public: bool
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    activity_pk: int
    inbox: str
    host: str
    attempts: int
    signer: str
    activity_id: str
    reaches_blocked: bool


ACTIVITY_COLUMNS = "id AS pk, activity_id, type, object_id, body, signer, public, created_at"


async def insert_activity(
    conn: Connection, *, activity_id: str, type_: str, object_id: str | None, body: Any,
    signer: str = "blog", public: bool = True, reaches_blocked: bool = False,
) -> int:
    return int(await conn.fetchval(
        "INSERT INTO outbox_activities (activity_id, type, object_id, body, signer, public,"
        " reaches_blocked) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        activity_id, type_, object_id, body, signer, public, reaches_blocked,
    ))


async def enqueue(conn: Connection, activity_pk: int, inboxes: Sequence[str]) -> int:
    """Queue one delivery per distinct inbox; returns how many rows were added."""
    unique = sorted(set(inboxes))
    if not unique:
        return 0
    hosts = [url_host_or_empty(inbox) for inbox in unique]
    status = await conn.execute(
        "INSERT INTO deliveries (activity, inbox, host)"
        " SELECT $1, i, h FROM unnest($2::text[], $3::text[]) AS t(i, h)"
        " ON CONFLICT (activity, inbox) DO NOTHING",
        activity_pk, unique, hosts,
    )
    await conn.execute("SELECT pg_notify('fedblog_deliveries', '')")
    return int(status.split()[-1])


async def get_activity(conn: Connection, activity_id: str) -> StoredActivity | None:
    row = await conn.fetchrow(
        f"SELECT {ACTIVITY_COLUMNS} FROM outbox_activities WHERE activity_id = $1", activity_id
    )
    return StoredActivity(**dict(row)) if row else None


async def list_public(conn: Connection, *, limit: int, before_pk: int | None) -> list[StoredActivity]:
    rows = await conn.fetch(
        f"SELECT {ACTIVITY_COLUMNS} FROM outbox_activities WHERE public"
        f" AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1",
        limit, before_pk,
    )
    return [StoredActivity(**dict(r)) for r in rows]


async def count_public(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox_activities WHERE public"))


async def claim_due(
    conn: Connection, *, limit: int, lease_seconds: float, worker: str,
    stale_after: float = STALE_AFTER,
) -> list[Delivery]:
    """Claim due deliveries for the session `worker`, skipping rows live workers hold and
    hosts the breaker paused; a dead session's claims are free (see workers.py)."""
    rows = await conn.fetch(
        "WITH due AS ("
        "  SELECT d.id FROM deliveries d"
        "  WHERE d.state = 'queued' AND d.next_attempt_at <= now()"
        f"    AND {claim_is_free('d', '$4')}"
        "    AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host = d.host AND h.paused_until > now())"
        "  ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED)"
        " UPDATE deliveries d SET locked_until = now() + make_interval(secs => $2),"
        "   locked_by = $3, attempts = d.attempts + 1"
        " FROM due, outbox_activities a WHERE d.id = due.id AND a.id = d.activity"
        " RETURNING d.id, d.activity AS activity_pk, d.inbox, d.host, d.attempts,"
        "   a.signer, a.activity_id, a.reaches_blocked",
        limit, lease_seconds, worker, stale_after,
    )
    return [Delivery(**dict(r)) for r in rows]


async def bodies(conn: Connection, activity_pks: Sequence[int]) -> dict[int, bytes]:
    """The activities' JSON exactly as stored, ready to send (no decode and re-encode)."""
    rows = await conn.fetch(
        "SELECT id, body::text AS body FROM outbox_activities WHERE id = ANY($1::bigint[])",
        list(activity_pks))
    return {r["id"]: r["body"].encode() for r in rows}


async def mark_delivered_many(conn: Connection, delivered: Sequence[tuple[int, int]]) -> None:
    """Record a batch of (delivery id, status) as delivered in one statement."""
    await conn.execute(
        "UPDATE deliveries d SET state = 'delivered', last_status = u.status, last_error = NULL,"
        " finished_at = now(), locked_until = NULL, locked_by = NULL"
        " FROM unnest($1::bigint[], $2::int[]) AS u(id, status) WHERE d.id = u.id",
        [d[0] for d in delivered], [d[1] for d in delivered])


async def reschedule(
    conn: Connection, delivery_id: int, *, delay_seconds: float, status: int | None, error: str
) -> None:
    await conn.execute(
        "UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => $2),"
        " last_status = $3, last_error = $4, locked_until = NULL, locked_by = NULL WHERE id = $1",
        delivery_id, delay_seconds, status, error,
    )


async def mark_failed(conn: Connection, delivery_id: int, *, status: int | None, error: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET state = 'failed', last_status = $2, last_error = $3,"
        " finished_at = now(), locked_until = NULL, locked_by = NULL WHERE id = $1",
        delivery_id, status, error,
    )


async def release_lease(conn: Connection, delivery_ids: Sequence[int],
                        worker: str | None = None) -> None:
    """Give back leases not yet attempted (clean shutdown), without counting an attempt; only
    those `worker` still holds, when it is given (another may have taken them over)."""
    await conn.execute(
        "UPDATE deliveries SET locked_until = NULL, locked_by = NULL, attempts = attempts - 1"
        " WHERE id = ANY($1::bigint[]) AND state = 'queued'"
        " AND ($2::text IS NULL OR locked_by = $2)",
        list(delivery_ids), worker,
    )


async def counts(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    return {r["state"]: int(r["n"]) for r in rows}


async def hide_object(conn: Connection, object_id: str) -> None:
    """Take a deleted object's Create/Update out of the outbox and stop serving them."""
    await conn.execute(
        "UPDATE outbox_activities SET public = false"
        " WHERE object_id = $1 AND type IN ('Create', 'Update')", object_id,
    )
