"""Batched inbox writes: concurrent requests share one INSERT, each gets its own true answer,
and a failed write answers no request 202."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from fedblog.inbox.batcher import InboxBatcher
from fedblog.storage.db import Database, migrate
from fedblog.storage.inbox import NewInboxItem
from tests.harness import BlogServer
from tests.peers.peer import Peer


async def _rows(blog: BlogServer) -> dict[str, Any]:
    async with blog.services.runtime.db.connection() as conn:
        rows = await conn.fetch("SELECT activity_id, body FROM inbox_activities")
    return {r["activity_id"]: r["body"] for r in rows}


async def test_concurrent_posts_and_repeats_store_each_activity_once(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, Peer() as peer:
        # Long enough that the requests below meet in a few batches
        blog.services.receiver.batcher.max_wait = 0.05
        post = await blog.post("Många svar")
        actors = [peer.add_actor(f"svar{i}") for i in range(6)]
        replies = [(a, a.create_note(in_reply_to=post["ap_id"], content=f"Svar {i} från {a.id} ✓"))
                   for i in range(5) for a in actors]
        repeated = actors[0].create_note(in_reply_to=post["ap_id"], content="Om och om igen")
        like = actors[1].like(post["ap_id"])
        sends = [*replies, *[(actors[0], repeated)] * 6, *[(actors[1], like)] * 3]
        answers = await asyncio.gather(*(a.post(blog.inbox, activity) for a, activity in sends))
        assert [a.status_code for a in answers] == [202] * len(sends), [a.text for a in answers]
        by_id: dict[str, list[str]] = {}
        for (_, activity), answer in zip(sends, answers, strict=True):
            assert answer.json()["id"] == activity["id"]
            by_id.setdefault(activity["id"], []).append(answer.json()["status"])
        # Exactly one "accepted" per activity, every repeat a "duplicate"
        for statuses in by_id.values():
            assert sorted(statuses) == ["accepted"] + ["duplicate"] * (len(statuses) - 1)
        assert len(by_id[repeated["id"]]) == 6 and len(by_id[like["id"]]) == 3
        stored = await _rows(blog)
        assert set(stored) == set(by_id)
        # The stored body is the JSON that was sent
        for activity in [*(r for _, r in replies), repeated, like]:
            assert stored[activity["id"]] == json.loads(json.dumps(activity))
        # Sent again later: a duplicate, still one row
        again = await actors[0].post(blog.inbox, repeated)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        assert len(await _rows(blog)) == len(by_id)


async def test_a_failed_write_answers_no_request_202(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, Peer() as peer:
        blog.services.receiver.batcher.max_wait = 0.3  # all of them in one batch
        post = await blog.post("Avbrott")
        actors = [peer.add_actor(f"avbrott{i}") for i in range(4)]
        replies = [a.create_note(in_reply_to=post["ap_id"], content="Hallå?") for a in actors]
        sends = [*zip(actors, replies, strict=True), (actors[0], replies[0])]
        blocker = await asyncpg.connect(database_url)
        try:
            # The batch's INSERT waits on this lock; then its connection dies under it
            locked = blocker.transaction()
            await locked.start()
            await blocker.execute("LOCK TABLE inbox_activities IN ACCESS EXCLUSIVE MODE")
            posting = asyncio.gather(*(a.post(blog.inbox, r) for a, r in sends))
            killed = 0
            for _ in range(200):
                # (pg_stat_activity is read once per transaction: ask outside the locking one)
                killed = await blog.services.runtime.db.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'")
                if killed:
                    break
                await asyncio.sleep(0.02)
            assert killed == 1  # one statement for all five requests
            answers = await posting
            await locked.rollback()
        finally:
            await blocker.close()
        assert [a.status_code for a in answers] == [500] * len(sends), [a.text for a in answers]
        assert await _rows(blog) == {}
        # Nothing was stored, so sending again is accepted (not a duplicate), once each
        blog.services.receiver.batcher.max_wait = 0.0005
        retried = await asyncio.gather(*(a.post(blog.inbox, r) for a, r in sends))
        assert [a.status_code for a in retried] == [202] * len(sends)
        assert sorted(a.json()["status"] for a in retried) == ["accepted"] * 4 + ["duplicate"]
        assert set(await _rows(blog)) == {r["id"] for r in replies}


def _item(activity_id: str, body_json: str | None = None) -> NewInboxItem:
    body = {"id": activity_id, "type": "Like", "actor": "https://remote.example/users/a"}
    return NewInboxItem(activity_id=activity_id, actor_id="https://remote.example/users/a",
                        type="Like", body=body, key_id="https://remote.example/users/a#main-key",
                        sender_ip="192.0.2.1", body_json=body_json)


async def test_batcher_answers_each_waiter(database_url: str) -> None:
    await migrate(database_url)
    db = await Database.connect(database_url, min_size=1, max_size=4)
    try:
        batcher = InboxBatcher(db, max_items=64, max_wait=0.01)
        ids = [f"https://remote.example/a/{i}" for i in range(10)]
        # the same id three times in one batch: stored once, the others are duplicates
        results = await asyncio.gather(*(batcher.store(_item(i)) for i in [*ids, ids[3], ids[3]]))
        assert results == [True] * 10 + [False, False]
        # a value jsonb cannot hold fails its own request only; the batch's others are stored
        bad = "https://remote.example/a/bad"
        outcome = await asyncio.gather(
            batcher.store(_item(ids[0])),
            batcher.store(_item(bad, json.dumps({"id": bad})[:-1] + ', "n": 1e1000000}')),
            batcher.store(_item("https://remote.example/a/new")),
            return_exceptions=True)
        assert outcome[0] is False and outcome[2] is True
        assert isinstance(outcome[1], asyncpg.DataError)
        # the raw text is what is stored (as jsonb)
        raw = '{"id": "https://remote.example/a/raw", "type": "Like", "n": 1.50}'
        assert await batcher.store(_item("https://remote.example/a/raw", raw)) is True
        async with db.connection() as conn:
            assert await conn.fetchval("SELECT count(*) FROM inbox_activities") == 12
            assert await conn.fetchval("SELECT body::text FROM inbox_activities WHERE activity_id ="
                                       " 'https://remote.example/a/raw'") == (
                '{"n": 1.50, "id": "https://remote.example/a/raw", "type": "Like"}')
            order = await conn.fetch("SELECT activity_id FROM inbox_activities ORDER BY id LIMIT 10")
            assert [r[0] for r in order] == ids  # rows numbered in arrival order
    finally:
        await db.close()


async def test_parent_cache_keeps_live_parents_briefly_and_nothing_else(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, Peer() as peer:
        eve = peer.add_actor("eve")
        post = await blog.post("Cachad")
        cache = blog.services.parent_cache
        assert blog.services.receiver.prechecks.parents is cache  # one per process
        cache.ttl = 60.0  # (a slow machine must not expire it mid-test)
        orphan = f"{blog.base_url}/posts/9999"
        assert await cache.resolve(orphan) is None and orphan not in cache._known  # misses ask again
        reply = eve.create_note(in_reply_to=post["ap_id"], content="Först")
        assert (await eve.post(blog.inbox, reply)).json()["status"] == "accepted"
        assert post["ap_id"] in cache._known
        deleted = await blog.api.delete(f"/api/v1/posts/{post['id']}")
        assert deleted.status_code in (200, 204), deleted.text
        # Within the TTL the cached answer stands (the processor checks the database again) …
        late = eve.create_note(in_reply_to=post["ap_id"], content="Sent")
        assert (await eve.post(blog.inbox, late)).status_code == 202
        # … and after it the database answers: the post is gone
        cache.ttl = 0.0
        cache._known.clear()
        later = eve.create_note(in_reply_to=post["ap_id"], content="Senare")
        assert (await eve.post(blog.inbox, later)).status_code == 404
        assert post["ap_id"] not in cache._known


async def test_batches_crossing_on_the_same_ids_never_fail(database_url: str) -> None:
    """Two batch writes in flight, a repeated activity in each, in opposite orders: PostgreSQL
    may find a deadlock on the unique index and abort one statement; it is written again, and
    every request gets its answer (found by the soak benchmark: 64 answers of 500)."""
    from fedblog.storage.inbox import insert_many

    await migrate(database_url)
    db = await Database.connect(database_url, min_size=2, max_size=4)
    try:
        for round_ in range(15):
            items = [_item(f"https://remote.example/r{round_}/{n}") for n in range(8)]

            async def write(batch: list[NewInboxItem]) -> set[str]:
                async with db.connection() as conn:
                    return await insert_many(conn, batch)

            first, second = await asyncio.gather(write(items), write(items[::-1]))
            assert first | second == {i.activity_id for i in items}
            assert not first & second  # each stored exactly once
    finally:
        await db.close()
