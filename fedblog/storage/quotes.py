"""Quote requests (FEP-044f) and the authorizations granted for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.storage.db import Connection, Record

COLUMNS = "id, activity_id, actor_id, post_id, quoting_object_id, state, token, received_at, decided_at"


@dataclass(frozen=True)
class QuoteRequest:
    id: int
    activity_id: str
    actor_id: str
    post_id: int
    quoting_object_id: str
    state: str
    token: str | None
    received_at: datetime
    decided_at: datetime | None


def _request(row: Record) -> QuoteRequest:
    return QuoteRequest(**dict(row))


async def insert(conn: Connection, *, activity_id: str, actor_id: str, post_id: int,
                 quoting_object_id: str, instrument: Any) -> QuoteRequest | None:
    row = await conn.fetchrow(
        f"INSERT INTO quote_requests (activity_id, actor_id, post_id, quoting_object_id,"
        f" instrument, state) VALUES ($1, $2, $3, $4, $5, 'pending')"
        f" ON CONFLICT (activity_id) DO NOTHING RETURNING {COLUMNS}",
        activity_id, actor_id, post_id, quoting_object_id, instrument,
    )
    return _request(row) if row else None


async def get(conn: Connection, request_id: int) -> QuoteRequest | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM quote_requests WHERE id = $1 FOR UPDATE",
                              request_id)
    return _request(row) if row else None


async def by_token(conn: Connection, token: str) -> QuoteRequest | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM quote_requests WHERE token = $1", token)
    return _request(row) if row else None


async def decide(conn: Connection, request_id: int, state: str, token: str | None) -> QuoteRequest:
    row = await conn.fetchrow(
        f"UPDATE quote_requests SET state = $2, token = coalesce($3, token), decided_at = now()"
        f" WHERE id = $1 RETURNING {COLUMNS}",
        request_id, state, token,
    )
    return _request(row)


async def list_by_state(conn: Connection, state: str | None, limit: int) -> list[QuoteRequest]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM quote_requests WHERE ($1::text IS NULL OR state = $1)"
        f" ORDER BY id DESC LIMIT $2", state, limit,
    )
    return [_request(r) for r in rows]
