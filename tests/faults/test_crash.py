"""SIGKILL with 10,000 deliveries and inbound activities in flight; restart; count.

The server runs as a real `fedblog serve` process (in a process group of its own, killed whole).
Followers are 10,000 personal inboxes on 50 raw loopback servers (so no shared-inbox grouping);
inbound activities come from actors on one fake host. The tests kill the process mid-flight,
start it again on the same database, and count at the peers and in the database.

No lease is shortened: a dead process's claims must be taken over because its worker session's
heartbeat stopped (issue 14), not because FEDBLOG_INBOX_LEASE (300 s) ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx

from fedblog.federation.keys import generate_rsa_pem, load_signing_key
from fedblog.federation.signatures import HttpRequestParts, sign_request_cavage
from fedblog.storage import inbox as inbox_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage import workers as workers_store
from fedblog.storage.db import Database
from fedblog.storage.inbox import NewInboxItem
from fedblog.storage.workers import WorkerSession
from tests.faults.servers import ActorHost, RawInbox
from tests.harness import free_port

FOLLOWERS_PER_HOST = 200
HOSTS = 50
INBOUND = 1_000
CONCURRENCY = 64
TOKEN = "crash-token-0123456789"


def _start(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "FEDBLOG_DOMAIN": f"127.0.0.1:{port}",
           "FEDBLOG_SCHEME": "http", "FEDBLOG_ALLOW_PRIVATE_ADDRESSES": "1",
           "FEDBLOG_API_TOKEN": TOKEN, "FEDBLOG_INBOX_HOST_RATE": "0",
           "FEDBLOG_INBOX_ACTOR_RATE": "0", "FEDBLOG_DELIVERY_TIMEOUT": "2",
           "FEDBLOG_RETRY_SCALE": "0.01", "FEDBLOG_DELIVERY_CONCURRENCY": str(CONCURRENCY)}
    env.pop("FEDBLOG_INBOX_LEASE", None)   # the default, 300 s: recovery must not wait for it
    return subprocess.Popen([sys.executable, "-m", "fedblog.cli", "--log-level", "warning",
                             "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _kill_group(server: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> None:
    """The whole process group, as a supervisor or the OOM killer would take it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signum)


async def _wait_up(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/.well-known/nodeinfo")).is_success:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server did not start")


async def _seed_followers(conn: asyncpg.Connection, inboxes: list[RawInbox]) -> list[str]:
    actors = [f"{host.base_url}/users/f{i}" for host in inboxes for i in range(FOLLOWERS_PER_HOST)]
    await conn.execute(
        "INSERT INTO remote_actors (id, host, type, inbox, document)"
        " SELECT a, split_part(split_part(a, '://', 2), '/', 1), 'Person', a || '/inbox', '{}'"
        " FROM unnest($1::text[]) a", actors)
    await conn.execute(
        "INSERT INTO followers (actor_id, follow_activity_id, state)"
        " SELECT a, a || '#follow', 'accepted' FROM unnest($1::text[]) a", actors)
    return actors


def _signed_follows(host: ActorHost, blog_actor: str, inbox: str, key: Any) -> list[HttpRequestParts]:
    requests = []
    for i in range(INBOUND):
        actor = host.actor_id(f"a{i}")
        body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams",
                           "id": f"{actor}/follows/1", "type": "Follow", "actor": actor,
                           "object": blog_actor}).encode()
        parts = HttpRequestParts("POST", inbox, (("Content-Type", "application/activity+json"),),
                                 body)
        requests.append(sign_request_cavage(parts, key_id=f"{actor}#main-key",
                                            private_key=key.private_key, now=time.time()))
    return requests


async def _send_all(requests: list[HttpRequestParts], accepted: list[str]) -> None:
    semaphore = asyncio.Semaphore(8)  # slow enough that the kill lands mid-stream
    async with httpx.AsyncClient(timeout=30) as client:
        async def send(parts: HttpRequestParts) -> None:
            async with semaphore:
                try:
                    response = await client.post(parts.url, content=parts.body,
                                                 headers=dict(parts.headers))
                except httpx.HTTPError:
                    return  # in flight when the server died: not accepted, the sender retries
                if response.status_code == 202:
                    accepted.append(json.loads(parts.body)["id"])
        await asyncio.gather(*(send(r) for r in requests))


