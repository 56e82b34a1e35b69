"""The desk's sessions: one row per logged-in browser, keyed by the SHA-256 of its id."""

from __future__ import annotations

from fedblog.storage.db import Connection


async def insert(conn: Connection, id_hash: bytes, token_hash: bytes, lifetime: int) -> None:
    # Expired rows of any session go at the same time: the table stays the size of the
    # sessions in use.
    await conn.execute("DELETE FROM desk_sessions WHERE expires_at < now()")
    await conn.execute(
        "INSERT INTO desk_sessions (id_hash, token_hash, expires_at)"
        " VALUES ($1, $2, now() + make_interval(secs => $3))",
        id_hash, token_hash, float(lifetime),
    )


async def is_live(conn: Connection, id_hash: bytes, token_hash: bytes) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM desk_sessions"
        " WHERE id_hash = $1 AND token_hash = $2 AND expires_at > now())",
        id_hash, token_hash,
    ))


async def delete(conn: Connection, id_hash: bytes) -> bool:
    status = await conn.execute("DELETE FROM desk_sessions WHERE id_hash = $1", id_hash)
    return bool(status.endswith(" 1"))
