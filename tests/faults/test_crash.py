"""SIGKILL with 10,000 deliveries and 1,000 inbound activities in flight; restart; count.

The server runs as a real `fedblog serve` process. Followers are 10,000 personal inboxes on 50
raw loopback servers (so no shared-inbox grouping); inbound Follows come from 1,000 actors on one
fake host. The test kills the process mid-flight, starts it again on the same database, and
counts at the peers.
"""

from __future__ import annotations

import asyncio
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
           "FEDBLOG_INBOX_LEASE": "3", "FEDBLOG_RETRY_SCALE": "0.01",
           "FEDBLOG_DELIVERY_CONCURRENCY": str(CONCURRENCY)}
    return subprocess.Popen([sys.executable, "-m", "fedblog.cli", "--log-level", "warning",
                             "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
            server.send_signal(signal.SIGKILL)
            server.wait()
            killed_at = (delivered(), len(accepted))
            await sender
        finally:
            if server.poll() is None:
                server.kill()

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
            server.send_signal(signal.SIGTERM)
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