async def test_sigkill_mid_flight_loses_nothing(database_url: str) -> None:
    private_pem, public_pem = generate_rsa_pem()
    port = free_port()
    blog_actor = f"http://127.0.0.1:{port}/users/blog"
    async with AsyncExitStack() as stack:
        inboxes = [await stack.enter_async_context(RawInbox("ok")) for _ in range(HOSTS)]
        actors = await stack.enter_async_context(ActorHost(public_pem))
        key = load_signing_key(f"{actors.base_url}/users/a0#main-key", private_pem, public_pem)
        db = await asyncpg.connect(database_url)
        stack.push_async_callback(db.close)

        server = _start(database_url, port)
        try:
            await _wait_up(port)
            followers = await _seed_followers(db, inboxes)
            assert len(followers) == 10_000
            requests = _signed_follows(actors, blog_actor, f"http://127.0.0.1:{port}/users/blog/inbox",
                                       key)
            async with httpx.AsyncClient() as api:
                created = await api.post(f"http://127.0.0.1:{port}/api/v1/posts",
                                         headers={"Authorization": f"Bearer {TOKEN}"},
                                         json={"markdown": "Tiotusen mottagare"})
            assert created.status_code == 201
            accepted: list[str] = []
            sender = asyncio.create_task(_send_all(requests, accepted))

            def delivered() -> int:
                return sum(sum(h.posts.values()) for h in inboxes)

            while delivered() < 1_500 or len(accepted) < 300:
                await asyncio.sleep(0.01)
            _kill_group(server)
            server.wait()
            killed_at = (delivered(), len(accepted))
            await sender
        finally:
            if server.poll() is None:
                _kill_group(server)

        assert 0 < killed_at[0] < 10_000, f"the kill came too late to test anything: {killed_at}"
        assert killed_at[1] < INBOUND, f"the kill came after all inbound was accepted: {killed_at}"
        server = _start(database_url, port)
        try:
            await _wait_up(port)
            # Remote servers retry what got no 202: here, everything is sent again
            before_retry = list(accepted)
            await _send_all(requests, accepted)
            duplicates_answered = sum(1 for a in accepted[len(before_retry):] if a in before_retry)
            for _ in range(900):
                queued = await db.fetchval(
                    "SELECT count(*) FROM deliveries WHERE state = 'queued'")
                waiting = await db.fetchval(
                    "SELECT count(*) FROM inbox_activities WHERE state = 'received'")
                if queued == 0 and waiting == 0:
                    break
                await asyncio.sleep(0.1)
            else:
                errors = await db.fetch("SELECT state, attempts, left(error, 200) AS e, count(*)"
                                        " FROM inbox_activities GROUP BY 1, 2, 3 LIMIT 10")
                failures = await db.fetch(
                    "SELECT state, attempts, last_error, next_attempt_at - now() AS wait,"
                    " locked_until - now() AS lease, count(*) FROM deliveries"
                    " GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC LIMIT 10")
                raise AssertionError(f"{queued} deliveries and {waiting} inbox activities left:"
                                     f" {[dict(r) for r in errors]} {[dict(r) for r in failures]}")
        finally:
            _kill_group(server, signal.SIGTERM)
            server.wait(timeout=60)

        # Every queued delivery of the post reached its inbox; repeats only for those in flight
        per_inbox: Counter[str] = Counter()
        for host in inboxes:
            for path, count in host.posts.items():
                per_inbox[f"{host.base_url}{path}"] += count
        expected = {f"{actor}/inbox" for actor in followers}
        missing = expected - set(per_inbox)
        repeated = sum(count - 1 for count in per_inbox.values() if count > 1)
        print(f"\ncrash test: killed after {killed_at[0]} deliveries and {killed_at[1]} accepted"
              f" inbound; {len(accepted)} inbound accepted in all; {len(per_inbox)} inboxes"
              f" reached; {len(missing)} missed; {repeated} repeated deliveries")
        assert not missing
        assert repeated <= CONCURRENCY, "only deliveries in flight at the kill may repeat"
        assert sum(1 for c in per_inbox.values() if c > 1) == repeated

        # Every accepted inbound activity was processed exactly once
        rows = await db.fetch("SELECT activity_id, state FROM inbox_activities")
        states = {r["activity_id"]: r["state"] for r in rows}
        assert all(states.get(activity_id) == "processed" for activity_id in accepted)
        assert len(rows) == len(set(states)) == INBOUND
        assert duplicates_answered == len(before_retry)  # answered 202 "duplicate", not redone
        follower_rows = await db.fetchval(
            "SELECT count(*) FROM followers WHERE actor_id LIKE $1", f"{actors.base_url}/%")
        assert follower_rows == len(states)
        accept_paths = [p for p in actors.posts if p.endswith("/inbox")]
        accepts = Counter({p: actors.posts[p] for p in accept_paths})
        assert len(accepts) == len(states), "each processed Follow got its Accept"
        print(f"crash test: {len(before_retry)} inbound accepted before the kill, all {INBOUND}"
              f" after the senders' retry; {len(states)} processed once each;"
              f" {sum(accepts.values())} Accepts for {len(accepts)} followers")


