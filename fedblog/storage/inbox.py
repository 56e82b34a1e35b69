"""The inbound activity log: stored before the 202, processed afterwards, once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from fedblog.storage.db import Connection
from fedblog.storage.workers import STALE_AFTER, claim_is_free


@dataclass(frozen=True)
class InboxItem:
    id: int
    activity_id: str
    actor_id: str
    type: str
    body: Any
    key_id: str
    sender_ip: str | None
    received_at: datetime
    attempts: int


@dataclass(frozen=True)
class NewInboxItem:
    activity_id: str
    actor_id: str
    type: str
    body: Any
    key_id: str
    sender_ip: str | None
    # The body as JSON text (the request's own text, checked by the caller); `body` re-encoded
    # when None.
    body_json: str | None = None

    def json_text(self) -> str:
        return self.body_json if self.body_json is not None else json.dumps(self.body)


DEADLOCK_RETRIES = 5


async def insert(conn: Connection, item: NewInboxItem) -> int | None:
    """Store the activity; None when its id was seen before (deduplication)."""
    value = await conn.fetchval(
        "INSERT INTO inbox_activities (activity_id, actor_id, type, body, key_id, sender_ip)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (activity_id) DO NOTHING RETURNING id",
        item.activity_id, item.actor_id, item.type, item.body, item.key_id, item.sender_ip,
    )
    return int(value) if value is not None else None


async def insert_many(conn: Connection, items: Sequence[NewInboxItem]) -> set[str]:
    """Store several activities with one statement (one commit); the activity ids stored now.
    The others were seen before. The ids must be distinct; rows get ids in the given order.

    Two batches holding the same ids in another order can deadlock on the unique index
    (PostgreSQL then aborts one statement whole): that one is simply run again."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            rows = await conn.fetch(
                "INSERT INTO inbox_activities (activity_id, actor_id, type, body, key_id, sender_ip)"
                " SELECT a, b, t, j::jsonb, k, ip FROM unnest($1::text[], $2::text[], $3::text[],"
                " $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(a, b, t, j, k, ip, n)"
                " ORDER BY n ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id",
                [i.activity_id for i in items], [i.actor_id for i in items], [i.type for i in items],
                [i.json_text() for i in items], [i.key_id for i in items],
                [i.sender_ip for i in items],
            )
        except asyncpg.TransactionRollbackError:  # deadlock or serialization failure
            if attempt == DEADLOCK_RETRIES or conn.is_in_transaction():
                raise
            continue
        return {r[0] for r in rows}
    raise AssertionError("unreachable")


def refused_by_value(exc: BaseException) -> bool:
    """The statement failed on a value it was given (bad JSON for jsonb, a number out of range,
    a limit), not on the connection or the database's state."""
    return isinstance(exc, (asyncpg.DataError, asyncpg.ProgramLimitExceededError))


async def claim(conn: Connection, *, limit: int, lease_seconds: float, worker: str | None = None,
                stale_after: float = STALE_AFTER) -> list[InboxItem]:
    """Claim a batch of unprocessed activities for the session `worker`: free ones, and those
    whose claimer's session died (see workers.py) or whose lease ran out (the backstop)."""
    rows = await conn.fetch(
        "UPDATE inbox_activities SET locked_until = now() + make_interval(secs => $2),"
        " locked_by = $3, attempts = attempts + 1"
        " WHERE id IN (SELECT i.id FROM inbox_activities i WHERE i.state = 'received'"
        f"   AND {claim_is_free('i', '$4')}"
        "   ORDER BY i.id LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, activity_id, actor_id, type, body, key_id, sender_ip, received_at, attempts",
        limit, lease_seconds, worker, stale_after,
    )
    return sorted((InboxItem(**dict(r)) for r in rows), key=lambda item: item.id)


async def finish(conn: Connection, item_id: int, state: str, error: str | None = None) -> bool:
    """Mark the item done; False if it already was (so the caller's work must roll back)."""
    status = await conn.execute(
        "UPDATE inbox_activities SET state = $2, error = $3, processed_at = now(),"
        " locked_until = NULL, locked_by = NULL WHERE id = $1 AND state = 'received'",
        item_id, state, error,
    )
    return bool(status.endswith(" 1"))


async def release(conn: Connection, item_id: int, error: str, retry_in: float) -> None:
    """A handler failed for a passing reason: leave it queued, retry after a while."""
    await conn.execute(
        "UPDATE inbox_activities SET error = $2, locked_by = NULL,"
        " locked_until = now() + make_interval(secs => $3) WHERE id = $1",
        item_id, error, retry_in,
    )


async def wait_for(conn: Connection, item_id: int, object_id: str) -> bool:
    """Park the item until a comment with `object_id` is stored (see wake_waiting); False, and
    the item is left to be claimed again at once, when that comment exists already."""
    status = await conn.execute(
        "UPDATE inbox_activities SET state = 'waiting', waiting_for = $2, processed_at = now(),"
        " locked_until = NULL, locked_by = NULL, error = NULL WHERE id = $1 AND state = 'received'"
        " AND NOT EXISTS (SELECT 1 FROM comments WHERE ap_id = $2)",
        item_id, object_id)
    if status.endswith(" 1"):
        return True
    await conn.execute("UPDATE inbox_activities SET locked_until = NULL, locked_by = NULL"
                       " WHERE id = $1", item_id)
    return False


async def wake_waiting(conn: Connection, object_id: str) -> int:
    """Queue again the items that waited for `object_id`; how many there were."""
    status = await conn.execute(
        "UPDATE inbox_activities SET state = 'received', waiting_for = NULL, attempts = 0,"
        " processed_at = NULL WHERE state = 'waiting' AND waiting_for = $1", object_id)
    return int(status.split()[-1])


async def wake_arrived(conn: Connection) -> int:
    """Queue again waiting items whose object is stored by now (closes the race of a parent
    stored while its answer was being parked)."""
    status = await conn.execute(
        "UPDATE inbox_activities i SET state = 'received', waiting_for = NULL, attempts = 0,"
        " processed_at = NULL WHERE i.state = 'waiting'"
        " AND EXISTS (SELECT 1 FROM comments c WHERE c.ap_id = i.waiting_for)")
    return int(status.split()[-1])


async def forget(conn: Connection, item_id: int) -> bool:
    """Delete an activity nothing will ever need (a type the blog does not handle), unless
    another worker finished it meanwhile."""
    status = await conn.execute(
        "DELETE FROM inbox_activities WHERE id = $1 AND state = 'received'", item_id)
    return bool(status.endswith(" 1"))


async def trim(conn: Connection, *, older_than_seconds: float, limit: int) -> int:
    """Delete up to `limit` finished rows processed (or parked) more than `older_than_seconds`
    ago; how many went. Nothing reads them afterwards: a comment keeps its own copy of the
    activity (comments.raw_activity, for forwarding and the author's view), and deduplication
    beyond the signature's lifetime is the handlers' (ids are unique where it matters)."""
    status = await conn.execute(
        "DELETE FROM inbox_activities WHERE id IN (SELECT id FROM inbox_activities"
        " WHERE state IN ('processed', 'ignored', 'failed', 'waiting')"
        " AND processed_at < now() - make_interval(secs => $1)"
        " ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        older_than_seconds, limit)
    return int(status.split()[-1])
