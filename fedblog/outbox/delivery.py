"""Delivery workers: claim due rows with SKIP LOCKED, POST them signed, record the outcome."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid

from fedblog.federation.client import DeliveryResult, Scheme
from fedblog.outbox.retry import Outcome, classify
from fedblog.runtime import Runtime
from fedblog.storage import followers as followers_store
from fedblog.storage import hosts as hosts_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage.outbox import Delivery

log = logging.getLogger(__name__)
CHANNEL = "fedblog_deliveries"


class DeliveryWorker:
    """One worker process's share of the queue, `concurrency` deliveries in flight at most."""

    def __init__(self, runtime: Runtime, *, concurrency: int | None = None, batch: int = 50,
                 lease_seconds: float | None = None, idle_poll: float = 1.0) -> None:
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
            if self._in_flight:
                await asyncio.wait(self._in_flight,
                                   timeout=2 * self.runtime.settings.delivery_timeout + 5)

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
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            return 1
        try:
            async with self.runtime.db.connection() as conn:
                jobs = await outbox_store.claim_due(
                    conn, limit=min(free, self.batch), lease_seconds=self.lease_seconds,
                    worker=self.name,
                )
        except (TimeoutError, OSError) as exc:
            log.warning("delivery claim failed, database unavailable: %s", exc)
            return 0
        for job in jobs:
            task = asyncio.create_task(self._deliver(job))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(jobs)

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

    async def _post(self, job: Delivery) -> DeliveryResult:
        body = json.dumps(job.body, ensure_ascii=False).encode()
        key = self.runtime.signing_key(job.signer)
        scheme = await self._scheme_for(job.host)
        if job.reaches_blocked:
            return await self.runtime.client.deliver(job.inbox, body, key, scheme,
                                                     ignore_blocks=True)
        result = await self.runtime.client.deliver(job.inbox, body, key, scheme)
        if result.status in (401, 403):
            # "Double knocking" as Fedify does: the host may only accept the other scheme.
            other: Scheme = "rfc9421" if scheme == "cavage" else "cavage"
            retried = await self.runtime.client.deliver(job.inbox, body, key, other)
            if retried.ok:
                return retried
        return result

    async def _record(self, job: Delivery, result: DeliveryResult) -> None:
        outcome = classify(result.status)
        if result.error and result.status is None and result.error.startswith("forbidden target"):
            outcome = Outcome.GIVE_UP
        policy = self.runtime.retry
        async with self.runtime.db.transaction() as conn:
            if outcome is Outcome.DELIVERED:
                assert result.status is not None
                await outbox_store.mark_delivered(conn, job.id, result.status)
                await hosts_store.record_success(conn, job.host, result.scheme)
                self._schemes[job.host] = result.scheme
                return
            error = result.error or "failed"
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