# --- crash recovery in seconds (issue 14): replies arriving at 300/s -----------------------------

REPLY_RATE = 300            # signed replies per second, from the kill's before to its after
REPLY_ACTORS = 100
REPLY_SECONDS = 12          # signed in advance: enough for before the kill, the gap and after
RECOVERY_LIMIT = 15.0       # seconds from the restart to every reply accepted before the kill stored


def _signed_replies(host: ActorHost, post_id: str, inbox: str, key: Any) -> list[HttpRequestParts]:
    """Create(Note) answering the post, as Mastodon sends one (tests/peers/peer.py's shape);
    all actors on one host share one key, so key fetches stay few."""
    requests = []
    for n in range(REPLY_RATE * REPLY_SECONDS):
        actor = host.actor_id(f"r{n % REPLY_ACTORS}")
        note_id = f"{actor}/statuses/{n}"
        note = {"id": note_id, "type": "Note", "inReplyTo": post_id, "attributedTo": actor,
                "content": f"<p>Svar {n}</p>", "published": "2026-01-01T00:00:00Z",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "cc": [f"{actor}/followers"]}
        body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams",
                           "id": f"{note_id}/activity", "type": "Create", "actor": actor,
                           "published": note["published"], "to": note["to"], "cc": note["cc"],
                           "object": note}).encode()
        parts = HttpRequestParts("POST", inbox, (("Content-Type", "application/activity+json"),),
                                 body)
        requests.append(sign_request_cavage(parts, key_id=f"{actor}#main-key",
                                            private_key=key.private_key, now=time.time()))
    return requests


class ReplyStream:
    """Sends the replies at a steady REPLY_RATE per second whatever the server's state: while
    it is down they are refused (not accepted: their senders would retry later)."""

    def __init__(self, requests: list[HttpRequestParts]) -> None:
        self.requests = requests
        self.slots = asyncio.Semaphore(64)   # a sender's connections; the rest wait their turn
        self.accepted: list[str] = []      # note ids answered 202
        self.answers: Counter[int | str] = Counter()   # status or error, for the messages
        self.stop = asyncio.Event()

    async def run(self) -> None:
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=30,
                                     limits=httpx.Limits(max_connections=64)) as client:
            started = time.monotonic()
            for n, parts in enumerate(self.requests):
                if self.stop.is_set():
                    break
                delay = started + n / REPLY_RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self._send(client, parts))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending)

    async def _send(self, client: httpx.AsyncClient, parts: HttpRequestParts) -> None:
        try:
            async with self.slots:
                response = await client.post(parts.url, content=parts.body,
                                             headers=dict(parts.headers))
        except httpx.HTTPError as exc:
            self.answers[type(exc).__name__] += 1
            return
        self.answers[response.status_code] += 1
        if response.status_code == 202:
            self.accepted.append(json.loads(parts.body)["object"]["id"])


async def _claimed(db: asyncpg.Connection, table: str) -> int:
    """Rows claimed and not finished (by the one process there is)."""
    unfinished = "queued" if table == "deliveries" else "received"
    return int(await db.fetchval(
        f"SELECT count(*) FROM {table} WHERE state = $1 AND locked_until > now()", unfinished))


async def _all_stored(db: asyncpg.Connection, note_ids: list[str], since: float,
                      limit: float = RECOVERY_LIMIT) -> float:
    """Seconds from `since` until every note is a comment; fails after `limit`."""
    while True:
        stored = int(await db.fetchval(
            "SELECT count(*) FROM comments WHERE ap_id = ANY($1::text[])", note_ids))
        elapsed = time.monotonic() - since
        if stored == len(note_ids):
            return elapsed
        if elapsed > limit:
            left = await db.fetch(
                "SELECT state, locked_until > now() AS leased, count(*) AS n"
                " FROM inbox_activities WHERE state <> 'processed' GROUP BY 1, 2")
            raise AssertionError(
                f"{len(note_ids) - stored} of {len(note_ids)} accepted replies not stored"
                f" {limit:.0f} s after the restart; inbox: {[dict(r) for r in left]}")
        await asyncio.sleep(0.05)


