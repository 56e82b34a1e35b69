"""Reactions: likes and boosts of the blog's posts and the author's answers, recorded with
who gave them, and taken back."""

from __future__ import annotations

from fedblog.storage import reactions as reactions_store
from fedblog.storage.db import Connection, Database


class Reactions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, conn: Connection, *, activity_id: str, kind: str, actor_id: str,
                     object_id: str) -> bool:
        """False when that activity was recorded before."""
        return await reactions_store.add(conn, activity_id=activity_id, kind=kind,
                                         actor_id=actor_id, object_id=object_id)

    async def undo(self, conn: Connection, *, kind: str, actor_id: str, activity_id: str | None,
                   object_id: str | None) -> bool:
        """The actor takes back its reaction, named by its activity or by what it reacted to."""
        return await reactions_store.remove(conn, kind=kind, actor_id=actor_id,
                                            activity_id=activity_id, object_id=object_id)

    async def kind_of(self, activity_id: str) -> str | None:
        """'like' or 'announce' when `activity_id` is a recorded reaction, else None."""
        async with self.db.connection() as conn:
            return await reactions_store.by_activity(conn, activity_id)
