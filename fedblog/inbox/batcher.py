"""Group commit for the inbox: accepted activities are written together, one statement per batch.

Each request waits for the commit that holds its activity and is then told whether its
activity was stored now or had been stored before. A failed write fails every request in it
with the write's own exception, so nothing is answered 202 unless it is durably committed.
"""

from __future__ import annotations

import asyncio
import logging

from fedblog.storage import inbox as inbox_store
from fedblog.storage.db import Database
from fedblog.storage.inbox import NewInboxItem

log = logging.getLogger(__name__)

_Waiter = tuple[NewInboxItem, "asyncio.Future[bool]"]


class InboxBatcher:
    """Batches of at most `max_items`, at most `max_writes` of them in flight. A request that
    finds a free write slot lingers at most `max_wait` seconds for company; otherwise it rides
    with the next write as soon as a slot frees (so batches grow with the load, latency does not)."""

    def __init__(self, db: Database, *, max_items: int = 64, max_writes: int = 2,
                 max_wait: float = 0.0005) -> None:
        self.db = db
        self.max_items = max_items
        self.max_writes = max_writes
        self.max_wait = max_wait
        self._pending: list[_Waiter] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def store(self, item: NewInboxItem) -> bool:
        """True when the activity was stored now, False when its id was stored before."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((item, future))
        if len(self._writes) < self.max_writes:
            if len(self._pending) >= self.max_items:
                self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self.max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending and len(self._writes) < self.max_writes:
            batch, self._pending = self._pending[:self.max_items], self._pending[self.max_items:]
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if self._pending:
            self._flush()

    async def _write(self, batch: list[_Waiter]) -> None:
        # One row per activity id; a second request with the same id in this batch is a duplicate.
        first: dict[str, NewInboxItem] = {}
        for item, _ in batch:
            first.setdefault(item.activity_id, item)
        try:
            try:
                stored = await self._insert(list(first.values()))
            except Exception as exc:
                if len(first) == 1 or not inbox_store.refused_by_value(exc):
                    raise
                # One item's value was refused (a number jsonb cannot hold, say): the others
                # must not fail with it, so each is written alone and answered by its own result.
                log.info("inbox batch of %d refused (%s); writing them one by one", len(first), exc)
                for key in first:  # in order: one actor's activities keep their order
                    await self._write([w for w in batch if w[0].activity_id == key])
                return
        except Exception as exc:  # noqa: BLE001 - each waiting request raises it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (shutting down): nobody was told "stored"
            for _, future in batch:
                future.cancel()
            raise
        for item, future in batch:
            if not future.done():
                future.set_result(item.activity_id in stored and first[item.activity_id] is item)

    async def _insert(self, items: list[NewInboxItem]) -> set[str]:
        async with self.db.connection() as conn:
            return await inbox_store.insert_many(conn, items)
