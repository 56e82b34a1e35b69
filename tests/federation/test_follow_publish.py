"""A remote server (bovine-signed peer on 127.0.0.1) follows the blog and receives its posts."""

from __future__ import annotations

import asyncio

from tests.harness import BlogServer
from tests.peers.peer import Peer


async def test_follow_then_create_update_delete_reach_the_follower(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="mastodon") as peer:
        alice = peer.add_actor("alice")
        # Given alice follows the blog with a signed Follow
        follow = alice.follow(blog.actor)
        response = await alice.post(blog.inbox, follow)
        assert response.status_code == 202, response.text
        # Then she receives a signed Accept of exactly that Follow
        [accept] = await peer.wait_for("Accept")
        assert accept.signature_valid, accept.error
        assert accept.signer == blog.actor
        assert accept.object_id == follow["id"]
        assert accept.path == "/users/alice/inbox"

        # When the author posts, the follower gets a verifiable Create(Note)
        created = await blog.post("Hej *världen*! #fediverse", title="Första inlägget",
                                  language="sv")
        [create] = await peer.wait_for("Create")
        assert create.signature_valid, create.error
        note = create.object
        assert note["id"] == created["ap_id"] and note["attributedTo"] == blog.actor
        assert "Första inlägget" in note["content"] and "världen" in note["content"]
        assert note["contentMap"]["sv"] == note["content"]
        assert "https://www.w3.org/ns/activitystreams#Public" in note["to"]
        assert f"{blog.actor}/followers" in note["cc"]
        assert [t["name"] for t in note["tag"]] == ["#fediverse"]

        # When the author edits it, an Update carries the new text and `updated`
        r = await blog.api.patch(f"/api/v1/posts/{created['id']}", json={"markdown": "Ändrad text"})
        assert r.status_code == 200, r.text
        [update] = await peer.wait_for("Update")
        assert update.signature_valid, update.error
        assert "Ändrad text" in update.object["content"] and update.object["updated"]

        # When the author deletes it, a Delete with a Tombstone arrives and the URL is 410
        r = await blog.api.delete(f"/api/v1/posts/{created['id']}")
        assert r.status_code == 204
        [delete] = await peer.wait_for("Delete")
        assert delete.signature_valid, delete.error
        assert delete.object["type"] == "Tombstone" and delete.object["id"] == created["ap_id"]
        gone = await blog.fetch_as2(created["ap_id"])
        assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"

        # Undo(Follow) removes the follower: the next post goes nowhere
        assert (await alice.post(blog.inbox, alice.undo(follow))).status_code == 202
        await blog.wait_until("SELECT count(*) FROM followers", expect=0)


async def test_many_followers_on_one_host_get_one_post_to_the_shared_inbox(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer(name="big") as peer:
        actors = [peer.add_actor(f"user{i}") for i in range(5)]
        for actor in actors:
            assert (await actor.post(blog.inbox, actor.follow(blog.actor))).status_code == 202
        await peer.wait_for("Accept", count=5)
        await blog.post("Till alla")
        [create] = await peer.wait_for("Create")
        assert create.path == "/inbox" and create.signature_valid
        # Every success is recorded promptly (not only when a later success comes along),
        # so no lease runs out and nothing is sent twice.
        await blog.wait_until("SELECT count(*) FROM deliveries WHERE state <> 'delivered'",
                              expect=0, timeout=3)
        await asyncio.sleep(0.3)
        assert len(peer.accepted("Create")) == 1


async def test_held_follow_is_accepted_by_the_author(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        r = await blog.api.patch("/api/v1/settings", json={"manually_approves_followers": True})
        assert r.status_code == 200 and r.json()["manually_approves_followers"] is True
        actor = (await blog.fetch_as2(blog.actor)).json()
        assert actor["manuallyApprovesFollowers"] is True
        bob = peer.add_actor("bob")
        await bob.post(blog.inbox, bob.follow(blog.actor))
        await blog.wait_until("SELECT count(*) FROM followers WHERE state = 'pending'", expect=1)
        requests = (await blog.api.get("/api/v1/follow-requests")).json()
        assert [item["actor_id"] for item in requests["items"]] == [bob.id]
        assert peer.accepted("Accept") == []
        r = await blog.api.post("/api/v1/follow-requests/accept", json={"actor_id": bob.id})
        assert r.status_code == 200, r.text
        [accept] = await peer.wait_for("Accept")
        assert accept.signature_valid and accept.object_id
