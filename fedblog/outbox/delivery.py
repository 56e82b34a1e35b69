"""Delivery workers: claim due rows with SKIP LOCKED, POST them signed, record the outcome."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict, deque

from fedblog.federation.client import DeliveryResult, Scheme
from fedblog.outbox.retry import Outcome, classify
from fedblog.runtime import Runtime
from fedblog.storage import followers as followers_store
from fedblog.storage import hosts as hosts_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage.outbox import Delivery

log = logging.getLogger(__name__)
CHANNEL = "fedblog_deliveries"
BODY_CACHE = 256           # activities whose JSON is kept ready to send
FLUSH_EVERY = 0.02         # seconds between batched writes of successful deliveries
FLUSH_AT = 200             # ... or as soon as this many are waiting
HEALTHY_FOR = 60.0         # seconds a host's recorded success is trusted before writing again
HOST_CAP = 8               # deliveries in flight to one host at most (per worker process)


class DeliveryWorker:
    """One worker process's share of the queue, `concurrency` deliveries in flight at most.

    Successes are written in batches (one UPDATE for many rows); a crash can lose at most the
    last few milliseconds of them, which are then delivered again — at least once, as ever.
    """

    def __init__(self, runtime: Runtime, *, concurrency: int | None = None, batch: int = 100,
                 lease_seconds: float | None = None, idle_poll: float = 1.0,
                 host_cap: int = HOST_CAP) -> None:
        self.runtime = runtime
        self.concurrency = max(1, concurrency or runtime.settings.delivery_concurrency)
        self.batch = batch
        # Long enough for both signature schemes to time out; a crashed worker's claims
        # are taken over after it.
        self.lease_seconds = lease_seconds or 2 * runtime.settings.delivery_timeout + 10
        self.idle_poll = idle_poll
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._schemes: dict[str, Scheme] = {}
        # Hosts whose last delivery succeeded (scheme, when it was written): nothing to write
        # about them for a minute. Other processes' failures are reset within that minute.
        self._healthy: dict[str, tuple[Scheme, float]] = {}
        self._bodies: OrderedDict[int, bytes] = OrderedDict()
        self._delivered: list[tuple[int, int]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._host_successes: dict[str, Scheme] = {}
        self._hosts_writer: asyncio.Task[None] | None = None
        # At most `host_cap` deliveries in flight per host, so a hung host cannot take every slot.
        # Claimed jobs over the cap wait here (not counted as in flight) for the host's next free
        # slot, and give their lease back if too little of it is left to be sure of finishing.
        self.host_cap = max(1, host_cap)
        self._host_busy: dict[str, int] = {}
        self._parked: dict[str, deque[tuple[Delivery, float]]] = {}
        self._parked_count = 0
        self._releasing: list[int] = []
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    async with self.runtime.db.listening(CHANNEL, self._wake.set):
                        await self._loop(stop)
                except Exception as exc:  # the database may be restarting: wait, listen again
                    log.warning("delivery paused: %s: %s", type(exc).__name__, exc)
                    await self._sleep(stop)
        finally:
            # A clean stop lets in-flight deliveries finish and record: none is sent twice.
            # Parked ones were never attempted: their leases go back at once.
            self._stopping = True
            for queue in self._parked.values():
                self._releasing.extend(job.id for job, _ in queue)
            self._parked.clear()
            self._parked_count = 0
            if self._in_flight:
                await asyncio.wait(self._in_flight,
                                   timeout=2 * self.runtime.settings.delivery_timeout + 5)
            await self._release_parked()
            await self._flush()
            if self._hosts_writer is not None:
                await self._hosts_writer

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
        free = min(self.concurrency - len(self._in_flight), self.concurrency - self._parked_count)
        if free < min(self.batch, self.concurrency) // 2:
            # Claim in batches, not one by one: wait until a good share of slots is free.
            if self._in_flight:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(FLUSH_EVERY)
            return 1
        claimed_at = time.monotonic()
        async with self.runtime.db.connection() as conn:
            jobs = await outbox_store.claim_due(
                conn, limit=min(free, self.batch), lease_seconds=self.lease_seconds,
                worker=self.name,
            )
            missing = {job.activity_pk for job in jobs} - self._bodies.keys()
            if missing:
                self._remember_bodies(await outbox_store.bodies(conn, sorted(missing)))
        for job in jobs:
            if self._host_busy.get(job.host, 0) < self.host_cap:
                self._start(job)
            else:
                self._parked.setdefault(job.host, deque()).append((job, claimed_at))
                self._parked_count += 1
        return len(jobs)

    def _start(self, job: Delivery) -> None:
        self._host_busy[job.host] = self._host_busy.get(job.host, 0) + 1
        task = asyncio.create_task(self._deliver(job))
        self._in_flight.add(task)
        task.add_done_callback(lambda t: self._finished(t, job.host))

    def _finished(self, task: asyncio.Task[None], host: str) -> None:
        self._in_flight.discard(task)
        busy = self._host_busy.get(host, 1) - 1
        if busy > 0:
            self._host_busy[host] = busy
        else:
            self._host_busy.pop(host, None)
        queue = self._parked.get(host)
        if not queue or self._stopping:
            return
        # Start a parked job only if its lease outlasts two full attempts (both signature
        # schemes timing out): otherwise another worker could take it over while it is sent.
        needed = 2 * self.runtime.settings.delivery_timeout + 1
        now = time.monotonic()
        while queue:
            job, claimed_at = queue.popleft()
            self._parked_count -= 1
            if claimed_at + self.lease_seconds - now >= needed:
                self._start(job)
                break
            self._releasing.append(job.id)
        if not queue:
            del self._parked[host]
        if self._releasing:
            task = asyncio.create_task(self._release_parked())
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _release_parked(self) -> None:
        """Give back leases of parked jobs that will not be sent (no attempt counted)."""
        ids, self._releasing = self._releasing, []
        if not ids:
            return
        try:
            async with self.runtime.db.connection() as conn:
                await outbox_store.release_lease(conn, ids)
        except Exception as exc:  # noqa: BLE001 - the leases expire by themselves
            log.warning("giving back %d leases failed: %s", len(ids), exc)

    def _remember_bodies(self, found: dict[int, bytes]) -> None:
        self._bodies.update(found)
        while len(self._bodies) > BODY_CACHE:
            self._bodies.popitem(last=False)

    async def _scheme_for(self, host: str) -> Scheme:
        if host not in self._schemes:
            async with self.runtime.db.connection() as conn:
                scheme = await hosts_store.signature_scheme(conn, host)
            self._schemes[host] = "rfc9421" if scheme == "rfc9421" else "cavage"
        return self._schemes[host]

    async def _deliver(self, job: Delivery) -> None:
        try:
            result = await self._post(job)
            await self._record(job, result)
        except Exception:  # a bug here must not kill the worker; the lease will expire
            log.exception("delivery %s to %s crashed", job.id, job.inbox)

    async def _body(self, job: Delivery) -> bytes:
        body = self._bodies.get(job.activity_pk)
        if body is None:  # evicted between claim and send
            async with self.runtime.db.connection() as conn:
                found = await outbox_store.bodies(conn, [job.activity_pk])
            self._remember_bodies(found)
            body = found[job.activity_pk]
        return body

    async def _post(self, job: Delivery) -> DeliveryResult:
        body = await self._body(job)
        key = self.runtime.signing_key(job.signer)
        scheme = await self._scheme_for(job.host)
        client = self.runtime.client
        if job.reaches_blocked:
            return await client.deliver(job.inbox, body, key, scheme, ignore_blocks=True)
        result = await client.deliver(job.inbox, body, key, scheme)
        if result.status in (401, 403):
            # "Double knocking" as Fedify does: the host may only accept the other scheme.
            other: Scheme = "rfc9421" if scheme == "cavage" else "cavage"
            retried = await client.deliver(job.inbox, body, key, other)
            if retried.ok:
                return retried
        return result

    async def _record(self, job: Delivery, result: DeliveryResult) -> None:
        outcome = classify(result.status)
        if result.error and result.status is None and result.error.startswith("forbidden target"):
            outcome = Outcome.GIVE_UP
        if outcome is Outcome.DELIVERED:
            assert result.status is not None
            await self._delivered_ok(job, result)
            return
        self._healthy.pop(job.host, None)
        self._host_successes.pop(job.host, None)
        await self._record_failure(job, result, outcome)

    async def _delivered_ok(self, job: Delivery, result: DeliveryResult) -> None:
        assert result.status is not None
        self._schemes[job.host] = result.scheme
        now = time.monotonic()
        known = self._healthy.get(job.host)
        if known is None or known[0] != result.scheme or now - known[1] > HEALTHY_FOR:
            # Written by one background task over one connection: a burst to thousands of hosts
            # must not have thousands of deliveries queue for the pool ahead of the next claim.
            self._healthy[job.host] = (result.scheme, now)
            self._host_successes[job.host] = result.scheme
            if self._hosts_writer is None or self._hosts_writer.done():
                self._hosts_writer = asyncio.create_task(self._write_host_successes())
        self._delivered.append((job.id, result.status))
        if len(self._delivered) >= FLUSH_AT:
            await self._flush()
        elif self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_soon())

    async def _write_host_successes(self) -> None:
        while self._host_successes:
            pending, self._host_successes = self._host_successes, {}
            try:
                async with self.runtime.db.connection() as conn:
                    for host, scheme in pending.items():
                        await hosts_store.record_success(conn, host, scheme)
            except Exception as exc:  # noqa: BLE001 - written again on the host's next success
                log.warning("recording %d healthy hosts failed: %s", len(pending), exc)
                for host in pending:
                    self._healthy.pop(host, None)
                return

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_EVERY)
        await self._flush()

    async def _flush(self) -> None:
        # Loop: successes that arrive while a batch is being written must not wait for a
        # later success to be recorded (their lease would expire and they would be re-sent).
        while self._delivered:
            batch, self._delivered = self._delivered, []
            try:
                async with self.runtime.db.connection() as conn:
                    await outbox_store.mark_delivered_many(conn, batch)
            except Exception as exc:  # keep them, and try again shortly
                log.warning("recording %d deliveries failed: %s", len(batch), exc)
                self._delivered = batch + self._delivered
                await asyncio.sleep(FLUSH_EVERY * 10)

    async def _record_failure(self, job: Delivery, result: DeliveryResult,
                              outcome: Outcome) -> None:
        policy = self.runtime.retry
        error = result.error or "failed"
        async with self.runtime.db.transaction() as conn:
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
