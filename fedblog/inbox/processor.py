"""Processes stored inbox activities after the 202, each exactly once, surviving restarts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fedblog.federation.vocab import Activity, Note, VocabError, parse_activity
from fedblog.inbox import lanes
from fedblog.inbox.context import (
    HandlerContext,
    HandlerServices,
    RetryLater,
    WaitForObject,
)
from fedblog.inbox.handlers import HANDLERS
from fedblog.inbox.queue import AlreadyHandled, InboxQueue
from fedblog.storage.inbox import InboxItem
from fedblog.storage.workers import STALE_AFTER, WorkerSession

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
WAITING_SWEEP = 30.0     # seconds between looks for parked replies whose parent arrived
TRIM_EVERY = 600.0       # seconds between deletions of old finished rows
DAY = 86400.0


class InboxProcessor:
    def __init__(self, queue: InboxQueue, services: HandlerServices, *,
                 batch: int = 64, concurrency: int = 8,
                 lease_seconds: float = 300.0, idle_poll: float = 1.0,
                 session: WorkerSession | None = None, retention_seconds: float = 7 * DAY,
                 ) -> None:
        """`session` holds the claims while its heartbeat lasts (None: the lease alone);
        finished rows are deleted `retention_seconds` after processing."""
        self.queue = queue
        self.services = services
        self.batch = batch
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.idle_poll = idle_poll
        self.session = session
        self.retention_seconds = retention_seconds
        self._wake = asyncio.Event()
        self._next_sweep = 0.0
        self._next_trim = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.session is not None and not self.session.fresh():
                # no live session: claims would not be ours (the database may be away)
                await asyncio.sleep(min(self.idle_poll, 0.2))
                continue
            try:
                await self._trim_now_and_then()
                done = await self.run_once()
            except Exception as exc:  # the database may be restarting: wait, then carry on
                log.warning("inbox processing paused: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(self.idle_poll)
                done = 0
            if done == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # no news: poll again
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)

    async def _trim_now_and_then(self) -> None:
        if time.monotonic() < self._next_trim:
            return
        self._next_trim = time.monotonic() + TRIM_EVERY
        removed = await self.queue.trim(older_than_seconds=self.retention_seconds)
        if removed:
            log.info("deleted %d inbox activities finished over %.1f days ago", removed,
                     self.retention_seconds / DAY)

    async def run_once(self) -> int:
        sweep = time.monotonic() >= self._next_sweep
        if sweep:
            self._next_sweep = time.monotonic() + WAITING_SWEEP
        session = self.session
        items = await self.queue.claim(
            limit=self.batch, lease_seconds=self.lease_seconds, wake_arrived=sweep,
            worker=session.id if session is not None else None,
            stale_after=session.stale_after if session is not None else STALE_AFTER)
        parsed: list[tuple[InboxItem, Activity]] = []
        for item in items:
            try:
                parsed.append((item, parse_activity(item.body)))
            except VocabError as exc:
                await self._finish(item, "failed", f"unparsable: {exc}")
        slots = asyncio.Semaphore(self.concurrency)

        async def run_lane(lane: list[tuple[InboxItem, Activity]]) -> None:
            async with slots:
                for item, activity in lane:
                    await self._process(item, activity)

        await asyncio.gather(*(run_lane(lane) for lane in lanes.split(parsed, _links)))
        return len(items)

    async def _process(self, item: InboxItem, activity: Activity) -> None:
        try:
            handler = HANDLERS.get(activity.type)
            if handler is None:  # a type the blog has no use for: keep nothing of it
                log.info("ignoring unsupported %s %s", activity.type, activity.id)
                await self.queue.forget(item)
                return
            result = await handler(HandlerContext(self.services, self.queue, item, activity))
        except AlreadyHandled:
            return
        except WaitForObject as exc:
            await self.queue.park(item, exc.object_id)
            return
        except RetryLater as exc:
            await self._retry_or_fail(item, str(exc))
            return
        except VocabError as exc:
            await self._finish(item, "failed", f"unparsable: {exc}")
            return
        except Exception as exc:  # one bad activity must not stop the others
            log.exception("handling %s failed", item.activity_id)
            await self._retry_or_fail(item, f"{type(exc).__name__}: {exc}")
            return
        await self._finish(item, result.value)

    async def _retry_or_fail(self, item: InboxItem, error: str) -> None:
        if item.attempts >= MAX_ATTEMPTS:
            await self._finish(item, "failed", error)
            return
        await self.queue.release(item, error, retry_in=2.0**item.attempts)

    async def _finish(self, item: InboxItem, state: str, error: str | None = None) -> None:
        await self.queue.finish(item, state, error)


def _links(entry: tuple[InboxItem, Activity]) -> lanes.Links:
    """An activity waits for an earlier one in its batch from the same actor, or one that
    created what it refers to (a reply to a comment arriving just before it, a Like of it)."""
    item, activity = entry
    created = activity.object if isinstance(activity.object, Note) else None
    return lanes.links_of(
        [item.activity_id, activity.id, created.id if created else None], activity.actor,
        [activity.object_id, activity.target, *activity.objects,
         created.in_reply_to if created else None])
