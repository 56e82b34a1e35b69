"""Writing down what became of each delivery: successes in batches, hosts' health, failures.

Successes are written in batches (one UPDATE for many rows); a crash can lose at most the
last few milliseconds of them, which are then delivered again — at least once, as ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from fedblog.federation.client import DeliveryResult, Scheme
from fedblog.outbox.retry import Outcome, RetryPolicy
from fedblog.storage import followers as followers_store
from fedblog.storage import hosts as hosts_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage.db import Database
from fedblog.storage.outbox import Delivery

log = logging.getLogger(__name__)
FLUSH_EVERY = 0.02         # seconds between batched writes of successful deliveries
FLUSH_AT = 200             # ... or as soon as this many are waiting


class SuccessBatch:
    def __init__(self, db: Database, *, flush_every: float = FLUSH_EVERY,
                 flush_at: int = FLUSH_AT) -> None:
        self.db = db
        self.flush_every = flush_every
        self.flush_at = flush_at
        self.pending: list[tuple[int, int]] = []   # (delivery id, status)
        self.flushing: asyncio.Task[None] | None = None

    async def add(self, delivery_id: int, status: int) -> None:
        self.pending.append((delivery_id, status))
        if len(self.pending) >= self.flush_at:
            await self.flush()
        elif self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.flush_every)
        await self.flush()

    async def flush(self) -> None:
        # Loop: successes that arrive while a batch is being written must not wait for a
        # later success to be recorded (their lease would expire and they would be re-sent).
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                async with self.db.connection() as conn:
                    await outbox_store.mark_delivered_many(conn, batch)
            except Exception as exc:  # keep them, and try again shortly
                log.warning("recording %d deliveries failed: %s", len(batch), exc)
                self.pending = batch + self.pending
                await asyncio.sleep(self.flush_every * 10)


class HostSuccessWriter:
    """Hosts' successes, written by one background task over one connection: a burst to
    thousands of hosts must not have thousands of deliveries queue for the pool ahead of the
    next claim. `on_lost` hears of hosts whose success could not be written."""

    def __init__(self, db: Database, on_lost: Callable[[Iterable[str]], None]) -> None:
        self.db = db
        self.on_lost = on_lost
        self.pending: dict[str, Scheme] = {}
        self.task: asyncio.Task[None] | None = None

    def add(self, host: str, scheme: Scheme) -> None:
        self.pending[host] = scheme
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._write())

    def drop(self, host: str) -> None:
        self.pending.pop(host, None)

    async def wait(self) -> None:
        if self.task is not None:
            await self.task

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, {}
            try:
                async with self.db.connection() as conn:
                    for host, scheme in batch.items():
                        await hosts_store.record_success(conn, host, scheme)
            except Exception as exc:  # noqa: BLE001 - written again on the host's next success
                log.warning("recording %d healthy hosts failed: %s", len(batch), exc)
                self.on_lost(batch)
                return


class FailureRecorder:
    """A failed attempt: retry later, give up, or forget the follower; count it against the
    host, and pause the host (the circuit breaker) after too many in a row."""

    def __init__(self, db: Database, policy: RetryPolicy) -> None:
        self.db = db
        self.policy = policy

    async def record(self, job: Delivery, result: DeliveryResult, outcome: Outcome) -> None:
        policy = self.policy
        error = result.error or "failed"
        async with self.db.transaction() as conn:
            if outcome is Outcome.GONE:
                await outbox_store.mark_failed(conn, job.id, status=result.status, error=error)
                await followers_store.remove_by_inbox(conn, job.inbox)
                return
            if outcome is Outcome.GIVE_UP or policy.exhausted(job.attempts):
                await outbox_store.mark_failed(conn, job.id, status=result.status, error=error)
            else:
                delay = policy.delay(job.attempts, retry_after=result.retry_after)
                await outbox_store.reschedule(conn, job.id, delay_seconds=delay,
                                              status=result.status, error=error)
            if outcome is Outcome.RETRY:
                failures = await hosts_store.record_failure(conn, job.host)
                pause = policy.pause_for(failures)
                if pause is not None:
                    await hosts_store.pause(conn, job.host, pause)
                    log.warning("pausing deliveries to %s for %.0f s after %d failures",
                                job.host, pause, failures)
