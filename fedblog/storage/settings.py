"""The blog's settings row and its own signing keys."""

from __future__ import annotations

from typing import Any

from fedblog.models import BlogSettings, LocalKey
from fedblog.storage.db import Connection

SETTINGS_FIELDS = (
    "display_name", "summary", "icon_url", "manually_approves_followers", "discoverable",
    "followers_visible", "default_language", "moderation_policy", "quote_policy",
    "send_block_activity", "comments_per_actor_per_hour",
)


async def get_settings(conn: Connection) -> BlogSettings:
    row = await conn.fetchrow(f"SELECT {', '.join(SETTINGS_FIELDS)} FROM blog_settings")
    return BlogSettings(**dict(row))


async def update_settings(conn: Connection, changes: dict[str, Any]) -> BlogSettings:
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    if changes:
        names = list(changes)
        assignments = ", ".join(f"{name} = ${i + 1}" for i, name in enumerate(names))
        await conn.execute(f"UPDATE blog_settings SET {assignments}", *changes.values())
    return await get_settings(conn)


async def get_key(conn: Connection, name: str) -> LocalKey | None:
    row = await conn.fetchrow(
        "SELECT name, private_key_pem, public_key_pem FROM local_keys WHERE name = $1", name
    )
    return LocalKey(**dict(row)) if row else None


async def insert_key_once(conn: Connection, key: LocalKey) -> LocalKey:
    """Store a key unless one exists: concurrent first starts agree on one key."""
    await conn.execute(
        "INSERT INTO local_keys (name, private_key_pem, public_key_pem) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO NOTHING",
        key.name, key.private_key_pem, key.public_key_pem,
    )
    stored = await get_key(conn, key.name)
    assert stored is not None
    return stored
