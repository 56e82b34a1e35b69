"""Replies from signed peers become moderated comments, and each decision federates."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor

# A Linked Data signature block as Mastodon attaches to public activities. The blog does not
# verify it (the receiving server does); its presence is what makes forwarding worthwhile.
LD_SIGNATURE = {"type": "RsaSignature2017", "creator": "", "created": "2026-11-23T00:00:00Z",
                "signatureValue": "c2lnbmF0dXJl"}


async def _comments(blog: BlogServer, **params: Any) -> list[dict[str, Any]]:
    response = await blog.api.get("/api/v1/comments", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _wait_comment(blog: BlogServer, ap_id: str, state: str = "pending") -> dict[str, Any]:
    await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", ap_id, expect=state)
    [found] = [c for c in await _comments(blog) if c["ap_id"] == ap_id]
    return found


async def _reply(actor: PeerActor, blog: BlogServer, parent: str, text: str,
                 ld_signed: bool = False) -> dict[str, Any]:
    create = actor.create_note(in_reply_to=parent, content=f"<p>{text}</p>", mention=blog.actor)
    if ld_signed:
        create = {**create, "signature": {**LD_SIGNATURE, "creator": actor.key_id}}
    response = await actor.post(blog.inbox, create)
    assert response.status_code == 202, response.text
    return create


async def _replies_ids(blog: BlogServer, post_url: str) -> list[str]:
    collection = (await blog.fetch_as2(f"{post_url}/replies")).json()
    return list(collection["first"]["orderedItems"])


async def test_reply_is_held_then_approved_accepted_forwarded_then_rejected(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer(name="mastodon") as commenters, \
            Peer(name="followers") as other:
        # Given a follower on another server and a post
        fan = other.add_actor("fan")
        await fan.post(blog.inbox, fan.follow(blog.actor))
        await other.wait_for("Accept")
        post = await blog.post("Vad tycker ni?", title="Fråga")
        await other.wait_for("Create")

        # When a commenter replies (signed, with an LD signature)
        bob = commenters.add_actor("bob")
        create = await _reply(bob, blog, post["ap_id"], "Jag håller med – helt och hållet!",
                              ld_signed=True)
        note_id = create["object"]["id"]
        # Then it is pending, not in replies, and the author sees who sent it from where
        comment = await _wait_comment(blog, note_id)
        assert comment["content_text"] == "Jag håller med – helt och hållet!"
        assert await _replies_ids(blog, post["ap_id"]) == []
        detail = (await blog.api.get(f"/api/v1/comments/{comment['id']}")).json()
        assert detail["sender_ip"] == "127.0.0.1" and detail["key_id"] == bob.key_id
        assert detail["raw_activity"]["id"] == create["id"]
        note = (await blog.fetch_as2(post["ap_id"])).json()
        assert note["replies"]["totalItems"] == 0
        assert note["interactionPolicy"]["canReply"]["manualApproval"] == [
            "https://www.w3.org/ns/activitystreams#Public"]

        # When the author approves it
        approved = await blog.api.post(f"/api/v1/comments/{comment['id']}/approve")
        assert approved.status_code == 200 and approved.json()["state"] == "approved"
        # Then it is in replies and context, counted, and the commenter gets a verifiable Accept
        assert await _replies_ids(blog, post["ap_id"]) == [note_id]
        context = (await blog.fetch_as2(f"{post['ap_id']}/context")).json()
        assert context["first"]["orderedItems"] == [post["ap_id"], note_id]
        assert (await blog.fetch_as2(post["ap_id"])).json()["replies"]["totalItems"] == 1
        [accept] = await commenters.wait_for("Accept")
        assert accept.signature_valid, accept.error
        assert accept.object == note_id and accept.activity["target"] == post["ap_id"]
        # The Accept dereferences at its id (GoToSocial's `approvedBy`), and the follower's
        # server is sent it too (tests/federation/test_gotosocial_conformance.py)
        approval = await blog.fetch_as2(accept.activity["id"])
        assert approval.status_code == 200
        assert approval.json()["object"] == note_id and approval.json()["type"] == "Accept"
        await other.wait_for(lambda r: r.type == "Accept" and r.object == note_id)
        # And the follower on the other server receives the original, forwarded unchanged
        [forwarded] = await other.wait_for(lambda r: r.type == "Create" and r.actor == bob.id)
        assert forwarded.activity == {k: v for k, v in create.items()}
        assert forwarded.signature_valid and forwarded.signer == blog.actor
        # (the commenter's own server is not sent its own reply back)
        assert commenters.accepted("Create") == []

        # When the author rejects it after all
        rejected = await blog.api.post(f"/api/v1/comments/{comment['id']}/reject",
                                       json={"reason": "off topic"})
        assert rejected.json()["state"] == "rejected"
        [reject] = await commenters.wait_for("Reject")
        assert reject.signature_valid and reject.object == note_id
        assert await _replies_ids(blog, post["ap_id"]) == []
        assert (await blog.fetch_as2(accept.activity["id"])).status_code == 410
        history = (await blog.api.get(f"/api/v1/comments/{comment['id']}")).json()["history"]
        assert [h["to_state"] for h in history] == ["pending", "approved", "rejected"]
        assert history[-1]["reason"] == "off topic"


async def test_threads_three_levels_deep_with_author_answer(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        a, b, c = (peer.add_actor(n) for n in ("anna", "berit", "cecilia"))
        post = await blog.post("Tråd")
        level1 = await _reply(a, blog, post["ap_id"], "Ett")
        first = await _wait_comment(blog, level1["object"]["id"])
        # A reply to a pending comment is taken and held with it (Mastodon never retries a
        # 4xx: refusing would lose it); it cannot be approved before its parent
        early = b.create_note(in_reply_to=level1["object"]["id"], content="För tidigt")
        taken = await b.post(blog.inbox, early)
        assert taken.status_code == 202, taken.text
        held = await _wait_comment(blog, early["object"]["id"])
        assert held["parent_comment_id"] == first["id"]
        too_soon = await blog.api.post(f"/api/v1/comments/{held['id']}/approve")
        assert too_soon.status_code == 409 and "approve that one first" in too_soon.text
        await blog.api.post(f"/api/v1/comments/{first['id']}/approve")
        assert (await blog.api.post(f"/api/v1/comments/{held['id']}/approve")).json()[
            "state"] == "approved"
        level2 = await _reply(b, blog, level1["object"]["id"], "Två")
        second = await _wait_comment(blog, level2["object"]["id"])
        await blog.api.post(f"/api/v1/comments/{second['id']}/approve")
        level3 = await _reply(c, blog, level2["object"]["id"], "Tre")
        third = await _wait_comment(blog, level3["object"]["id"])
        assert (first["depth"], second["depth"], third["depth"]) == (0, 1, 2)
        assert second["parent_comment_id"] == first["id"]
        assert third["parent_comment_id"] == second["id"]

        # The author answers the third: a Note from the blog, mentioning the commenter
        answer = await blog.api.post(f"/api/v1/comments/{second['id']}/replies",
                                     json={"markdown": "Tack för **svaret**!"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["is_author"] and body["state"] == "approved" and body["depth"] == 2
        [create] = await peer.wait_for(lambda r: r.type == "Create")
        assert create.signature_valid
        note = create.object
        assert note["inReplyTo"] == level2["object"]["id"] and note["attributedTo"] == blog.actor
        assert {"type": "Mention", "href": b.id, "name": f"@berit@{peer.host}"} in note["tag"]
        assert b.id in note["cc"]
        served = (await blog.fetch_as2(body["ap_id"])).json()
        assert served["id"] == body["ap_id"]

        # Replies to the author's answer thread under it
        level4 = await _reply(b, blog, body["ap_id"], "Varsågod")
        fourth = await _wait_comment(blog, level4["object"]["id"])
        assert fourth["parent_comment_id"] == body["id"] and fourth["depth"] == 3


async def test_remote_update_delete_and_reactions(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        dora = peer.add_actor("dora")
        post = await blog.post("Reaktioner")
        create = await _reply(dora, blog, post["ap_id"], "Första versionen")
        comment = await _wait_comment(blog, create["object"]["id"])
        await blog.api.post(f"/api/v1/comments/{comment['id']}/approve")

        await dora.post(blog.inbox, dora.update_note(create, content="<p>Andra versionen</p>"))
        await blog.wait_until("SELECT content_text FROM comments WHERE id = $1", comment["id"],
                              expect="Andra versionen")
        detail = (await blog.api.get(f"/api/v1/comments/{comment['id']}")).json()
        assert [v["content_text"] for v in detail["versions"]] == ["Första versionen"]

        like = dora.like(post["ap_id"])
        boost = dora.announce(post["ap_id"])
        await dora.post(blog.inbox, like)
        await dora.post(blog.inbox, boost)
        await blog.wait_until("SELECT count(*) FROM reactions", expect=2)
        note = (await blog.fetch_as2(post["ap_id"])).json()
        assert (note["likes"]["totalItems"], note["shares"]["totalItems"]) == (1, 1)
        likes = (await blog.fetch_as2(f"{post['ap_id']}/likes")).json()
        assert likes["items"] == [dora.id]
        await dora.post(blog.inbox, dora.undo(like))
        await blog.wait_until("SELECT count(*) FROM reactions", expect=1)
        note = (await blog.fetch_as2(post["ap_id"])).json()
        assert (note["likes"]["totalItems"], note["shares"]["totalItems"]) == (0, 1)

        await dora.post(blog.inbox, dora.delete_note(create))
        await blog.wait_until("SELECT state FROM comments WHERE id = $1", comment["id"],
                              expect="deleted")
        assert await _replies_ids(blog, post["ap_id"]) == []


async def test_forged_and_orphan_replies_are_refused(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        eve, frank = peer.add_actor("eve"), peer.add_actor("frank")
        post = await blog.post("Skyddad")
        # attributedTo someone else than the signer
        forged = frank.create_note(in_reply_to=post["ap_id"], content="Inte min")
        forged = {**forged, "actor": eve.id, "object": {**forged["object"]}}
        response = await eve.post(blog.inbox, forged)
        assert response.status_code == 401 and "attributedTo" in response.json()["error"]
        # a reply to a post that does not exist here
        orphan = eve.create_note(in_reply_to=f"{blog.base_url}/posts/9999", content="Vart?")
        response = await eve.post(blog.inbox, orphan)
        assert response.status_code == 404
        await asyncio.sleep(0.2)
        async with blog.services.runtime.db.connection() as conn:
            assert await conn.fetchval("SELECT count(*) FROM comments") == 0
            assert await conn.fetchval("SELECT count(*) FROM inbox_activities") == 0


async def test_hostile_html_is_stored_inert(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        mallory = peer.add_actor("mallory")
        post = await blog.post("Mål")
        hostile = ('<p>hej<script>alert(1)</script><img src=x onerror="alert(2)">'
                   '<a href="javascript:alert(3)">länk</a><style>*{}</style>'
                   '<iframe src="https://evil.example"></iframe>'
                   + "<div>" * 1000 + "djup" + "</div>" * 1000 + "</p>")
        create = await _reply(mallory, blog, post["ap_id"], hostile)
        comment = await _wait_comment(blog, create["object"]["id"])
        html = comment["content_html"].lower()
        for bad in ("<script", "onerror", "javascript:", "<style", "<iframe", "<img"):
            assert bad not in html
        assert "djup" in comment["content_text"]
        big = mallory.create_note(in_reply_to=post["ap_id"], content="<p>" + "å" * 600_000 + "</p>")
        response = await mallory.post(blog.inbox, big)
        assert response.status_code == 413


async def test_reply_to_an_unknown_parent_fetches_the_parent_within_the_thread(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        ulla, vera = peer.add_actor("ulla"), peer.add_actor("vera")
        post = await blog.post("Okänd förälder")
        # Ulla's reply to the post never reached the blog (only published on her server)
        unseen = ulla.create_note(in_reply_to=post["ap_id"], content="<p>Aldrig levererad</p>")
        # Vera answers Ulla and mentions the blog, so her reply does reach it
        reply = vera.create_note(in_reply_to=unseen["object"]["id"], content="<p>Svar</p>",
                                 mention=blog.actor)
        assert (await vera.post(blog.inbox, reply)).status_code == 202
        parent = await _wait_comment(blog, unseen["object"]["id"])
        child = await _wait_comment(blog, reply["object"]["id"])
        assert parent["parent_comment_id"] is None and parent["actor_id"] == ulla.id
        assert child["parent_comment_id"] == parent["id"] and child["depth"] == 1
        fetches = [f for f in peer.fetches if f.path.endswith(unseen["object"]["id"].split("/")[-1])]
        assert fetches and all(f.signed for f in fetches), "the parent is fetched with a signed GET"

        # A reply whose ancestors never reach the blog's posts is not a comment
        elsewhere = ulla.create_note(in_reply_to=None, content="<p>Eget inlägg</p>")
        stray = vera.create_note(in_reply_to=elsewhere["object"]["id"], content="<p>Hmm</p>",
                                 mention=blog.actor)
        assert (await vera.post(blog.inbox, stray)).status_code == 202
        await blog.wait_until("SELECT state FROM inbox_activities WHERE activity_id = $1",
                              stray["id"], expect="ignored")
        async with blog.services.runtime.db.connection() as conn:
            assert await conn.fetchval("SELECT count(*) FROM comments") == 2


async def test_moderation_policies_ask_about_the_commenter(database_url: str) -> None:
    """known_commenters approves who has an approved comment, followers approves accepted
    followers, and the hourly cap marks the rest as spam, whatever the policy."""
    async with BlogServer(database_url) as blog, Peer(name="people") as people:
        post = await blog.post("Policyfrågor", title="Policy")
        fan, newcomer, regular = (people.add_actor(n) for n in ("fan", "newcomer", "regular"))
        await fan.post(blog.inbox, fan.follow(blog.actor))
        await people.wait_for("Accept")

        async def reply_state(actor: PeerActor, text: str, expect: str) -> None:
            create = await _reply(actor, blog, post["ap_id"], text)
            await _wait_comment(blog, create["object"]["id"], expect)

        # Held by default; the author approves one of the regular's comments
        await reply_state(regular, "Första gången.", "pending")
        [first] = [c for c in await _comments(blog) if c["actor_id"] == regular.id]
        assert (await blog.api.post(f"/api/v1/comments/{first['id']}/approve")).status_code == 200

        await blog.api.patch("/api/v1/settings", json={"moderation_policy": "known_commenters"})
        await reply_state(regular, "Igen!", "approved")
        await reply_state(newcomer, "Hej, ny här.", "pending")
        await reply_state(fan, "Jag följer bloggen.", "pending")

        await blog.api.patch("/api/v1/settings", json={"moderation_policy": "followers"})
        await reply_state(fan, "Nu räknas det.", "approved")
        await reply_state(newcomer, "Fortfarande ny.", "pending")

        # The hourly cap counts every comment the actor sent, whatever its state
        await blog.api.patch("/api/v1/settings", json={"comments_per_actor_per_hour": 2})
        await reply_state(fan, "En till från mig.", "spam")
