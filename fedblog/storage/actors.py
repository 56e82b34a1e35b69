"""Remote actors and their public keys, as last fetched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.models import RemoteActor
from fedblog.storage.db import Connection, Record

ACTOR_COLUMNS = "id, host, type, inbox, shared_inbox, preferred_username, name, url, icon_url"


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    actor_id: str
    public_key_pem: str
    fetched_at: datetime


def _actor(row: Record) -> RemoteActor:
    return RemoteActor(**{k: row[k] for k in ACTOR_COLUMNS.split(", ")})


async def upsert(conn: Connection, actor: RemoteActor, document: Any) -> None:
    await conn.execute(
        "INSERT INTO remote_actors (id, host, type, inbox, shared_inbox, preferred_username,"
        " name, url, icon_url, document, fetched_at, gone_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), NULL)"
        " ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, type = EXCLUDED.type,"
        " inbox = EXCLUDED.inbox, shared_inbox = EXCLUDED.shared_inbox,"
        " preferred_username = EXCLUDED.preferred_username, name = EXCLUDED.name,"
        " url = EXCLUDED.url, icon_url = EXCLUDED.icon_url, document = EXCLUDED.document,"
        " fetched_at = now(), gone_at = NULL",
        actor.id, actor.host, actor.type, actor.inbox, actor.shared_inbox,
        actor.preferred_username, actor.name, actor.url, actor.icon_url, document,
    )


async def get(conn: Connection, actor_id: str) -> RemoteActor | None:
    row = await conn.fetchrow(
        f"SELECT {ACTOR_COLUMNS} FROM remote_actors WHERE id = $1 AND gone_at IS NULL", actor_id
    )
    return _actor(row) if row else None


async def mark_gone(conn: Connection, actor_id: str) -> None:
    await conn.execute("UPDATE remote_actors SET gone_at = now() WHERE id = $1", actor_id)
    await conn.execute("DELETE FROM remote_keys WHERE actor_id = $1", actor_id)


async def upsert_key(conn: Connection, key_id: str, actor_id: str, pem: str) -> None:
    await conn.execute(
        "INSERT INTO remote_keys (key_id, actor_id, public_key_pem, fetched_at)"
        " VALUES ($1, $2, $3, now()) ON CONFLICT (key_id) DO UPDATE SET"
        " actor_id = EXCLUDED.actor_id, public_key_pem = EXCLUDED.public_key_pem, fetched_at = now()",
        key_id, actor_id, pem,
    )


async def get_key(conn: Connection, key_id: str) -> StoredKey | None:
    row = await conn.fetchrow(
        "SELECT key_id, actor_id, public_key_pem, fetched_at FROM remote_keys WHERE key_id = $1",
        key_id,
    )
    return StoredKey(**dict(row)) if row else None


async def get_many_marked(conn: Connection, actor_ids: list[str]
                          ) -> dict[str, tuple[RemoteActor, bool]]:
    """Many actors in one query, each with whether it is gone (deleted itself)."""
    rows = await conn.fetch(
        f"SELECT {ACTOR_COLUMNS}, gone_at IS NOT NULL AS gone FROM remote_actors"
        f" WHERE id = ANY($1::text[])", actor_ids)
    return {r["id"]: (_actor(r), bool(r["gone"])) for r in rows}
