"""The stored inbox activities as a queue: claimed in batches by a worker session, each
finished once; finished rows trimmed after a while."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fedblog.storage import inbox as inbox_store
from fedblog.storage.db import Connection, Database
from fedblog.storage.inbox import InboxItem
from fedblog.storage.workers import STALE_AFTER

PROCESSED = "processed"


class AlreadyHandled(Exception):
    """Another worker finished this activity first (its lease had expired): roll back."""


class InboxQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, *, limit: int, lease_seconds: float, worker: str | None = None,
                    stale_after: float = STALE_AFTER, wake_arrived: bool = False
                    ) -> list[InboxItem]:
        """A batch claimed for the session `worker`, oldest first; `wake_arrived` first queues
        again the parked items whose object has arrived."""
        async with self.db.connection() as conn:
            if wake_arrived:
                await inbox_store.wake_arrived(conn)
            return await inbox_store.claim(conn, limit=limit, lease_seconds=lease_seconds,
                                           worker=worker, stale_after=stale_after)

    @asynccontextmanager
    async def processing(self, item: InboxItem) -> AsyncIterator[Connection]:
        """A transaction whose writes commit together with the item's 'processed' mark:
        exactly once (AlreadyHandled, and all rolled back, when another worker was first)."""
        async with self.db.transaction() as conn:
            yield conn
            if not await inbox_store.finish(conn, item.id, PROCESSED):
                raise AlreadyHandled(item.activity_id)

    async def finish(self, item: InboxItem, state: str, error: str | None = None) -> None:
        async with self.db.connection() as conn:
            await inbox_store.finish(conn, item.id, state, error)

    async def release(self, item: InboxItem, error: str, *, retry_in: float) -> None:
        """Leave the item queued after a passing failure; claimable again in `retry_in` s."""
        async with self.db.connection() as conn:
            await inbox_store.release(conn, item.id, error, retry_in=retry_in)

    async def park(self, item: InboxItem, object_id: str) -> None:
        """Hold the item until a comment with `object_id` is stored."""
        async with self.db.connection() as conn:
            await inbox_store.wait_for(conn, item.id, object_id)

    async def forget(self, item: InboxItem) -> None:
        """Keep nothing of an activity the blog has no use for."""
        async with self.db.connection() as conn:
            await inbox_store.forget(conn, item.id)

    async def trim(self, *, older_than_seconds: float, batch: int = 5000) -> int:
        """Delete finished rows older than `older_than_seconds`, a batch per statement."""
        removed = 0
        while True:
            async with self.db.connection() as conn:
                n = await inbox_store.trim(conn, older_than_seconds=older_than_seconds,
                                           limit=batch)
            removed += n
            if n < batch:
                return removed
