"""The inbox processor works a claimed batch concurrently, but never out of order where order
matters: one actor's activities, and a reply to a comment in the same batch."""

from __future__ import annotations

from tests.harness import BlogServer
from tests.peers.peer import Peer


async def test_a_batch_of_replies_is_processed_concurrently_and_in_dependency_order(
    database_url: str,
) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, Peer(name="remote") as remote:
        assert (await blog.api.patch("/api/v1/settings",
                                     json={"moderation_policy": "everyone"})).status_code == 200
        post = await blog.post("Vad tycker ni om hösten?", title="Hösten")
        alice, bob, carol = (remote.add_actor(n) for n in ("alice", "bob", "carol"))
        others = [remote.add_actor(f"reader{i}") for i in range(12)]

        # Given, while nothing processes the inbox: alice answers the post, bob answers alice,
        # carol likes the post, alice edits hers, and twelve others answer the post.
        create_a = alice.create_note(in_reply_to=post["ap_id"], content="<p>Den bästa årstiden.</p>")
        create_b = bob.create_note(in_reply_to=create_a["object"]["id"],
                                   content="<p>Håller inte med, alice!</p>")
        like_c = carol.like(post["ap_id"])
        update_a = alice.update_note(create_a["object"], content="<p>Den allra bästa årstiden.</p>")
        sent = [(alice, create_a), (bob, create_b), (carol, like_c), (alice, update_a)]
        sent += [(o, o.create_note(in_reply_to=post["ap_id"], content=f"<p>Svar {n}</p>"))
                 for n, o in enumerate(others)]
        for actor, activity in sent:
            response = await actor.post(blog.inbox, activity)
            assert response.status_code == 202, response.text

        # When one batch is claimed and processed (concurrently, eight lanes at a time)
        processor = blog.services.processor
        assert processor.concurrency > 1
        assert await processor.run_once() == len(sent)

        # Then every activity was handled once, and in the order it depends on:
        db = blog.services.runtime.db
        async with db.connection() as conn:
            states = await conn.fetch("SELECT activity_id, state FROM inbox_activities")
            comments = {r["ap_id"]: r for r in await conn.fetch(
                "SELECT c.ap_id, c.state, c.depth, c.content_text, p.ap_id AS parent"
                " FROM comments c LEFT JOIN comments p ON p.id = c.parent_comment_id")}
            likes = await conn.fetchval("SELECT count(*) FROM reactions WHERE object_id = $1",
                                        post["ap_id"])
        assert {r["activity_id"]: r["state"] for r in states if r["state"] != "processed"} == {}
        note_a, note_b = comments[create_a["object"]["id"]], comments[create_b["object"]["id"]]
        # alice's comment was stored from her Create (approved, edited), not fetched as an
        # ancestor of bob's reply (which would have held it for the author)
        assert note_a["state"] == "approved" and note_a["depth"] == 0
        assert note_a["content_text"] == "Den allra bästa årstiden."
        assert note_b["state"] == "approved" and note_b["parent"] == create_a["object"]["id"]
        assert note_b["depth"] == 1
        assert likes == 1
        assert not [f for f in remote.fetches if f.path.endswith(create_a["object"]["id"].rsplit("/", 1)[-1])]
        assert len(comments) == 2 + len(others)
