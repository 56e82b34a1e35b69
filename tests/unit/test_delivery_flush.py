"""DeliveryWorker's bookkeeping, step by step with the database faked: the batched success
writer (the duplicate-delivery race fixed in fe4d5d7) and the per-host in-flight cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from fedblog.federation.client import DeliveryResult
from fedblog.outbox.delivery import DeliveryWorker
from fedblog.outbox.retry import RetryPolicy
from fedblog.storage import hosts as hosts_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage.outbox import Delivery


class FakeDb:
    @asynccontextmanager
    async def connection(self) -> AsyncIterator[object]:
        yield object()


def _worker(*, flush_every: float | None = None, **kwargs: Any) -> DeliveryWorker:
    no_key: Any = None  # nothing is signed or sent here
    worker = DeliveryWorker(FakeDb(), SimpleNamespace(), lambda signer: no_key,  # type: ignore[arg-type]
                            RetryPolicy(), concurrency=64, delivery_timeout=15.0, **kwargs)
    if flush_every is not None:
        worker.successes.flush_every = flush_every
    return worker


def _job(n: int, host: str = "a.example") -> Delivery:
    return Delivery(id=n, activity_pk=1, inbox=f"https://{host}/inbox", host=host, attempts=1,
                    signer="blog", activity_id="https://blog.example/activities/1",
                    reaches_blocked=False)


async def test_a_success_recorded_while_a_flush_is_writing_is_written_without_a_later_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fe4d5d7: `_flush` swapped the batch out and awaited the database; a success that arrived
    during that await found the flush task still running, so scheduled none, and waited for a
    *later* success. At the end of a burst none came: the lease ran out and it was re-sent."""
    written: list[list[tuple[int, int]]] = []
    first_write_started = asyncio.Event()
    let_first_write_finish = asyncio.Event()

    async def mark_delivered_many(conn: object, batch: list[tuple[int, int]]) -> None:
        written.append(list(batch))
        if len(written) == 1:
            first_write_started.set()
            await let_first_write_finish.wait()

    monkeypatch.setattr(outbox_store, "mark_delivered_many", mark_delivered_many)
    worker = _worker(flush_every=0.0)
    worker.hosts.healthy["a.example"] = ("cavage", asyncio.get_running_loop().time() + 1e9)

    await worker._delivered_ok(_job(1), DeliveryResult(202, None, None, "cavage"))
    await asyncio.wait_for(first_write_started.wait(), 5)
    # the first batch is being written; the burst's last success arrives now
    await worker._delivered_ok(_job(2), DeliveryResult(202, None, None, "cavage"))
    let_first_write_finish.set()
    flushing = worker.successes.flushing
    assert flushing is not None
    await asyncio.wait_for(flushing, 5)
    # no further success comes: the second must have been written all the same
    assert written == [[(1, 202)], [(2, 202)]]
    assert worker.successes.pending == []


async def test_a_failed_batch_write_is_kept_and_written_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[tuple[int, int]]] = []

    async def mark_delivered_many(conn: object, batch: list[tuple[int, int]]) -> None:
        calls.append(list(batch))
        if len(calls) == 1:
            raise ConnectionError("database restarting")

    monkeypatch.setattr(outbox_store, "mark_delivered_many", mark_delivered_many)
    worker = _worker(flush_every=0.0)
    worker.hosts.healthy["a.example"] = ("cavage", asyncio.get_running_loop().time() + 1e9)
    await worker._delivered_ok(_job(1), DeliveryResult(202, None, None, "cavage"))
    assert worker.successes.flushing is not None
    await asyncio.wait_for(worker.successes.flushing, 5)
    assert calls == [[(1, 202)], [(1, 202)]] and worker.successes.pending == []


# --- the per-host cap ------------------------------------------------------------------------


class Gates:
    """Deliveries that finish when the test says so."""

    def __init__(self) -> None:
        self.running: list[int] = []
        self.done: dict[int, asyncio.Event] = {}

    async def deliver(self, job: Delivery) -> None:
        self.running.append(job.id)
        await self.done.setdefault(job.id, asyncio.Event()).wait()

    def finish(self, job_id: int) -> None:
        self.done.setdefault(job_id, asyncio.Event()).set()


