"""API tokens, stored as SHA-256 hashes."""

from __future__ import annotations

from fedblog.storage.db import Connection


async def insert(conn: Connection, token_hash: bytes, label: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO api_tokens (token_hash, label) VALUES ($1, $2) RETURNING id",
        token_hash, label,
    ))


async def is_active(conn: Connection, token_hash: bytes) -> bool:
    # The lookup is by an index on the hash, so timing reveals nothing about the token.
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL)",
        token_hash,
    ))


async def revoke(conn: Connection, token_id: int) -> bool:
    status = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id
    )
    return bool(status.endswith(" 1"))


async def all_tokens(conn: Connection) -> list[dict[str, object]]:
    rows = await conn.fetch("SELECT id, label, created_at, revoked_at FROM api_tokens ORDER BY id")
    return [dict(r) for r in rows]
