"""Delivery workers: claim due rows with SKIP LOCKED, POST them signed, record the outcome.

The worker only coordinates; each job is done by one part: `leases` (claims and their
length), `host_slots` (the per-host cap), `host_memory` (schemes, healthy hosts), `attempt`
(sign, send, classify) and `bookkeeping` (what gets written down).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from fedblog.federation.client import DeliveryResult, FederationClient
from fedblog.federation.keys import SigningKey
from fedblog.outbox.attempt import Attempt, Attempted, BodyCache
from fedblog.outbox.bookkeeping import FailureRecorder, HostSuccessWriter, SuccessBatch
from fedblog.outbox.host_memory import HostMemory
from fedblog.outbox.host_slots import HOST_CAP, HostSlots
from fedblog.outbox.leases import Leases
from fedblog.outbox.retry import Outcome, RetryPolicy
from fedblog.storage.db import Database
from fedblog.storage.outbox import Delivery
from fedblog.storage.workers import WorkerSession, new_worker_id

log = logging.getLogger(__name__)
CHANNEL = "fedblog_deliveries"
SLOT_WAIT = 0.02           # seconds to wait for free slots when none is held by a delivery


class DeliveryWorker:
    """One worker process's share of the queue, `concurrency` deliveries in flight at most."""

    def __init__(self, db: Database, client: FederationClient, keys: Callable[[str], SigningKey],
                 retry: RetryPolicy, *, concurrency: int, delivery_timeout: float,
                 batch: int = 100, lease_seconds: float | None = None, idle_poll: float = 1.0,
                 host_cap: int = HOST_CAP, session: WorkerSession | None = None) -> None:
        """`session`: the process's worker session, whose heartbeat keeps the claims (None:
        claims rest on their lease alone)."""
        self.db = db
        self.concurrency = max(1, concurrency)
        self.batch = batch
        self.idle_poll = idle_poll
        self.name = session.id if session is not None else new_worker_id()
        self.leases = Leases(db, self.name, attempt_seconds=delivery_timeout, seconds=lease_seconds,
                             session=session)
        self.slots = HostSlots(host_cap)
        self.hosts = HostMemory(db)
        self.bodies = BodyCache(db)
        self.attempt = Attempt(client, keys, self.bodies, self.hosts)
        self.successes = SuccessBatch(db)
        self.host_successes = HostSuccessWriter(db, on_lost=self.hosts.forget_healthy)
        self.failures = FailureRecorder(db, retry)
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def host_cap(self) -> int:
        return self.slots.cap

    @property
    def lease_seconds(self) -> float:
        return self.leases.seconds

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    async with self.db.listening(CHANNEL, self._wake.set):
                        await self._loop(stop)
                except Exception as exc:  # the database may be restarting: wait, listen again
                    log.warning("delivery paused: %s: %s", type(exc).__name__, exc)
                    await self._sleep(stop)
        finally:
            await self._wind_down()

    async def _wind_down(self) -> None:
        # A clean stop lets in-flight deliveries finish and record: none is sent twice.
        # Parked ones were never attempted: their leases go back at once.
        self._stopping = True
        self.leases.give_back(job.id for job in self.slots.drain())
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=2 * self.leases.attempt_seconds + 5)
        await self.leases.release_given_back()
        await self.successes.flush()
        await self.host_successes.wait()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not await self._claim_some():
                await self._sleep(stop)

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        stop_wait = asyncio.ensure_future(stop.wait())
        wake_wait = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({stop_wait, wake_wait}, timeout=self.idle_poll,
                           return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        wake_wait.cancel()

    async def _claim_some(self) -> int:
        free = min(self.concurrency - len(self._in_flight),
                   self.concurrency - self.slots.parked_count)
        if free < min(self.batch, self.concurrency) // 2:
            # Claim in batches, not one by one: wait until a good share of slots is free.
            if self._in_flight:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(SLOT_WAIT)
            return 1
        if not self.leases.may_claim():
            return 0    # the session is not (or no longer) alive: claims would not be ours
        claimed_at = time.monotonic()
        async with self.db.connection() as conn:
            jobs = await self.leases.claim(conn, min(free, self.batch))
            await self.bodies.preload(conn, (job.activity_pk for job in jobs))
        for job in jobs:
            if self.slots.admit(job, claimed_at):
                self._start(job)
        return len(jobs)

    def _start(self, job: Delivery) -> None:
        """Send a job whose host slot is already taken."""
        task = asyncio.create_task(self._deliver(job))
        self._in_flight.add(task)
        task.add_done_callback(lambda t: self._finished(t, job.host))

    def _finished(self, task: asyncio.Task[None], host: str) -> None:
        self._in_flight.discard(task)
        self.slots.free(host)
        if self._stopping:
            return
        now = time.monotonic()
        job, passed = self.slots.next_parked(host, lambda at: self.leases.long_enough(at, now))
        if job is not None:
            self.slots.take(host)
            self._start(job)
        if passed:
            self.leases.give_back(p.id for p in passed)
            releasing = asyncio.create_task(self.leases.release_given_back())
            self._in_flight.add(releasing)
            releasing.add_done_callback(self._in_flight.discard)

    async def _deliver(self, job: Delivery) -> None:
        try:
            await self._record(job, await self.attempt.make(job))
        except Exception:  # a bug here must not kill the worker; the lease will expire
            log.exception("delivery %s to %s crashed", job.id, job.inbox)

    async def _record(self, job: Delivery, attempted: Attempted) -> None:
        if attempted.outcome is Outcome.DELIVERED:
            await self._delivered_ok(job, attempted.result)
            return
        self.hosts.forget_healthy([job.host])
        self.host_successes.drop(job.host)
        await self.failures.record(job, attempted.result, attempted.outcome)

    async def _delivered_ok(self, job: Delivery, result: DeliveryResult) -> None:
        assert result.status is not None
        if self.hosts.succeeded(job.host, result.scheme, time.monotonic()):
            self.host_successes.add(job.host, result.scheme)
        await self.successes.add(job.id, result.status)
