"""Follows arriving from remote actors: accepted at once or held for the author, and undone.
(The author's own decisions on held requests are in followers.py.)"""

from __future__ import annotations

from fedblog.models import RemoteActor
from fedblog.outbox import as2, publish
from fedblog.storage import followers as followers_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection, Database
from fedblog.urls import Urls


class Follows:
    def __init__(self, db: Database, urls: Urls) -> None:
        self.db = db
        self.urls = urls

    async def receive(self, conn: Connection, follower: RemoteActor, follow_activity_id: str) -> str:
        """Record the follow: 'accepted' (and Accept sent) when the blog takes followers freely
        or already has this one, else 'pending' for the author to decide."""
        settings = await settings_store.get_settings(conn)
        existing = await followers_store.get(conn, follower.id)
        already = existing is not None and existing.state == "accepted"
        state = "accepted" if already or not settings.manually_approves_followers else "pending"
        await followers_store.upsert(conn, follower.id, follow_activity_id, state)
        if state == "accepted":
            accept = as2.follow_response("Accept", self.urls.new_activity(), self.urls, follower,
                                         follow_activity_id)
            await publish.to_actor(conn, accept, follower)
        return state

    async def undo(self, conn: Connection, actor_id: str) -> bool:
        """The actor unfollows (or withdraws its request)."""
        return await followers_store.remove(conn, actor_id)

    async def is_follow(self, actor_id: str, activity_id: str) -> bool:
        """Whether `activity_id` is the Follow by which `actor_id` follows (or asks to)."""
        async with self.db.connection() as conn:
            follower = await followers_store.get(conn, actor_id)
        return follower is not None and follower.follow_activity_id == activity_id
