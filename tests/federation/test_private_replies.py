"""A followers-only or direct reply is the author's to read, never a public comment (issue 14).

Visibility is read as Mastodon reads it (app/lib/activitypub/parser/status_parser.rb,
`visibility`): the public collection (`as:Public`, `Public` or the full IRI) in the object's
`to` is public, in its `cc` unlisted; a Note with the followers collection or only mentions is
followers-only ("private") or direct. The object's audience counts, else the activity's
(`@object['to'] || @json['to']`).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.harness import TOKEN, BlogServer
from tests.peers.peer import AS_PUBLIC, Peer, PeerActor


async def _send(actor: PeerActor, blog: BlogServer, post_url: str, text: str,
                to: list[str], cc: list[str]) -> str:
    create = actor.create_note(in_reply_to=post_url, content=f"<p>{text}</p>", to=to, cc=cc,
                               mention=blog.actor)
    response = await actor.post(blog.inbox, create)
    assert response.status_code == 202, response.text
    note_id: str = create["object"]["id"]
    return note_id


async def _row(blog: BlogServer, ap_id: str) -> dict[str, Any]:
    async with blog.services.runtime.db.connection() as conn:
        row = await conn.fetchrow("SELECT id, state, visibility FROM comments WHERE ap_id = $1",
                                  ap_id)
    assert row is not None
    return dict(row)


async def test_followers_only_and_direct_replies_stay_private(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="mastodon") as peer:
        # Every reply would be approved at once under this policy: the private ones are not.
        settings = await blog.api.patch("/api/v1/settings", json={"moderation_policy": "everyone"})
        assert settings.status_code == 200, settings.text
        fan = peer.add_actor("fan")
        assert (await fan.post(blog.inbox, fan.follow(blog.actor))).status_code == 202
        await peer.wait_for("Accept")
        post = await blog.post("Vad tycker ni?", title="Fråga")
        await peer.wait_for("Create")
        alice = peer.add_actor("alice")

        public = await _send(alice, blog, post["ap_id"], "Public words", [AS_PUBLIC],
                             [alice.followers])
        unlisted = await _send(alice, blog, post["ap_id"], "Unlisted words", [alice.followers],
                               ["as:Public"])
        followers_only = await _send(alice, blog, post["ap_id"], "Followers-only secret",
                                     [alice.followers], [])
        direct = await _send(alice, blog, post["ap_id"], "Direct secret", [blog.actor], [])
        for note_id in (public, unlisted, followers_only, direct):
            await blog.wait_until("SELECT count(*) FROM comments WHERE ap_id = $1", note_id,
                                  expect=1)
        await blog.wait_until("SELECT count(*) FROM inbox_activities WHERE state <> 'processed'",
                              expect=0)

        # Not on the page, not counted, not in the replies collection, context or feed.
        page = (await blog.api.get(f"/posts/{post['id']}")).text
        assert "Public words" in page and "Unlisted words" in page
        assert "secret" not in page
        note = (await blog.fetch_as2(post["ap_id"])).json()
        assert note["replies"]["totalItems"] == 2
        replies = (await blog.fetch_as2(f"{post['ap_id']}/replies")).json()
        assert set(replies["first"]["orderedItems"]) == {public, unlisted}
        context = (await blog.fetch_as2(f"{post['ap_id']}/context")).json()
        assert set(context["first"]["orderedItems"]) == {post["ap_id"], public, unlisted}
        feed = (await blog.api.get(f"/posts/{post['id']}/comments.atom")).text
        assert "Public words" in feed and "secret" not in feed
        assert "secret" not in (await blog.api.get("/")).text

        assert await _row(blog, public) | {"id": 0} == {"id": 0, "state": "approved",
                                                         "visibility": "public"}
        assert (await _row(blog, unlisted))["visibility"] == "unlisted"
        assert (await _row(blog, unlisted))["state"] == "approved"
        for note_id in (followers_only, direct):
            row = await _row(blog, note_id)
            assert (row["state"], row["visibility"]) == ("pending", "private")

        # Nothing of them is federated: no Accept, no Reject, no forward, no delivery.
        await peer.settle()
        async with blog.services.runtime.db.connection() as conn:
            sent = await conn.fetchval(
                "SELECT count(*) FROM outbox_activities WHERE body::text LIKE '%' || $1 || '%'"
                " OR body::text LIKE '%' || $2 || '%'", followers_only, direct)
        assert sent == 0
        accepted = [r.object_id for r in peer.accepted("Accept")]
        assert followers_only not in accepted and direct not in accepted

        # The author sees them in the desk queue, marked; the API refuses to publish one.
        private_id = (await _row(blog, followers_only))["id"]
        shown = (await blog.api.get(f"/api/v1/comments/{private_id}")).json()
        assert shown["visibility"] == "private" and shown["state"] == "pending"
        refused = await blog.api.post(f"/api/v1/comments/{private_id}/approve")
        assert refused.status_code == 409, refused.text
        assert "private" in refused.json()["error"]
        assert (await _row(blog, followers_only))["state"] == "pending"
        async with httpx.AsyncClient(base_url=blog.base_url) as browser:
            form = await browser.get("/desk/login")
            nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert nonce
            login = await browser.post("/desk/login", data={"csrf": nonce.group(1),
                                                             "token": TOKEN})
            assert login.status_code == 303
            queue = (await browser.get("/desk/", params={"state": "pending"})).text
        assert "Followers-only secret" in queue and "Direct secret" in queue
        assert queue.count("private (only you see this)") == 2
        card = queue[queue.index(f'id="q-{private_id}"'):]
        card = card[:card.index("</article>")]
        assert f"/desk/comments/{private_id}/approve" not in card
        # Rejecting it is the author's business alone: still nothing leaves the server.
        rejected = await blog.api.post(f"/api/v1/comments/{private_id}/reject")
        assert rejected.status_code == 200, rejected.text
        await peer.assert_nothing("Reject", within=0.5)


def test_visibility_follows_mastodons_rules() -> None:
    """The pure part: Note.visibility, and the activity's audience when the Note has none."""
    from fedblog.federation.vocab import created_note, parse_activity, parse_note

    def note(**audience: Any) -> dict[str, Any]:
        return {"id": "https://m.example/s/1", "type": "Note", "content": "x",
                "attributedTo": "https://m.example/u/a", **audience}

    followers = "https://m.example/u/a/followers"
    assert parse_note(note(to=[AS_PUBLIC])).visibility == "public"
    assert parse_note(note(to="Public")).visibility == "public"
    assert parse_note(note(to=[followers], cc=["as:Public"])).visibility == "unlisted"
    assert parse_note(note(to=[followers])).visibility == "private"
    assert parse_note(note(to=["https://blog.example/users/blog"])).visibility == "private"
    assert parse_note(note()).visibility == "private"
    create = {"id": "https://m.example/s/1/activity", "type": "Create",
              "actor": "https://m.example/u/a", "to": [AS_PUBLIC], "object": note()}
    found = created_note(parse_activity(create))
    assert found is not None and found.visibility == "public"
    create["object"] = note(to=[followers])
    found = created_note(parse_activity(create))
    assert found is not None and found.visibility == "private"
