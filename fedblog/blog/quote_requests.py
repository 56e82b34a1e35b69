"""Quote requests arriving from remote servers: taken for a live post only, then answered by
the quote policy or held for the author (quotes.py)."""

from __future__ import annotations

from fedblog.blog.quotes import QuoteService
from fedblog.models import RemoteActor
from fedblog.storage import posts as posts_store
from fedblog.storage.db import Connection


class QuoteRequests:
    def __init__(self, quotes: QuoteService) -> None:
        self.quotes = quotes

    async def receive(self, conn: Connection, *, activity_id: str, requester: RemoteActor,
                      post_id: int, quoting_object_id: str, instrument: object) -> bool:
        """False when the post is not (or no longer) there: nothing to quote."""
        post = await posts_store.get(conn, post_id)
        if post is None or post.is_deleted:
            return False
        await self.quotes.receive(conn, activity_id=activity_id, requester=requester,
                                  post_id=post_id, quoting_object_id=quoting_object_id,
                                  instrument=instrument)
        return True
