"""The feeds parse as valid Atom and RSS (read by feedparser, as a feed reader would)."""

from __future__ import annotations

from typing import Any

import feedparser

from tests.harness import BlogServer
from tests.peers.peer import Peer


def _parse(body: bytes, version: str) -> Any:
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == version
    return feed


async def test_posts_feeds_atom_and_rss(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        await blog.api.patch("/api/v1/settings", json={"display_name": "Min blogg & co",
                                                       "summary": "Om <allt>"})
        first = await blog.post("Första texten med *betoning* och #Arkiv.", title="Först",
                                language="sv")
        second = await blog.post("No title here, only words about #Python.", language="en",
                                 summary="spoilers")
        gone = await blog.post("Soon deleted.", title="Borta")
        assert (await blog.api.delete(f"/api/v1/posts/{gone['id']}")).status_code == 204

        atom = await blog.api.get("/feed.atom")
        assert atom.headers["content-type"].startswith("application/atom+xml")
        feed = _parse(atom.content, "atom10")
        assert feed.feed.title == "Min blogg & co" and feed.feed.subtitle == "Om <allt>"
        assert [e.link for e in feed.entries] == [second["url"], first["url"]]
        newest, oldest = feed.entries
        assert oldest.title == "Först" and oldest.id == first["url"]
        assert "<em>betoning</em>" in oldest.content[0].value
        assert oldest.content[0].language == "sv" and [t.term for t in oldest.tags] == ["Arkiv"]
        assert newest.title.startswith("No title here") and newest.summary == "spoilers"
        assert oldest.published_parsed and newest.updated_parsed

        rss = await blog.api.get("/feed.rss")
        assert rss.headers["content-type"].startswith("application/rss+xml")
        channel = _parse(rss.content, "rss20")
        assert channel.feed.title == "Min blogg & co" and channel.feed.link == blog.base_url + "/"
        assert [e.link for e in channel.entries] == [second["url"], first["url"]]
        assert [e.id for e in channel.entries] == [second["url"], first["url"]]
        assert "<em>betoning</em>" in channel.entries[1].description
        assert channel.entries[1].published_parsed is not None

        tag = _parse((await blog.api.get("/tags/arkiv/feed.atom")).content, "atom10")
        assert [e.link for e in tag.entries] == [first["url"]]
        empty = _parse((await blog.api.get("/tags/ingenting/feed.rss")).content, "rss20")
        assert empty.entries == []


async def test_comments_feed_lists_the_approved_thread(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="lulea") as peer:
        post = await blog.post("Vad tycker ni?", title="Fråga", language="sv")
        anna = peer.add_actor("anna")
        anna.display_name = "Anna <Lind>"
        ids = []
        for text in ("Första svaret", "Andra svaret", "Hållet svar"):
            create = anna.create_note(in_reply_to=post["ap_id"], content=f"<p>{text}</p>")
            assert (await anna.post(blog.inbox, create)).status_code == 202
            note_id = create["object"]["id"]
            await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", note_id,
                                  expect="pending")
            async with blog.services.runtime.db.connection() as conn:
                ids.append(await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1",
                                               note_id))
        for comment_id in ids[:2]:
            assert (await blog.api.post(f"/api/v1/comments/{comment_id}/approve")).is_success
        answer = await blog.api.post(f"/api/v1/comments/{ids[0]}/replies",
                                     json={"markdown": "Tack **Anna**!"})
        assert answer.status_code == 201

        response = await blog.api.get(f"{post['url']}/comments.atom")
        feed = _parse(response.content, "atom10")
        assert feed.feed.link == f"{post['url']}#comments"
        titles = [e.title for e in feed.entries]
        assert titles == ["1.1. fedblog", "2. Anna <Lind>", "1. Anna <Lind>"]
        assert "Hållet svar" not in response.text
        assert feed.entries[0].content[0].value.count("<strong>Anna</strong>") == 1
        assert feed.entries[2].link == f"{post['url']}#comment-{ids[0]}"
        assert feed.entries[2].author == "Anna <Lind>"

        assert (await blog.api.delete(f"/api/v1/posts/{post['id']}")).status_code == 204
        assert (await blog.api.get(f"{post['url']}/comments.atom")).status_code == 410
        assert (await blog.api.get(f"{blog.base_url}/posts/999/comments.atom")).status_code == 404