async def test_sigkilled_process_group_is_taken_over_in_seconds(database_url: str) -> None:
    """Issue 14: kill the whole process group with 10,000 deliveries queued and 300 signed
    replies a second arriving; restart. Every reply answered 202 is a comment, once, within
    15 s of the restart (the dead process's inbox claims are taken over when its heartbeat
    stops, not after FEDBLOG_INBOX_LEASE); every delivery is done; the only repeats are
    deliveries the dead process had claimed (in flight) at the kill."""
    private_pem, public_pem = generate_rsa_pem()
    port = free_port()
    inbox = f"http://127.0.0.1:{port}/users/blog/inbox"
    async with AsyncExitStack() as stack:
        inboxes = [await stack.enter_async_context(RawInbox("ok")) for _ in range(HOSTS)]
        actors = await stack.enter_async_context(ActorHost(public_pem))
        key = load_signing_key(f"{actors.base_url}/users/r0#main-key", private_pem, public_pem)
        db = await asyncpg.connect(database_url)
        stack.push_async_callback(db.close)

        def delivered() -> int:
            return sum(sum(h.posts.values()) for h in inboxes)

        async def new_post(markdown: str) -> str:
            async with httpx.AsyncClient(timeout=30) as api:
                created = await api.post(f"http://127.0.0.1:{port}/api/v1/posts",
                                         headers={"Authorization": f"Bearer {TOKEN}"},
                                         json={"markdown": markdown})
            assert created.status_code == 201
            return str(created.json()["ap_id"])

        server = _start(database_url, port)
        sending: asyncio.Task[None] | None = None
        try:
            await _wait_up(port)
            # The replies answer a post made before anyone follows; signed now, before the
            # deliveries start (signing blocks this loop, which serves the followers' inboxes)
            stream = ReplyStream(_signed_replies(actors, await new_post("Svara här"), inbox, key))
            followers = await _seed_followers(db, inboxes)
            await new_post("Tiotusen mottagare")
            sending = asyncio.create_task(stream.run())
            deadline = time.monotonic() + 30
            while delivered() < 1_500 or len(stream.accepted) < REPLY_RATE:
                assert time.monotonic() < deadline, (
                    f"too slow to test: {delivered()} delivered, {len(stream.accepted)} replies"
                    f" accepted; answers {stream.answers}")
                await asyncio.sleep(0.01)
            # Kill mid-flight: deliveries going out, replies accepted, and some of them claimed
            # by the inbox processor but not yet stored. A batch is done in milliseconds, so
            # hold the comments table (reads go on, inserts wait) until the processor is inside
            # one — as a slow handler would be — then kill.
            async with db.transaction():
                await db.execute("LOCK TABLE comments IN SHARE MODE")
                while await _claimed(db, "inbox_activities") == 0:
                    assert time.monotonic() < deadline + 30, "the processor claimed nothing"
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.2)
                _kill_group(server)
                server.wait()
            in_flight = await _claimed(db, "deliveries")
            inbox_claimed = await _claimed(db, "inbox_activities")
            killed_at = (delivered(), len(stream.accepted))
        finally:
            if server.poll() is None:
                _kill_group(server)
                server.wait()
        assert 0 < killed_at[0] < 10_000, f"the kill came too late to test anything: {killed_at}"
        assert inbox_claimed > 0 and in_flight > 0, (inbox_claimed, in_flight)

        before_kill = list(stream.accepted)
        restarted = time.monotonic()
        server = _start(database_url, port)
        try:
            # replies keep arriving through the gap and after the restart
            recovery = asyncio.create_task(_all_stored(db, before_kill, restarted))
            await _wait_up(port)
            up_in = time.monotonic() - restarted
            await asyncio.sleep(3)
            stream.stop.set()
            await sending
            accepted = list(stream.accepted)
            assert len(accepted) > len(before_kill), "replies were accepted after the restart too"
            recovered_in = await recovery
            # those accepted since are the restarted process's ordinary work (its throughput)
            all_in = await _all_stored(db, accepted, restarted, limit=60)
            # exactly once: one comment per note, each activity processed once
            assert await db.fetchval(
                "SELECT count(*) FROM comments WHERE ap_id = ANY($1::text[])", accepted) \
                == len(set(accepted)) == len(accepted)
            assert await db.fetchval(
                "SELECT count(*) FROM inbox_activities WHERE state = 'processed'"
                " AND activity_id = ANY($1::text[])", [f"{a}/activity" for a in accepted]) \
                == len(accepted)

            for _ in range(600):
                queued = await db.fetchval("SELECT count(*) FROM deliveries WHERE state = 'queued'")
                if queued == 0:
                    break
                await asyncio.sleep(0.1)
            done_in = time.monotonic() - restarted
            assert queued == 0, f"{queued} deliveries still queued {done_in:.0f} s after the restart"
        finally:
            stream.stop.set()
            if sending is not None:
                await sending
            _kill_group(server, signal.SIGTERM)
            server.wait(timeout=60)

        per_inbox: Counter[str] = Counter()
        for host in inboxes:
            for path, count in host.posts.items():
                per_inbox[f"{host.base_url}{path}"] += count
        missing = {f"{actor}/inbox" for actor in followers} - set(per_inbox)
        repeated = sum(count - 1 for count in per_inbox.values() if count > 1)
        print(f"\ncrash recovery: killed after {killed_at[0]} deliveries and {killed_at[1]}"
              f" accepted replies, {in_flight} deliveries and {inbox_claimed} replies claimed"
              f" (in flight); up again in {up_in:.1f} s; the {len(before_kill)} replies accepted"
              f" before the kill stored {recovered_in:.1f} s after the restart, all"
              f" {len(accepted)} accepted ones once each after {all_in:.1f} s; deliveries done in"
              f" {done_in:.1f} s; {repeated} repeated deliveries (<= {in_flight} in flight)")
        assert not missing
        assert repeated <= in_flight, "only deliveries in flight at the kill may repeat"


