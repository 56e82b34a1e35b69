"""What the operator asks of the database: queue depths and ages, deliveries by outcome, failing
and paused hosts, the last errors, the migrations applied. Read-only; each function is one query.

The pending parts of the queues are read through their partial indexes (`state = 'received'`,
`state = 'queued'`); only the deliveries' totals by state count the whole table."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from fedblog.storage.db import Connection


async def ping(conn: Connection) -> bool:
    return bool(await conn.fetchval("SELECT true"))


async def applied_migrations(conn: Connection) -> set[str]:
    """The names in schema_migrations; none when the table does not exist yet."""
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        return set()
    return {str(r["name"]) for r in rows}


async def inbox_queue(conn: Connection) -> dict[str, Any]:
    """received / waiting counts and the age in seconds of the oldest unprocessed activity."""
    # One scan per partial index (state = 'received', state = 'waiting'): an IN over both
    # makes the planner read the whole table.
    row = await conn.fetchrow(
        "SELECT r.received, r.retrying, r.oldest_age,"
        "  (SELECT count(*) FROM inbox_activities WHERE state = 'waiting') AS waiting"
        " FROM (SELECT count(*) AS received, count(*) FILTER (WHERE error IS NOT NULL) AS retrying,"
        "         extract(epoch FROM now() - min(received_at))::float8 AS oldest_age"
        "       FROM inbox_activities WHERE state = 'received') r")
    return dict(row) if row is not None else {}


async def delivery_queue(conn: Connection) -> dict[str, Any]:
    """The queued deliveries: how many, how many retrying, due, held by paused hosts; the age of
    the oldest and how late the most overdue one (not held by a paused host) is."""
    row = await conn.fetchrow(
        "SELECT count(*) AS queued,"
        "  count(*) FILTER (WHERE d.attempts > 0) AS retrying,"
        "  count(*) FILTER (WHERE d.next_attempt_at <= now()) AS due,"
        "  count(*) FILTER (WHERE coalesce(h.paused_until > now(), false)) AS paused,"
        "  extract(epoch FROM now() - min(d.created_at))::float8 AS oldest_age,"
        "  extract(epoch FROM now() - min(d.next_attempt_at) FILTER ("
        "    WHERE d.next_attempt_at <= now() AND NOT coalesce(h.paused_until > now(), false)"
        "  ))::float8 AS lag"
        " FROM deliveries d LEFT JOIN hosts h ON h.host = d.host"
        " WHERE d.state = 'queued'")
    return dict(row) if row is not None else {}


async def deliveries_by_state(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    return {str(r["state"]): int(r["n"]) for r in rows}


async def host_trouble(conn: Connection, limit: int) -> tuple[int, int, list[dict[str, Any]]]:
    """(hosts failing, hosts paused, the `limit` hosts with the longest run of failures)."""
    counts = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE consecutive_failures > 0) AS failing,"
        "  count(*) FILTER (WHERE paused_until > now()) AS paused FROM hosts")
    rows = await conn.fetch(
        "SELECT host, consecutive_failures, paused_until, paused_until > now() AS paused,"
        "  last_failure_at, last_success_at"
        " FROM hosts WHERE consecutive_failures > 0"
        " ORDER BY consecutive_failures DESC, host LIMIT $1", limit)
    failing = int(counts["failing"]) if counts else 0
    paused = int(counts["paused"]) if counts else 0
    return failing, paused, [dict(r) for r in rows]


async def last_delivery_errors(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """For the hosts that failed most recently, the error of their latest failed attempt."""
    rows = await conn.fetch(
        "SELECT h.host, h.last_failure_at AS at, d.inbox, d.last_status, d.last_error, d.state"
        " FROM (SELECT host, last_failure_at FROM hosts WHERE last_failure_at IS NOT NULL"
        "       AND (last_success_at IS NULL OR last_failure_at > last_success_at)"
        "       ORDER BY last_failure_at DESC LIMIT $1) h"
        " CROSS JOIN LATERAL (SELECT inbox, last_status, last_error, state FROM deliveries"
        "   WHERE host = h.host AND (last_error IS NOT NULL OR state = 'failed')"
        "   ORDER BY id DESC LIMIT 1) d"
        " ORDER BY h.last_failure_at DESC", limit)
    return [dict(r) for r in rows]


async def last_given_up(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The deliveries given up most recently (a 4xx stops at once without counting against the
    host, so these may come from hosts that never fail twice). Reads the whole table: for
    `fedblog status`, not for every scrape."""
    rows = await conn.fetch(
        "SELECT host, finished_at AS at, inbox, last_status, last_error, state FROM deliveries"
        " WHERE state = 'failed' ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT $1", limit)
    return [dict(r) for r in rows]


async def last_inbox_errors(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The latest inbox activities that failed or are being retried after an error."""
    rows = await conn.fetch(
        "SELECT id, type, actor_id, state, error, coalesce(processed_at, received_at) AS at"
        " FROM inbox_activities WHERE error IS NOT NULL AND state IN ('failed', 'received')"
        " ORDER BY id DESC LIMIT $1", limit)
    return [dict(r) for r in rows]


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message says why, in one line."""


async def check_connection(dsn: str, timeout: float = 10.0) -> None:
    """Connect once, as a start-up check; DatabaseUnavailable with the reason otherwise."""
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn, timeout=timeout), timeout=timeout + 1)
    except TimeoutError as exc:
        raise DatabaseUnavailable(f"no answer within {timeout:g} s") from exc
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(reason) from exc
    await conn.close()
