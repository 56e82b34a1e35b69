"""The conversation as Mastodon, GoToSocial and Misskey read it: their reading rules, ported in
tests/peers/readers.py with the source file and lines cited, run against the real blog over
HTTP after a signed conversation."""

from __future__ import annotations

from typing import Any

import pytest

from fedblog.outbox.as2 import FIRST_PAGE, paged_collection
from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor
from tests.peers.readers import (
    MAX_REPLIES_INLINE,
    MastodonServer,
    collection_items,
    fetch_all_replies,
    fetch_replies_inline,
    gotosocial_problems,
    mastodon_accept_effect,
    misskey_problems,
    parse_status,
)

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _fetcher(blog: BlogServer, reader: PeerActor) -> Any:
    """Signed GETs as a remote server makes them: the blog's documents and the commenters'."""
    async def fetch(url: str) -> dict[str, Any] | None:
        response = (await blog.fetch_as2(url) if url.startswith(blog.base_url)
                    else await reader.get(url))
        return response.json() if response.status_code == 200 else None
    return fetch


async def _reply(actor: PeerActor, blog: BlogServer, parent: str, text: str) -> str:
    create = actor.create_note(in_reply_to=parent, content=f"<p>{text}</p>", mention=blog.actor)
    response = await actor.post(blog.inbox, create)
    assert response.status_code == 202, response.text
    note_id: str = create["object"]["id"]
    return note_id


async def _comment_id(blog: BlogServer, ap_id: str, state: str = "pending") -> int:
    await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", ap_id, expect=state)
    async with blog.services.runtime.db.connection() as conn:
        found: int = await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1", ap_id)
    return found


