"""Retention of the inbox log (issue 14): an activity of a type the blog has no use for is not
kept; finished rows are deleted FEDBLOG_INBOX_RETENTION_DAYS after processing, while what a
comment needs (its raw activity, for forwarding and the author's view) stays with the comment."""

from __future__ import annotations

from tests.harness import BlogServer
from tests.peers.peer import ACTIVITY_CONTEXT, Peer

AGE = "UPDATE inbox_activities SET processed_at = now() - make_interval(days => $2)" \
      " WHERE activity_id = $1"


async def test_unknown_types_are_not_kept_and_finished_rows_go_after_the_retention_time(
    database_url: str,
) -> None:
    async with BlogServer(database_url, inbox_retention_days=7) as blog, Peer() as peer:
        alice = peer.add_actor("alice")
        post = await blog.post("Behåll det som behövs")
        reply = alice.create_note(in_reply_to=post["ap_id"], content="<p>Svar</p>",
                                  mention=blog.actor)
        assert (await alice.post(blog.inbox, reply)).status_code == 202
        like = alice.like(post["ap_id"])
        assert (await alice.post(blog.inbox, like)).status_code == 202
        # A type no handler takes (Misskey-family "Bite", tests/fixtures/remote/README.md):
        # answered 202 like any other, then deleted rather than kept as 'ignored'
        bite = {"@context": ACTIVITY_CONTEXT, "id": alice.new_id(), "type": "Bite",
                "actor": alice.id, "target": post["ap_id"], "to": [blog.actor]}
        assert (await alice.post(blog.inbox, bite)).status_code == 202
        for activity in (reply, like):
            await blog.wait_until("SELECT state FROM inbox_activities WHERE activity_id = $1",
                                  activity["id"], expect="processed")
        await blog.wait_until("SELECT count(*) FROM inbox_activities WHERE activity_id = $1",
                              bite["id"], expect=0)

        # Given the reply processed eight days ago and the Like six days ago
        db = blog.services.runtime.db
        async with db.connection() as conn:
            await conn.execute(AGE, reply["id"], 8)
            await conn.execute(AGE, like["id"], 6)
        # When a worker starts (it trims at once, then every ten minutes)
        await blog.stop()
        await blog.start()
        # Then the old row is gone, the younger one stays
        await blog.wait_until("SELECT count(*) FROM inbox_activities WHERE activity_id = $1",
                              reply["id"], expect=0)
        async with blog.services.runtime.db.connection() as conn:
            assert await conn.fetchval("SELECT state FROM inbox_activities WHERE activity_id = $1",
                                       like["id"]) == "processed"
            comment_id = await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1",
                                             reply["object"]["id"])
        # And the comment still shows the activity it arrived in
        shown = (await blog.api.get(f"/api/v1/comments/{comment_id}")).json()
        assert shown["raw_activity"]["id"] == reply["id"]
        assert shown["raw_activity"]["object"]["content"] == "<p>Svar</p>"
