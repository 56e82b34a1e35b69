"""The delivery worker's bookkeeping against the real database and real loopback inboxes:
successes that arrive while a batch of them is being written, and the per-host cap."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fedblog.storage import outbox as outbox_store
from tests.faults.servers import RawInbox
from tests.harness import BlogServer


async def _queue(blog: BlogServer, inboxes: Sequence[str]) -> dict[str, int]:
    """One activity queued for `inboxes`; delivery row id by inbox."""
    db = blog.services.runtime.db
    async with db.connection() as conn:
        pk = await outbox_store.insert_activity(
            conn, activity_id=f"{blog.base_url}/activities/bookkeeping", type_="Create",
            object_id=None, body={"id": f"{blog.base_url}/activities/bookkeeping",
                                  "type": "Create", "actor": blog.actor})
        await outbox_store.enqueue(conn, pk, inboxes)
        rows = await conn.fetch("SELECT id, inbox FROM deliveries WHERE activity = $1", pk)
    return {r["inbox"]: r["id"] for r in rows}


async def _until(predicate: object, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def test_a_success_that_arrives_while_successes_are_written_is_written_too(
    database_url: str,
) -> None:
    """fe4d5d7: the batched writer swapped its batch out and awaited the database; a success
    arriving during that await scheduled no write and waited for a *later* success. At the end
    of a burst none came, the lease (40 s) ran out and the activity was sent again. Here the
    first write is held by a row lock while the second success arrives."""
    async with BlogServer(database_url, run_workers=False) as blog, \
            RawInbox("slow", delay=0.3) as first, RawInbox("slow", delay=0.9) as second:
        ids = await _queue(blog, [f"{first.base_url}/inbox", f"{second.base_url}/inbox"])
        worker, stop = blog.services.delivery, asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        db = blog.services.runtime.db
        try:
            async with db.connection() as locker:
                await _until(lambda: first.attempts["/inbox"] == 1)
                # claimed and being answered: hold its row, so writing its success must wait
                async with locker.transaction():
                    await locker.fetchval("SELECT id FROM deliveries WHERE id = $1 FOR UPDATE",
                                          ids[f"{first.base_url}/inbox"])
                    await _until(lambda: second.posts["/inbox"] == 1)
                    await asyncio.sleep(0.1)  # the second success is now waiting behind the first
            # No further delivery will come; both must be recorded well within the lease.
            async with db.connection() as conn:
                for _ in range(300):
                    states = await conn.fetch("SELECT state FROM deliveries")
                    if {r["state"] for r in states} == {"delivered"}:
                        break
                    await asyncio.sleep(0.01)
                assert [r["state"] for r in states] == ["delivered", "delivered"]
            assert first.posts["/inbox"] == 1 and second.posts["/inbox"] == 1
        finally:
            stop.set()
            await running


async def test_a_hung_host_holds_at_most_its_cap_of_slots(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, \
            RawInbox("slow", delay=30.0) as hung, RawInbox("ok") as healthy:
        inboxes = [f"{hung.base_url}/users/{n}/inbox" for n in range(20)]
        inboxes += [f"{healthy.base_url}/users/{n}/inbox" for n in range(20)]
        await _queue(blog, inboxes)
        worker, stop = blog.services.delivery, asyncio.Event()
        worker.concurrency = 64
        running = asyncio.create_task(worker.run(stop))
        try:
            # every healthy delivery goes through, and the hung host got only its cap of
            # POSTs (without the cap all 20 would hang in slots of their own)
            await _until(lambda: sum(healthy.posts.values()) == 20)
            assert sum(hung.attempts.values()) == worker.host_cap
        finally:
            stop.set()
            for writer in list(hung._writers):  # let the hung POSTs end now
                writer.transport.abort()
            await running