async def test_a_live_session_keeps_its_claims_and_a_dead_ones_are_free_in_seconds(
    database_url: str,
) -> None:
    """The rule itself, against PostgreSQL, with a 1 s staleness: a claim is taken over when
    its session's heartbeat stops, never while it goes on (however long the work takes, up to
    the lease), and at once after a clean stop."""
    db = await Database.connect(database_url, min_size=1, max_size=4)
    try:
        async with db.connection() as conn:
            for n in range(3):
                await inbox_store.insert(conn, NewInboxItem(
                    f"https://a.example/activities/{n}", "https://a.example/users/a", "Like",
                    {"id": f"https://a.example/activities/{n}"}, "https://a.example/users/a#k",
                    None))
            pk = await outbox_store.insert_activity(
                conn, activity_id="https://blog.example/activities/1", type_="Create",
                object_id=None, body={})
            await outbox_store.enqueue(conn, pk, ["https://b.example/inbox"])

            async def claim(worker: str, limit: int = 10) -> list[int]:
                items = await inbox_store.claim(conn, limit=limit, lease_seconds=300,
                                                worker=worker, stale_after=1.0)
                return [item.id for item in items]

            # "dead" beats once and claims, then is SIGKILLed (no more beats, no clean end)
            await workers_store.beat(conn, "dead", 1.0)
            [dead_item] = await claim("dead", 1)
            [dead_job] = await outbox_store.claim_due(conn, limit=10, lease_seconds=300,
                                                      worker="dead", stale_after=1.0)
            live = WorkerSession(db, "live", every=0.2, stale_after=1.0)
            stop = asyncio.Event()
            async with live.running(stop):
                [live_item] = await claim("live", 1)
                others = await claim("other")
                assert others and dead_item not in others and live_item not in others
                assert await outbox_store.claim_due(conn, limit=10, lease_seconds=300,
                                                    worker="other", stale_after=1.0) == []
                await asyncio.sleep(1.5)
                assert live.fresh() and live.held_since(time.monotonic() - 1.4)
                # the dead session's claims are free; the live one's (slow work) are not
                assert await claim("other") == [dead_item]
                [taken] = await outbox_store.claim_due(conn, limit=10, lease_seconds=300,
                                                       worker="other", stale_after=1.0)
                assert taken.id == dead_job.id
            # a clean stop frees what is left at once
            assert await claim("other") == [live_item]
            assert await workers_store.alive(conn, 1.0) == []
    finally:
        await db.close()