async def _decide(blog: BlogServer, comment_id: int, action: str) -> dict[str, Any]:
    response = await blog.api.post(f"/api/v1/comments/{comment_id}/{action}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_mastodon_reader_sees_the_approved_branch_and_none_of_a_rejected_one(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer(name="commenters") as peer, \
            Peer(name="reader") as other:
        anna, berit = peer.add_actor("anna"), peer.add_actor("berit")
        fetch = _fetcher(blog, other.add_actor("reader"))
        post = await blog.post("Vad tycker ni om budgeten?", title="Budgeten")
        post_url = post["ap_id"]

        # Given reply A, and reply B to A while A is still held: B is taken (202) and held
        a_id = await _reply(anna, blog, post_url, "Bra sammanfattat!")
        a = await _comment_id(blog, a_id)
        b_id = await _reply(berit, blog, a_id, "Håller med Anna.")
        b = await _comment_id(blog, b_id)
        held = (await blog.api.get(f"/api/v1/comments/{b}")).json()
        assert held["parent_state"] == "pending" and held["parent_comment_id"] == a

        # When the author approves A, then B, and answers B
        await _decide(blog, a, "approve")
        await _decide(blog, b, "approve")
        answer = await blog.api.post(f"/api/v1/comments/{b}/replies",
                                     json={"markdown": "Tack båda två!"})
        assert answer.status_code == 201, answer.text
        answer_id = answer.json()["ap_id"]

        # Then the post's `replies` embeds the whole thread on its first page, parents first
        note = await fetch(post_url)
        assert note is not None
        replies = note["replies"]
        assert replies["first"]["orderedItems"] == [a_id, b_id, answer_id]
        assert replies["totalItems"] == 3 and "next" not in replies["first"]
        # json_ld_helper.rb L266/L305: an embedded `first` is read as it is, nothing fetched
        items, pages = await collection_items(replies, _never_fetch)
        assert (items, pages) == ([a_id, b_id, answer_id], 1)

        # Create#fetch_replies (FetchRepliesService, fetch_replies_service.rb L11-38) keeps only
        # replies on the blog's own host: the answer; resolving its inReplyTo threads the rest
        inline = await fetch_replies_inline(replies, fetch, blog.actor)
        assert inline == [answer_id]
        mastodon = MastodonServer(fetch)
        await mastodon.resolve(answer_id)
        assert {a_id, b_id, answer_id} <= set(mastodon.statuses)

        # FetchAllRepliesWorker: a server that never saw the thread sees A > B > answer
        reader = MastodonServer(fetch)
        await reader.open(post_url)
        assert reader.children(post_url) == [a_id]
        assert reader.children(a_id) == [b_id]
        assert reader.children(b_id) == [answer_id]
        # the answer reads as a Mastodon reply: the commenter's @handle leads, with a Mention
        answer_note = await fetch(answer_id)
        assert answer_note is not None
        assert reader.statuses[answer_id].text.startswith(
            '<p><span class="h-card" translate="no"><a href="')
        assert "@<span>berit</span>" in reader.statuses[answer_id].text.split("</a>")[0]
        assert {"type": "Mention", "href": berit.id, "name": f"@{berit.handle}"} in answer_note["tag"]
        # every URL the blog publishes answers
        for url in (answer_note["replies"]["id"], answer_note["likes"]["id"],
                    answer_note["shares"]["id"], note["likes"]["id"], note["shares"]["id"],
                    note["context"]):
            assert await fetch(url) is not None, url
        page = await blog.api.get(f"/comments/{a}", headers={"Accept": "text/html"},
                                  follow_redirects=False)
        assert page.status_code == 302 and page.headers["location"].endswith(f"#comment-{a}")

        # GoToSocial reads the same page (collection.go L88-140, thread.go L304-363), with
        # each parent before its reply; Misskey refuses neither Note (ApNoteService.ts L80-154)
        assert gotosocial_problems(note) == []
        assert misskey_problems(note, post_url) == []
        assert misskey_problems(answer_note, answer_id) == []
        seen = {post_url}
        for item in replies["first"]["orderedItems"]:
            assert reader.statuses[item].in_reply_to in seen
            seen.add(item)
        # FEP-7888 context: the post, then the same visible thread
        context = await fetch(note["context"])
        assert context is not None
        assert context["first"]["orderedItems"] == [post_url, a_id, b_id, answer_id]

        # When the author rejects A
        await _decide(blog, a, "reject")
        # Then a Mastodon server that had not seen the thread sees none of A's branch
        fresh = MastodonServer(fetch)
        await fresh.open(post_url)
        assert set(fresh.statuses) == {post_url}
        note = await fetch(post_url)
        assert note is not None and note["replies"]["first"]["orderedItems"] == []
        context = await fetch(note["context"])
        assert context is not None and context["first"]["orderedItems"] == [post_url]
        page = await blog.api.get(post["url"], headers={"Accept": "text/html"})
        assert "Håller med Anna" not in page.text and "Tack båda två" not in page.text
        # and a reply under the rejected comment is still taken, held, with that fact shown
        late_id = await _reply(berit, blog, a_id, "Varför togs det bort?")
        late = await _comment_id(blog, late_id)
        shown = (await blog.api.get(f"/api/v1/comments/{late}")).json()
        assert shown["state"] == "pending" and shown["parent_state"] == "rejected"


async def _never_fetch(url: str) -> dict[str, Any] | None:
    raise AssertionError(f"Mastodon would not fetch {url} for an embedded collection")


async def test_a_thread_of_sixty_comments_in_three_levels_is_all_reachable(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer(name="many") as peer, \
            Peer(name="reader") as other:
        settings = await blog.api.patch("/api/v1/settings", json={"moderation_policy": "everyone"})
        assert settings.status_code == 200, settings.text
        actors = [peer.add_actor(f"user{i}") for i in range(6)]
        fetch = _fetcher(blog, other.add_actor("reader"))
        post = await blog.post("Lång tråd")
        parents = [post["ap_id"]] * 20
        expected: dict[str, str] = {}
        for level in range(3):
            sent = []
            for index, parent in enumerate(parents):
                author = actors[(index + level) % len(actors)]
                note_id = await _reply(author, blog, parent, f"Nivå {level}, nr {index}")
                expected[note_id] = parent
                sent.append(note_id)
            await blog.wait_until(
                "SELECT count(*) FROM comments WHERE state = 'approved'", expect=20 * (level + 1),
                timeout=30)
            parents = sent

        note = await fetch(post["ap_id"])
        assert note is not None
        listed = note["replies"]["first"]["orderedItems"]
        assert len(listed) == 60 and set(listed) == set(expected)
        # Mastodon stops paging once it has 5 items (fetch_all_replies_service.rb L17) and
        # takes at most 500 (L49): everything must be on the embedded first page
        assert len(await fetch_all_replies(note["replies"], fetch, post["ap_id"])) == 60
        assert len(await fetch_replies_inline(note["replies"], fetch, blog.actor)) <= \
            MAX_REPLIES_INLINE
        reader = MastodonServer(fetch)
        await reader.open(post["ap_id"])
        for note_id, parent in expected.items():
            assert reader.statuses[note_id].in_reply_to == parent


def test_more_than_a_first_page_pages_on_and_a_whole_thread_fits_it() -> None:
    collection = paged_collection("https://blog.example/posts/1/replies",
                                  [f"https://m.example/s/{i}" for i in range(FIRST_PAGE + 1)])
    assert collection["totalItems"] == FIRST_PAGE + 1
    assert len(collection["first"]["orderedItems"]) == FIRST_PAGE == 500
    assert collection["first"]["next"].endswith(f"offset={FIRST_PAGE}")
    whole = paged_collection("https://blog.example/posts/1/replies", ["a"] * FIRST_PAGE)
    assert "next" not in whole["first"]


async def test_a_reply_whose_parent_cannot_be_fetched_yet_waits_for_it(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        anna, berit = peer.add_actor("anna"), peer.add_actor("berit")
        post = await blog.post("Ordning")
        # Given A (a reply to the post) that its server does not serve yet
        parent = anna.create_note(in_reply_to=post["ap_id"], content="<p>Först</p>",
                                  mention=blog.actor)
        parent_id = parent["object"]["id"]
        peer.objects.pop(parent_id)
        # When B, answering A, arrives before A
        child_id = await _reply(berit, blog, parent_id, "Svar på något som inte kommit än")
        # Then B is parked, not lost
        await blog.wait_until("SELECT state FROM inbox_activities WHERE activity_id = $1",
                              f"{child_id}/activity", expect="waiting")
        # And when A arrives, B is processed at once, held under A
        assert (await anna.post(blog.inbox, parent)).status_code == 202
        child = await _comment_id(blog, child_id)
        shown = (await blog.api.get(f"/api/v1/comments/{child}")).json()
        a = await _comment_id(blog, parent_id)
        assert shown["parent_comment_id"] == a and shown["state"] == "pending"


async def test_a_note_without_attributed_to_belongs_to_the_actor_on_its_host(
    database_url: str,
) -> None:
    """Mastodon's Create uses the activity's actor and only checks the object's host
    (activity/create.rb; fetch_remote_status_service.rb L60-64 for fetched notes)."""
    async with BlogServer(database_url) as blog, Peer() as peer:
        anna = peer.add_actor("anna")
        post = await blog.post("Anonymt?")
        create = anna.create_note(in_reply_to=post["ap_id"], content="<p>Utan attributedTo</p>")
        del create["object"]["attributedTo"]
        assert (await anna.post(blog.inbox, create)).status_code == 202
        found = await _comment_id(blog, create["object"]["id"])
        assert (await blog.api.get(f"/api/v1/comments/{found}")).json()["actor_id"] == anna.id


async def test_accept_of_follow_names_the_follow_as_mastodon_matches_it(database_url: str) -> None:
    """accept.rb L6 (FollowRequest.find_by(uri: object_uri)), L10-26 (the embedded Follow's
    actor as fallback): the Accept carries the Follow's id and its actor."""
    async with BlogServer(database_url) as blog, Peer() as peer:
        fan = peer.add_actor("fan")
        follow = fan.follow(blog.actor)
        assert (await fan.post(blog.inbox, follow)).status_code == 202
        [accept] = await peer.wait_for("Accept")
        assert accept.signature_valid
        assert accept.object_id == follow["id"]
        assert accept.activity["object"]["actor"] == fan.id
        assert accept.activity["object"]["type"] == "Follow"


async def test_an_accept_of_a_reply_does_nothing_to_a_mastodon_follower(database_url: str) -> None:
    """The blog sends the Accept of an approved reply to its followers too (what a GoToSocial
    follower needs, tests/federation/test_gotosocial_conformance.py). A Mastodon follower runs
    accept.rb on it (readers.mastodon_accept_effect): no relay, no follow request of that id, not
    an embedded Follow — nothing happens, and its own follow stays as it was accepted."""
    async with BlogServer(database_url) as blog, Peer(name="mastodon") as followers, \
            Peer(name="commenters") as commenters:
        fan = followers.add_actor("fan")
        follow = fan.follow(blog.actor)
        assert (await fan.post(blog.inbox, follow)).status_code == 202
        [accepted_follow] = await followers.wait_for("Accept")
        requests = frozenset({follow["id"]})
        assert mastodon_accept_effect(accepted_follow.activity,
                                      follow_request_uris=requests) == "follow accepted"
        post = await blog.post("Svar godkänns")
        bob = commenters.add_actor("bob")
        create = bob.create_note(in_reply_to=post["ap_id"], content="<p>Hej</p>",
                                 mention=blog.actor)
        assert (await bob.post(blog.inbox, create)).status_code == 202
        comment = await _comment_id(blog, create["object"]["id"])
        await blog.api.post(f"/api/v1/comments/{comment}/approve")
        [reply_accept] = await followers.wait_for(
            lambda r: r.type == "Accept" and r.object == create["object"]["id"])
        assert mastodon_accept_effect(reply_accept.activity,
                                      follow_request_uris=requests) == "nothing"


@pytest.mark.parametrize("status", [{"summary": "Politik", "sensitive": True}])
def test_the_status_parser_reads_what_the_blog_keeps(status: dict[str, Any]) -> None:
    """status_parser.rb L58-64 (spoiler_text from summary), L97-99 (sensitive), L87-91
    (edited_at from updated): the fields the blog keeps and shows for commenters."""
    parsed = parse_status({"id": "https://m.example/s/1", "attributedTo": "https://m.example/u/a",
                           "content": "<p>x</p>", "published": "2026-12-01T00:00:00Z",
                           "updated": "2026-12-02T00:00:00Z", "to": [PUBLIC], **status})
    assert parsed.spoiler_text == "Politik" and parsed.sensitive and parsed.edited

