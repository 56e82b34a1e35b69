"""The delivery queue: retries until the peer recovers, exactly once, across a restart."""

from __future__ import annotations

import asyncio

from tests.harness import BlogServer, free_port
from tests.peers.peer import Peer


async def _follow(blog: BlogServer, peer: Peer, name: str) -> None:
    actor = peer.add_actor(name)
    assert (await actor.post(blog.inbox, actor.follow(blog.actor))).status_code == 202
    await peer.wait_for(lambda r: r.type == "Accept" and r.path == f"/users/{name}/inbox")


async def test_failing_peer_gets_the_post_exactly_once_after_recovering_across_a_restart(
    database_url: str,
) -> None:
    port = free_port()
    async with Peer(name="flaky") as peer:
        blog = BlogServer(database_url, port=port)
        await blog.start()
        await _follow(blog, peer, "carol")
        # Given the peer's inbox fails with 500 and then 429 + Retry-After
        peer.fail_with = 500
        created = await blog.post("Kommer fram till slut")
        await blog.wait_until(
            "SELECT attempts >= 2 FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
            " WHERE a.type = 'Create'", expect=True)
        peer.fail_with = 429
        peer.retry_after = "0"
        await blog.wait_until(
            "SELECT last_status FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
            " WHERE a.type = 'Create'", expect=429)
        # When the blog restarts while the delivery is still pending
        await blog.stop()
        assert peer.accepted("Create") == []
        peer.fail_with = None
        restarted = BlogServer(database_url, port=port)
        async with restarted:
            # Then the queued delivery is made, once, and recorded as delivered
            [create] = await peer.wait_for("Create", timeout=15)
            assert create.signature_valid, create.error
            assert create.object["id"] == created["ap_id"]
            await restarted.wait_until(
                "SELECT state FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
                " WHERE a.type = 'Create'", expect="delivered")
            await asyncio.sleep(0.5)
        assert len(peer.accepted("Create")) == 1
        failed = [r for r in peer.received if r.type == "Create" and not r.accepted]
        assert len(failed) >= 3
        # Every attempt was signed afresh (Mastodon refuses stale or reused signatures)
        dates = {r.headers.get("date") for r in peer.received if r.type == "Create"}
        assert len(dates) >= 2


async def _refused_attempts(database_url: str, status: int) -> list[str]:
    async with Peer(name="refusing") as peer, BlogServer(database_url) as blog:
        await _follow(blog, peer, "dave")
        peer.fail_with = status
        await blog.post("Till en som inte vill")
        await blog.wait_until(
            "SELECT state FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
            " WHERE a.type = 'Create'", expect="failed")
        return [r.scheme for r in peer.received if r.type == "Create"]


async def test_a_401_knocks_again_with_the_other_scheme(database_url: str) -> None:
    # 401 with one scheme is retried at once with the other scheme ("double knocking", as
    # Fedify does); a 401 then stays a passing failure, retried later as Mastodon does.
    async with Peer(name="refusing") as peer, BlogServer(database_url) as blog:
        await _follow(blog, peer, "dave")
        peer.fail_with = 401
        await blog.post("Till en som inte vill")
        attempts = await peer.wait_for("Create", count=2, include_rejected=True)
        assert [r.scheme for r in attempts] == ["cavage", "rfc9421"]
        assert await blog.wait_until(
            "SELECT state FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
            " WHERE a.type = 'Create'", expect="queued")


async def test_a_403_is_a_refusal_not_a_signature_problem(database_url: str) -> None:
    # GoToSocial answers 403 for refusals that are not about the signature (a blocked sender,
    # an interaction its policy forbids: internal/api/activitypub/users/inboxpost.go,
    # internal/federation/federatingactor.go) and verifies draft-cavage only: a second knock
    # with RFC 9421 would turn a clear refusal into a 401. One attempt, then dropped.
    assert await _refused_attempts(database_url, 403) == ["cavage"]


async def test_deliveries_do_not_go_to_private_addresses_unless_allowed(database_url: str) -> None:
    async with Peer(name="private") as peer, BlogServer(database_url) as blog:
        await _follow(blog, peer, "erin")
    # Restart the same data with private addresses forbidden (the production default)
    async with Peer(name="unused"), BlogServer(database_url,
                                                allow_private_addresses=False) as strict:
        await strict.post("Ska inte gå till 127.0.0.1")
        status = await strict.wait_until(
            "SELECT state FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
            " WHERE a.type = 'Create'", expect="failed")
        assert status == "failed"
        error = await strict.wait_until(
            "SELECT last_error LIKE 'forbidden target%' FROM deliveries d"
            " JOIN outbox_activities a ON a.id = d.activity WHERE a.type = 'Create'", expect=True)
        assert error is True
