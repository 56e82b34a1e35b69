"""Remote actors as the blog knows them: stored with their keys when fetched, updated when they
say so, and forgotten (with every trace they left) when they delete themselves."""

from __future__ import annotations

from typing import Any

from fedblog.blog.comments import CommentService
from fedblog.federation.vocab import Activity
from fedblog.models import RemoteActor
from fedblog.storage import actors as actors_store
from fedblog.storage import followers as followers_store
from fedblog.storage import reactions as reactions_store
from fedblog.storage.actors import StoredKey
from fedblog.storage.db import Connection, Database


class RemoteActors:
    def __init__(self, db: Database, comments: CommentService) -> None:
        self.db = db
        self.comments = comments

    async def get(self, actor_id: str) -> RemoteActor | None:
        """The actor as last fetched; None when unknown or gone."""
        async with self.db.connection() as conn:
            return await actors_store.get(conn, actor_id)

    async def key(self, key_id: str) -> StoredKey | None:
        async with self.db.connection() as conn:
            return await actors_store.get_key(conn, key_id)

    async def store(self, actor: RemoteActor, document: Any, *, key_id: str | None = None,
                    key_pem: str | None = None) -> None:
        """A freshly fetched actor document (and the key it publishes under `key_id`)."""
        async with self.db.transaction() as conn:
            await actors_store.upsert(conn, actor, document)
            if key_id is not None and key_pem is not None:
                await actors_store.upsert_key(conn, key_id, actor.id, key_pem)

    async def update(self, conn: Connection, actor: RemoteActor, document: Any) -> None:
        """The actor sent its own new profile."""
        await actors_store.upsert(conn, actor, document)

    async def forget(self, conn: Connection, deletion: Activity) -> None:
        """The actor of `deletion` deleted itself: it follows no more, its comments are deleted,
        its reactions removed, and it is marked gone (its keys with it)."""
        await followers_store.remove(conn, deletion.actor)
        await self.comments.actor_deleted(conn, deletion)
        await reactions_store.remove_by_actor(conn, deletion.actor)
        await actors_store.mark_gone(conn, deletion.actor)