async def _claim(worker: DeliveryWorker, monkeypatch: pytest.MonkeyPatch, jobs: list[Delivery]) -> None:
    async def claim_due(conn: object, **kwargs: Any) -> list[Delivery]:
        return jobs

    async def bodies(conn: object, pks: list[int]) -> dict[int, bytes]:
        return {pk: b"{}" for pk in pks}

    monkeypatch.setattr(outbox_store, "claim_due", claim_due)
    monkeypatch.setattr(outbox_store, "bodies", bodies)
    assert await worker._claim_some() == len(jobs)
    await asyncio.sleep(0)


async def test_one_host_gets_at_most_host_cap_deliveries_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    gates = Gates()
    worker = _worker(host_cap=3)
    monkeypatch.setattr(worker, "_deliver", gates.deliver)
    hung = [_job(n, "hung.example") for n in range(1, 8)]
    others = [_job(n, f"h{n}.example") for n in range(100, 104)]
    await _claim(worker, monkeypatch, hung + others)
    # three to the hung host, every other host served at once; the rest wait, holding no slot
    assert sorted(gates.running) == [1, 2, 3, 100, 101, 102, 103]
    assert worker.slots.parked_count == 4 and len(worker._in_flight) == 7
    gates.finish(2)
    await asyncio.sleep(0.01)
    assert gates.running[-1] == 4 and worker.slots.parked_count == 3
    for n in (1, 3, 4, 5, 6, 7):
        gates.finish(n)
        await asyncio.sleep(0.01)
    assert sorted(gates.running) == [1, 2, 3, 4, 5, 6, 7, 100, 101, 102, 103]
    assert worker.slots.parked_count == 0 and "hung.example" not in worker.slots.parked
    for n in range(100, 104):
        gates.finish(n)
    await asyncio.sleep(0.01)
    assert worker.slots.busy == {} and not worker._in_flight


async def test_a_parked_delivery_whose_lease_runs_short_is_given_back_unsent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gates = Gates()
    released: list[list[int]] = []

    async def release_lease(conn: object, ids: list[int]) -> None:
        released.append(sorted(ids))

    monkeypatch.setattr(outbox_store, "release_lease", release_lease)
    worker = _worker(host_cap=1)
    monkeypatch.setattr(worker, "_deliver", gates.deliver)
    await _claim(worker, monkeypatch, [_job(1, "slow.example"), _job(2, "slow.example"),
                                       _job(3, "slow.example")])
    assert gates.running == [1] and worker.slots.parked_count == 2
    # job 2 waited so long that its lease cannot cover two more full attempts: given back;
    # job 3 (claimed "now") is sent
    queue = worker.slots.parked["slow.example"]
    job2, claimed = queue[0]
    queue[0] = (job2, claimed - worker.lease_seconds)
    gates.finish(1)
    await asyncio.sleep(0.01)
    assert gates.running == [1, 3] and released == [[2]]
    gates.finish(3)
    await asyncio.sleep(0.01)
    assert worker.slots.parked_count == 0 and worker.slots.busy == {}


# --- healthy hosts, written in the background --------------------------------------------------


async def test_host_successes_are_written_once_each_by_one_background_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst to many hosts writes each host's success once, over one connection, without
    holding the deliveries (they used to wait for a pool connection each, ahead of claims)."""
    connections: set[int] = set()
    written: list[tuple[str, str]] = []
    gate = asyncio.Event()

    async def record_success(conn: object, host: str, scheme: str) -> None:
        connections.add(id(conn))
        await gate.wait()
        written.append((host, scheme))

    async def mark_delivered_many(conn: object, batch: list[tuple[int, int]]) -> None:
        pass

    monkeypatch.setattr(hosts_store, "record_success", record_success)
    monkeypatch.setattr(outbox_store, "mark_delivered_many", mark_delivered_many)
    worker = _worker(flush_every=0.0)
    for n in range(50):
        # returns at once although the hosts table write is still waiting
        await asyncio.wait_for(worker._delivered_ok(_job(n, f"h{n % 10}.example"),
                                                    DeliveryResult(202, None, None, "cavage")), 1)
    gate.set()
    assert worker.host_successes.task is not None
    await asyncio.wait_for(worker.host_successes.task, 5)
    assert sorted(written) == sorted((f"h{n}.example", "cavage") for n in range(10))
    assert len(connections) <= 2  # one per batch of pending hosts, not one per delivery
    assert worker.hosts.schemes["h3.example"] == "cavage" and "h3.example" in worker.hosts.healthy
