"""What a handler gets: the parsed activity, the stored item and the running blog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum

from fedblog.blog.comments import CommentService
from fedblog.blog.quotes import QuoteService
from fedblog.federation.vocab import Activity
from fedblog.inbox.keyring import Keyring
from fedblog.runtime import Runtime
from fedblog.storage import inbox as inbox_store
from fedblog.storage.db import Connection
from fedblog.storage.inbox import InboxItem


class Result(Enum):
    PROCESSED = "processed"
    IGNORED = "ignored"


class Rejected(Exception):
    """The inbox refuses the request; `status` and `reason` go back to the sender."""

    def __init__(self, status: int, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class AlreadyHandled(Exception):
    """Another worker finished this activity first (its lease had expired): roll back."""


class WaitForObject(Exception):
    """The activity needs an object that has not arrived (a reply's parent): park it until a
    comment with that id is stored, then process it again."""

    def __init__(self, object_id: str) -> None:
        super().__init__(f"waiting for {object_id}")
        self.object_id = object_id


class RetryLater(Exception):
    """A passing failure (a remote fetch timed out): keep the activity and try again."""


@dataclass(frozen=True)
class HandlerContext:
    runtime: Runtime
    keyring: Keyring
    comments: CommentService
    quotes: QuoteService
    item: InboxItem
    activity: Activity

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """The handler's writes and the item's 'processed' mark commit together: exactly once."""
        async with self.runtime.db.transaction() as conn:
            yield conn
            if not await inbox_store.finish(conn, self.item.id, Result.PROCESSED.value):
                raise AlreadyHandled(self.item.activity_id)
