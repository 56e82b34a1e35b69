"""Blocking actors and domains, reports, and inbox rate limits, with signed peers on 127.0.0.1.

Peers are told apart by port: a peer's "domain" is `127.0.0.1:<port>`, and a domain block of
that host[:port] covers every actor on it (for names, subdomains are covered too — see the
unit tests of the block list).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor


async def _follow(blog: BlogServer, actor: PeerActor) -> None:
    assert (await actor.post(blog.inbox, actor.follow(blog.actor))).status_code == 202
    await actor.peer.wait_for(lambda r: r.type == "Accept" and r.path.startswith(
        f"/users/{actor.username}/"))


async def _comment(blog: BlogServer, actor: PeerActor, post_url: str, text: str,
                   approve: bool) -> dict[str, Any]:
    create = actor.create_note(in_reply_to=post_url, content=f"<p>{text}</p>")
    assert (await actor.post(blog.inbox, create)).status_code == 202
    note_id = create["object"]["id"]
    await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", note_id, expect="pending")
    async with blog.services.runtime.db.connection() as conn:
        comment_id = await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1", note_id)
    if approve:
        assert (await blog.api.post(f"/api/v1/comments/{comment_id}/approve")).status_code == 200
    return {"id": comment_id, "ap_id": note_id}


async def _count(blog: BlogServer, query: str, *args: Any) -> int:
    async with blog.services.runtime.db.connection() as conn:
        return int(await conn.fetchval(query, *args))


async def test_blocking_an_actor_by_handle(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="bad") as peer, \
            Peer(name="good") as other:
        bob, carol = peer.add_actor("bob"), other.add_actor("carol")
        await _follow(blog, bob)
        await _follow(blog, carol)
        post = await blog.post("Kommentarsfältet")
        await peer.wait_for("Create")
        approved = await _comment(blog, bob, post["ap_id"], "Godkänd först", approve=True)
        held = await _comment(blog, bob, post["ap_id"], "Väntar", approve=False)
        kept = await _comment(blog, carol, post["ap_id"], "Carol stannar", approve=True)

        # When the admin blocks bob by his handle
        response = await blog.api.post("/api/v1/blocks", json={
            "actor": f"@bob@{peer.host}", "reason": "varnad två gånger"})
        assert response.status_code == 201, response.text
        block = response.json()
        assert block["value"] == bob.id and block["followers_removed"] == 1
        assert block["comments_hidden"] == 2

        # Then bob's server is told: Reject(Follow) and Block, both verifiable
        [reject_follow] = await peer.wait_for(
            lambda r: r.type == "Reject" and isinstance(r.object, dict)
            and r.object.get("type") == "Follow")
        assert reject_follow.signature_valid
        [block_activity] = await peer.wait_for("Block")
        assert block_activity.signature_valid and block_activity.object == bob.id
        # his comments are out of the collections and the page, through the removal path
        replies = (await blog.fetch_as2(f"{post['ap_id']}/replies")).json()
        assert replies["first"]["orderedItems"] == [kept["ap_id"]]
        page = (await blog.api.get(post["url"], headers={"Accept": "text/html"})).text
        assert "Godkänd först" not in page and "Carol stannar" in page
        states = [(await blog.api.get(f"/api/v1/comments/{c['id']}")).json()["state"]
                  for c in (approved, held)]
        assert states == ["removed", "rejected"]
        # his next signed reply gets 403 before any work, and nothing is stored
        before = await _count(blog, "SELECT count(*) FROM inbox_activities")
        refused = await bob.post(blog.inbox, bob.create_note(in_reply_to=post["ap_id"],
                                                             content="Igen"))
        assert refused.status_code == 403 and "blocked" in refused.json()["error"]
        assert await _count(blog, "SELECT count(*) FROM inbox_activities") == before
        # and nothing more is delivered to him, while carol still gets the next post
        await blog.post("Nästa inlägg")
        await other.wait_for(lambda r: r.type == "Create" and "Nästa" in str(r.object))
        await asyncio.sleep(0.3)
        assert len(peer.accepted("Create")) == 1

        # Unblocking sends Undo(Block) and restores nothing by itself
        assert (await blog.api.delete(f"/api/v1/blocks/{block['id']}")).status_code == 204
        [undo] = await peer.wait_for("Undo")
        assert undo.object["type"] == "Block"
        assert (await blog.api.get(f"/api/v1/comments/{approved['id']}")).json()["state"] == \
            "removed"
        again = await bob.post(blog.inbox, bob.follow(blog.actor))
        assert again.status_code == 202


async def test_blocking_a_domain_covers_every_actor_there(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="instance") as bad, \
            Peer(name="neighbour") as good:
        alpha, beta = bad.add_actor("alpha"), bad.add_actor("beta")
        gamma = good.add_actor("gamma")
        for actor in (alpha, beta, gamma):
            await _follow(blog, actor)
        response = await blog.api.post("/api/v1/blocks", json={"domain": bad.host})
        assert response.status_code == 201 and response.json()["followers_removed"] == 2
        rejects = await bad.wait_for(lambda r: r.type == "Reject", count=2)
        assert {r.path for r in rejects} == {"/users/alpha/inbox", "/users/beta/inbox"}
        for actor in (alpha, beta):
            assert (await actor.post(blog.inbox, actor.follow(blog.actor))).status_code == 403
        # an activity naming an object on the blocked domain is refused too
        boost = gamma.announce(f"{bad.base_url}/users/alpha/statuses/1")
        assert (await gamma.post(blog.inbox, boost)).status_code == 403
        await blog.post("Bara för grannar")
        await good.wait_for("Create")
        await asyncio.sleep(0.3)
        assert bad.accepted("Create") == []
        assert await _count(blog, "SELECT count(*) FROM followers") == 1


async def test_expiring_blocks_lift_on_time_and_csv_round_trips(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        dave = peer.add_actor("dave")
        response = await blog.api.post("/api/v1/blocks", json={"actor": dave.id,
                                                               "expires_in": 1.0})
        assert response.status_code == 201
        assert (await dave.post(blog.inbox, dave.follow(blog.actor))).status_code == 403
        await asyncio.sleep(1.3)
        assert (await dave.post(blog.inbox, dave.follow(blog.actor))).status_code == 202
        await blog.wait_until("SELECT count(*) FROM blocks", expect=0, timeout=15)

        csv_in = ("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
                  "spam.example,suspend,false,false,Spam,false\n"
                  "loud.example,silence,false,false,,false\n"
                  "Hate.Example,suspend,true,true,,false\n")
        imported = await blog.api.post("/api/v1/blocks/domains.csv", content=csv_in,
                                       headers={"Content-Type": "text/csv"})
        assert imported.json()["imported"] == ["spam.example", "hate.example"]
        exported = (await blog.api.get("/api/v1/blocks/domains.csv")).text
        lines = exported.strip().split("\n")
        assert lines[0] == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"
        assert sorted(lines[1:]) == ["hate.example,suspend,false,false,,false",
                                     "spam.example,suspend,false,false,Spam,false"]
        # and the export imports again to the same list
        again = await blog.api.post("/api/v1/blocks/domains.csv", content=exported)
        assert sorted(again.json()["imported"]) == ["hate.example", "spam.example"]


async def test_reports_received_turned_into_a_block_and_sent(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="reporter") as moderators, \
            Peer(name="troll") as trolls:
        troll, mod = trolls.add_actor("troll"), moderators.add_actor("mod")
        post = await blog.post("Rapporter")
        comment = await _comment(blog, troll, post["ap_id"], "Elakt", approve=True)
        flag = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Flag",
                "id": mod.new_id("flags"), "actor": mod.id, "content": "Hets",
                "object": [troll.id, comment["ap_id"]]}
        assert (await mod.post(blog.inbox, flag)).status_code == 202
        await blog.wait_until("SELECT count(*) FROM reports", expect=1)
        [report] = (await blog.api.get("/api/v1/reports")).json()["items"]
        assert report["reporter_host"] == moderators.host and report["content"] == "Hets"
        assert comment["ap_id"] in report["object_ids"]

        # The admin reports the commenter to their own server: a Flag from the instance actor
        sent = await blog.api.post(f"/api/v1/comments/{comment['id']}/report",
                                   json={"reason": "Hot mot andra kommentatorer"})
        assert sent.status_code == 202
        [outgoing] = await trolls.wait_for("Flag")
        assert outgoing.signature_valid and outgoing.signer == f"{blog.base_url}/actor"
        assert outgoing.object == [troll.id, comment["ap_id"]]
        assert outgoing.path == "/inbox"

        blocked = await blog.api.post(f"/api/v1/reports/{report['id']}/block")
        assert blocked.json()["blocked"] == [troll.id]
        assert (await blog.api.get("/api/v1/reports")).json()["items"] == []
        assert (await blog.api.get(f"/api/v1/comments/{comment['id']}")).json()["state"] == \
            "removed"


async def test_inbox_rate_limit_answers_429_and_recovers(database_url: str) -> None:
    async with BlogServer(database_url, inbox_host_rate=2.0) as blog, Peer(name="flood") as flood, \
            Peer(name="calm") as calm:
        spammer, quiet = flood.add_actor("spammer"), calm.add_actor("quiet")
        statuses = []
        for _ in range(14):
            response = await spammer.post(blog.inbox, spammer.follow(blog.actor))
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
        assert statuses[:10] == [202] * 10 and 429 in statuses
        # meanwhile another host is served normally
        assert (await quiet.post(blog.inbox, quiet.follow(blog.actor))).status_code == 202
        await asyncio.sleep(1.1)
        assert (await spammer.post(blog.inbox, spammer.follow(blog.actor))).status_code == 202


async def test_comments_over_the_hourly_cap_go_to_spam(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        await blog.api.patch("/api/v1/settings", json={"comments_per_actor_per_hour": 2})
        chatty = peer.add_actor("chatty")
        post = await blog.post("Pratsamt")
        for i in range(3):
            create = chatty.create_note(in_reply_to=post["ap_id"], content=f"<p>nr {i}</p>")
            assert (await chatty.post(blog.inbox, create)).status_code == 202
        await blog.wait_until("SELECT count(*) FROM comments", expect=3)
        async with blog.services.runtime.db.connection() as conn:
            states = [r["state"] for r in await conn.fetch("SELECT state FROM comments ORDER BY id")]
        assert states == ["pending", "pending", "spam"]
