"""Blocking actors and domains, reports, and inbox rate limits, with signed peers on 127.0.0.1.

Peers are told apart by port: a peer's "domain" is `127.0.0.1:<port>`, and a domain block of
that host[:port] covers every actor on it (for names, subdomains are covered too — see the
unit tests of the block list).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from bovine.crypto.types import CryptographicSecret

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor
from tests.peers.signatures import sign_request


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
        job = await _import(blog, csv_in)
        assert job["state"] == "done" and job["imported"] == ["spam.example", "hate.example"]
        assert [(s["line"], s["domain"], s["severity"]) for s in job["skipped"]] == [
            (3, "loud.example", "silence")]
        exported = (await blog.api.get("/api/v1/blocks/domains.csv")).text
        lines = exported.strip().split("\n")
        assert lines[0] == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"
        assert sorted(lines[1:]) == ["hate.example,suspend,false,false,,false",
                                     "spam.example,suspend,false,false,Spam,false"]
        # and the export imports again to the same list
        again = await _import(blog, exported)
        assert sorted(again["imported"]) == ["hate.example", "spam.example"]


async def _import(blog: BlogServer, text: str) -> dict[str, Any]:
    """POST the CSV (202 and the job at once), then the job once it is over."""
    started = await blog.api.post("/api/v1/blocks/domains.csv", content=text.encode(),
                                  headers={"Content-Type": "text/csv"})
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert started.json()["url"] == location
    for _ in range(400):
        job: dict[str, Any] = (await blog.api.get(location)).json()
        if job["state"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the import never ended: {job}")


class NamedPeer(Peer):
    """A peer whose URLs spell its host `spelling` (a name for 127.0.0.1, or one that resolves
    nowhere): the blog sees the spelling in keyId, actor and ids; the peer answers on 127.0.0.1."""

    def __init__(self, spelling: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spelling = spelling

    @property
    def host(self) -> str:
        return f"{self.spelling}:{self.port}"


async def _post_signed(actor: PeerActor, url: str, body: bytes, *,
                       key_id: str | None = None) -> httpx.Response:
    """POST `body` exactly as given, signed (cavage, as Mastodon) by `actor`'s key under
    `key_id` (its own by default)."""
    secret = CryptographicSecret.from_pem(key_id or actor.main_key_id, actor.private_key_pem)
    headers = sign_request(secret, "cavage", method="POST", url=url, body=body)
    headers["Content-Type"] = "application/activity+json"
    return await actor.peer.client.post(url, content=body, headers=headers)


async def test_a_block_holds_whatever_the_spelling_of_its_host(database_url: str) -> None:
    """Issue 14: `localhost.`, `LOCALHOST` and `localhost` are one server, and so are
    `Évil.example.` and `xn--vil-9la.example`: a domain block entered in one spelling refuses
    signed senders in any other (403, before their key is fetched)."""
    async with BlogServer(database_url) as blog, NamedPeer("localhost", name="named") as named:
        mallory = named.add_actor("mallory")
        # Entered with a trailing dot and upper case: stored in the one spelling
        response = await blog.api.post("/api/v1/blocks",
                                       json={"domain": f"LOCALHOST.:{named.port}"})
        assert response.status_code == 201, response.text
        # the sender, spelling its host plainly, is refused (the stored "localhost.:port"
        # once let it through with 202)
        refused = await mallory.post(blog.inbox, mallory.follow(blog.actor))
        assert refused.status_code == 403 and "blocked" in refused.json()["error"]
        assert response.json()["value"] == f"localhost:{named.port}"
        # and the same server spelt with a dot and capitals is refused too
        dotted = mallory.id.replace("localhost", "LocalHost.")
        follow = {**mallory.follow(blog.actor), "actor": dotted,
                  "id": f"{dotted}/follows/{uuid.uuid4().hex}"}
        refused = await _post_signed(mallory, blog.inbox, json.dumps(follow).encode(),
                                     key_id=f"{dotted}#main-key")
        assert refused.status_code == 403, refused.text
        assert named.key_fetches == []

        # Unicode entered, punycode sent (the sender's key would be fetched from a host that
        # resolves nowhere: 401 before; 403 now, from the block, before any fetch)
        response = await blog.api.post("/api/v1/blocks", json={"domain": "Évil.example."})
        assert response.status_code == 201 and response.json()["value"] == "xn--vil-9la.example"
        async with NamedPeer("xn--vil-9la.example", name="evil") as evil:
            eve = evil.add_actor("eve")
            refused = await eve.post(blog.inbox, eve.follow(blog.actor))
            assert refused.status_code == 403 and "blocked" in refused.json()["error"]
        listed = {b["value"] for b in (await blog.api.get("/api/v1/blocks")).json()["items"]}
        assert listed == {f"localhost:{named.port}", "xn--vil-9la.example"}
        # the same server entered in another spelling is the same block, not a second one
        again = await blog.api.post("/api/v1/blocks", json={"domain": "xn--VIL-9la.example."})
        assert again.json()["id"] == response.json()["id"]
        bad = await blog.api.post("/api/v1/blocks", json={"domain": "not a domain!!"})
        assert bad.status_code == 422 and bad.json()["field"] == "domain"


async def test_the_actor_limit_keys_on_the_actor_the_parser_reads(database_url: str) -> None:
    """Issue 14: the per-actor limit once keyed on the first "actor" in the raw body (a nested
    one, or the first of two) while the parser kept the last. A top-level key named twice —
    escapes decoded — is refused with 400 before any key fetch; otherwise the limit is the
    parsed actor's, whatever else the body names "actor"."""
    async with BlogServer(database_url, inbox_actor_rate=1.0) as blog, Peer(name="dup") as peer:
        sender = peer.add_actor("sender")
        victim = "http://victim.example/users/v"
        follow = json.dumps(sender.follow(blog.actor))
        escaped = follow[1:].replace('"actor"', '"act\\u006fr"')
        for twice in (f'{{"actor": "{victim}", {follow[1:]}', f'{{"actor": "{victim}", {escaped}'):
            assert json.loads(twice)["actor"] == sender.id  # the parser keeps the last
            refused = await _post_signed(sender, blog.inbox, twice.encode())
            assert refused.status_code == 400, refused.text
            assert "duplicate_key" in refused.json()["error"]
        assert peer.key_fetches == []
        assert not peer.accepted("Accept")

        # Seven follows, each naming another "actor" first in a nested object: five in a burst
        # (rate 1/s) pass, then the sender is held back (it once was never counted)
        statuses = []
        for i in range(7):
            body = json.dumps({"note": {"actor": f"http://victim{i}.example/users/v"},
                               **sender.follow(blog.actor)})
            statuses.append((await _post_signed(sender, blog.inbox, body.encode())).status_code)
        assert statuses[:5] == [202] * 5 and statuses[-1] == 429, statuses


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
