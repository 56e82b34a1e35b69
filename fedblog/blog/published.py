"""What other servers dereference besides posts and comments (see conversation.py for those):
the outbox, the follower list, published activities, reply approvals and quote
authorizations. Reads only; one connection and a fixed number of queries each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fedblog.models import Comment
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage import quotes as quotes_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Database
from fedblog.storage.outbox import StoredActivity
from fedblog.storage.quotes import QuoteRequest

__all__ = ["Approval", "FollowersView", "Published", "QuoteRequest", "StoredActivity"]


@dataclass(frozen=True)
class FollowersView:
    """The follower collection as others may see it: the total always; the followers' ids
    only when the author shows them and a page was asked for."""

    total: int
    visible: bool
    actor_ids: list[str]


@dataclass(frozen=True)
class Approval:
    reply: Comment
    accept: dict[str, Any] | None


class Published:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def outbox_total(self) -> int:
        async with self.db.connection() as conn:
            return await outbox_store.count_public(conn)

    async def outbox_page(self, *, limit: int, before: int | None) -> list[StoredActivity]:
        """Public activities, newest first, older than `before` (a pk)."""
        async with self.db.connection() as conn:
            return await outbox_store.list_public(conn, limit=limit, before_pk=before)

    async def followers(self, *, page: int | None, limit: int) -> FollowersView:
        """Up to three queries."""
        async with self.db.connection() as conn:
            settings = await settings_store.get_settings(conn)
            total = await followers_store.count(conn)
            if not settings.followers_visible or page is None:
                return FollowersView(total, settings.followers_visible, [])
            rows = await followers_store.list_page(conn, state="accepted", limit=limit,
                                                   offset=(page - 1) * limit)
        return FollowersView(total, True, [f.actor.id for f in rows])

    async def activity(self, activity_id: str) -> StoredActivity | None:
        """A published activity, while it is public."""
        async with self.db.connection() as conn:
            stored = await outbox_store.get_activity(conn, activity_id)
        return stored if stored is not None and stored.public else None

    async def approval(self, token: str) -> Comment | None:
        """The reply an approval token stands for, while it stays approved."""
        async with self.db.connection() as conn:
            found = await comments_store.by_approval_token(conn, token)
        return found if found is not None and found.state == "approved" else None

    async def approval_accept(self, token: str, accept_id: str) -> Approval | None:
        """The reply an approval token stands for and the Accept sent for it (None for an
        approval older than stored Accepts), while the reply stays approved."""
        async with self.db.connection() as conn:
            found = await comments_store.by_approval_token(conn, token)
            if found is None or found.state != "approved":
                return None
            stored = await outbox_store.get_activity(conn, accept_id)
        return Approval(found, stored.body if stored is not None else None)

    async def quote_authorization(self, token: str) -> QuoteRequest | None:
        """The quote request an authorization token stands for, while it stays approved."""
        async with self.db.connection() as conn:
            found = await quotes_store.by_token(conn, token)
        return found if found is not None and found.state == "approved" else None
