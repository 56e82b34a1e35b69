"""The feeds parse as valid Atom and RSS (read by feedparser, as a feed reader would)."""

from __future__ import annotations

import asyncio
import itertools
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


# ---------------------------------------------------------------- bounded cost (issue 14)


async def _approved_comments(blog: BlogServer, post: dict[str, Any], count: int, *,
                             chain: bool = False, text: str = "Hej") -> None:
    """`count` approved comments stored as the inbox stores them (one statement); with `chain`
    each answers the one before it."""
    async with blog.services.runtime.db.transaction() as conn:
        ids = await conn.fetch(
            "INSERT INTO comments (ap_id, post_id, in_reply_to, actor_id, state, content_html,"
            " content_text) SELECT 'https://remote.example/notes/' || $1::bigint || '-' || md5($3) || n,"
            " $1, $2, 'https://remote.example/users/ann', 'approved', '<p>' || $3 || ' ' || n"
            " || '</p>', $3 || ' ' || n FROM generate_series(1, $4) AS n RETURNING id",
            post["id"], post["ap_id"], text, count)
        if chain:
            ordered = sorted(row["id"] for row in ids)
            await conn.executemany(
                "UPDATE comments SET parent_comment_id = $1, depth = $3 WHERE id = $2",
                [(parent, child, depth + 1)
                 for depth, (parent, child) in enumerate(itertools.pairwise(ordered))])


async def test_comment_feed_is_capped_and_rendered_once_per_change(database_url: str) -> None:
    """3,000 comments: the feed lists the newest 100, and a second request is served from
    memory (no render) until the thread changes."""
    async with BlogServer(database_url, run_workers=False) as blog:
        post = await blog.post("Populärt.", title="Många svar")
        await _approved_comments(blog, post, 3000)
        url = f"{post['url']}/comments.atom"
        first = await blog.api.get(url)
        assert first.status_code == 200 and len(first.content) < 200_000
        feed = _parse(first.content, "atom10")
        assert len(feed.entries) == 100
        assert [e.title.split(".")[0] for e in feed.entries[:2]] == ["3000", "2999"]
        feeds = blog.app.state.comment_feeds
        assert blog.app.state.pages.live and feeds.renders == 1
        for _ in range(5):
            again = await blog.api.get(url)
            assert again.content == first.content
        assert feeds.renders == 1
        unchanged = await blog.api.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert unchanged.status_code == 304
        await _approved_comments(blog, post, 1, text="Nytt")
        for _ in range(100):      # the trigger's NOTIFY reaches the page cache
            changed = await blog.api.get(url)
            if "Nytt" in changed.text:
                break
            await asyncio.sleep(0.05)
        assert "Nytt 1" in changed.text and feeds.renders == 2
        assert _parse(changed.content, "atom10").entries[0].title.startswith("3001.")


async def test_a_deep_chain_is_a_feed_and_a_page_of_linear_size(database_url: str) -> None:
    """A 1,500-deep chain of answers: comments.atom answers 200, its numbers are short, and the
    page grows linearly with the depth (numbers and nesting capped)."""
    async with BlogServer(database_url, run_workers=False) as blog:
        half = await blog.post("Halvt.", title="Halv")
        whole = await blog.post("Helt.", title="Hel")
        await _approved_comments(blog, half, 750, chain=True)
        await _approved_comments(blog, whole, 1500, chain=True)
        feed = await blog.api.get(f"{whole['url']}/comments.atom")
        assert feed.status_code == 200
        entries = _parse(feed.content, "atom10").entries
        assert len(entries) == 100 and entries[-1].title == "1.1.1.….1.1. https://remote.example/users/ann"
        sizes = []
        for post in (half, whole):
            page = await blog.api.get(post["url"], headers={"Accept": "text/html"})
            assert page.status_code == 200 and page.text.count('class="comment') >= 750
            assert page.text.count('<ul class="answers">') <= 8
            sizes.append(len(page.content))
        assert sizes[1] < 2.2 * sizes[0], sizes


async def test_feeds_drop_control_characters_and_escape_the_content_warning(
        database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        controls = "".join(chr(c) for c in (*range(1, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))
        changed = await blog.api.patch("/api/v1/settings", json={
            "display_name": f"Blogg{controls}", "summary": f"Om{controls} allt"})
        assert changed.status_code == 200, changed.text
        post = await blog.post(f"Text{controls} här.", title=f"Rubrik{controls}",
                               summary='<img src=x onerror="alert(1)"> & <b>spoiler</b>')
        await _approved_comments(blog, post, 2, text=f"Svar{controls}")
        for path, version in (("/feed.atom", "atom10"), ("/feed.rss", "rss20"),
                              (f"/posts/{post['id']}/comments.atom", "atom10")):
            response = await blog.api.get(path)
            assert not any(c in response.text for c in controls), path
            feed = _parse(response.content, version)
            assert feed.entries, path
        rss = (await blog.api.get("/feed.rss")).text
        # The RSS description is HTML carried as text: the warning shows as text, never as markup
        assert '&amp;lt;img src=x onerror=&amp;quot;alert(1)&amp;quot;&amp;gt;' in rss
        assert "&lt;img" not in rss and "&lt;b&gt;spoiler" not in rss
        description = _parse(rss.encode(), "rss20").entries[0].description
        assert "<img" not in description and "&lt;b&gt;spoiler&lt;/b&gt;" in description


async def test_tags_that_cannot_be_tags_are_404(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        await blog.post("Om #Ö-vik och #fediverse.")
        for tag in ("%00", "a%00b", "%01", "x%0Ay", "%ED%A0%80", "x" * 1000, "a%20b", "%F0%9F%92%A9"):
            for suffix in ("", "/feed.atom", "/feed.rss"):
                response = await blog.api.get(f"/tags/{tag}{suffix}",
                                              headers={"Accept": "text/html"})
                assert response.status_code == 404, (tag, suffix, response.status_code)
        for tag in ("%C3%B6-vik", "fediverse", "nothing_here"):
            assert (await blog.api.get(f"/tags/{tag}")).status_code == 200
            assert (await blog.api.get(f"/tags/{tag}/feed.rss")).status_code == 200
