"""The author's decisions on followers: accept or reject a held follow request."""

from __future__ import annotations

from dataclasses import dataclass

from fedblog.models import Follower
from fedblog.outbox import as2, publish
from fedblog.storage import followers as followers_store
from fedblog.storage.db import Database
from fedblog.urls import Urls


class NoSuchRequest(LookupError):
    """No pending follow request from that actor."""


@dataclass(frozen=True)
class FollowerPage:
    items: list[Follower]
    total: int           # in that state, on every page


class FollowerService:
    def __init__(self, db: Database, urls: Urls) -> None:
        self.db = db
        self.urls = urls

    async def accept(self, actor_id: str) -> Follower:
        async with self.db.transaction() as conn:
            pending = await followers_store.get(conn, actor_id)
            if pending is None or pending.state != "pending":
                raise NoSuchRequest(actor_id)
            follower = await followers_store.accept(conn, actor_id)
            assert follower is not None
            accept = as2.follow_response("Accept", self.urls.new_activity(), self.urls,
                                         follower.actor, follower.follow_activity_id)
            await publish.to_actor(conn, accept, follower.actor)
        return follower

    async def reject(self, actor_id: str) -> Follower:
        """Refuse a request, or remove an accepted follower: Mastodon unfollows on Reject(Follow)."""
        async with self.db.transaction() as conn:
            follower = await followers_store.get(conn, actor_id)
            if follower is None:
                raise NoSuchRequest(actor_id)
            await followers_store.remove(conn, actor_id)
            reject = as2.follow_response("Reject", self.urls.new_activity(), self.urls,
                                         follower.actor, follower.follow_activity_id)
            await publish.to_actor(conn, reject, follower.actor)
        return follower

    async def page(self, state: str, *, limit: int, offset: int = 0) -> FollowerPage:
        """Followers ("accepted") or held requests ("pending"), newest first, with the total."""
        async with self.db.connection() as conn:
            items = await followers_store.list_page(conn, state=state, limit=limit,
                                                    offset=offset)
            total = await followers_store.count(conn, state)
        return FollowerPage(items, total)
