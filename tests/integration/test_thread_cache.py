"""The post page from memory (web/pagecache.py, sql/0004_thread_version.sql): every change the
page shows changes its ETag and its body, in the process that made the change and in another
one sharing the database (NOTIFY), and nothing stale is served while the listener is down."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg

from fedblog.web.pagecache import PageCache
from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor

HTML = {"Accept": "text/html"}


def _twin(blog: BlogServer, database_url: str) -> BlogServer:
    """A second web process of the same blog (same domain, its own port, no queue workers)."""
    other = BlogServer(database_url, run_workers=False)
    other.settings = replace(other.settings, domain=blog.settings.domain)
    return other


def _cache(blog: BlogServer) -> PageCache:
    found: PageCache = blog.app.state.pages
    return found


async def _live(*blogs: BlogServer) -> None:
    for _ in range(200):
        if all(_cache(b).live for b in blogs):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("page cache listener did not come up")


class Page:
    """What one server shows for the post: its ETag and its body, as a browser revalidates."""

    def __init__(self, blog: BlogServer, url: str) -> None:
        self.blog, self.url = blog, url
        self.etag = ""
        self.body = ""

    async def load(self) -> None:
        response = await self.blog.api.get(self.url, headers=HTML)
        assert response.status_code == 200
        self.etag, self.body = response.headers["etag"], response.text
        # Served again from the validator alone
        again = await self.blog.api.get(self.url, headers={**HTML, "If-None-Match": self.etag})
        assert again.status_code == 304 and again.headers["etag"] == self.etag

    async def changes(self, check: Callable[[str], bool], what: str) -> None:
        """The old ETag no longer matches, and the new body passes `check` (NOTIFY reaches the
        other process within milliseconds; allow a second)."""
        for _ in range(50):
            response = await self.blog.api.get(self.url, headers={**HTML, "If-None-Match": self.etag})
            if response.status_code == 200 and check(response.text):
                assert response.headers["etag"] != self.etag, what
                assert response.text != self.body, what
                self.etag, self.body = response.headers["etag"], response.text
                # ... and the new page is what the cache keeps and serves
                kept = await self.blog.api.get(self.url, headers=HTML)
                assert kept.text == self.body and kept.headers["etag"] == self.etag, what
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.blog.port}: the page did not change after: {what}")

    async def unchanged(self, what: str) -> None:
        response = await self.blog.api.get(self.url, headers={**HTML, "If-None-Match": self.etag})
        assert response.status_code == 304, what


async def _reply(actor: PeerActor, blog: BlogServer, parent: str, text: str) -> dict[str, Any]:
    create = actor.create_note(in_reply_to=parent, content=f"<p>{text}</p>", mention=blog.actor)
    response = await actor.post(blog.inbox, create)
    assert response.status_code == 202, response.text
    return create


async def _comment_id(blog: BlogServer, ap_id: str) -> int:
    await blog.wait_until("SELECT count(*) FROM comments WHERE ap_id = $1", ap_id, expect=1)
    async with blog.services.runtime.db.connection() as conn:
        value: int = await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1", ap_id)
    return value


async def _processed(blog: BlogServer, activity_id: str) -> None:
    await blog.wait_until("SELECT state FROM inbox_activities WHERE activity_id = $1",
                          activity_id, expect="processed")


async def test_every_change_the_page_shows_changes_etag_and_body_in_both_processes(
        database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="commenters") as peer:
        other = _twin(blog, database_url)
        await other.start()
        await _live(blog, other)
        post = await blog.post("Om cachning.", title="Cache", language="en")
        pages = [Page(blog, f"/posts/{post['id']}"), Page(other, f"/posts/{post['id']}")]
        for page in pages:
            await page.load()

        async def each(what: str, check: Callable[[str], bool],
                       action: Callable[[], Awaitable[object]]) -> None:
            await action()
            for page in pages:
                await page.changes(check, what)
            # Both processes agree on the validator (a browser may reach either)
            assert pages[0].etag == pages[1].etag, what

        bob, carol = peer.add_actor("bob"), peer.add_actor("carol")
        bob.display_name, carol.display_name = "Bob Bygg", "Carol Ceder"

        # A held reply changes nothing the page shows
        create = await _reply(bob, blog, post["ap_id"], "Första kommentaren")
        await _processed(blog, create["id"])
        bob_comment = await _comment_id(blog, create["object"]["id"])
        for page in pages:
            await page.unchanged("a pending comment")

        async def moderate(action: str, comment_id: int) -> None:
            response = await blog.api.post(f"/api/v1/comments/{comment_id}/{action}")
            assert response.status_code == 200, response.text

        await each("approve", lambda b: "Första kommentaren" in b and "Bob Bygg" in b,
                   lambda: moderate("approve", bob_comment))
        await each("reject", lambda b: "Första kommentaren" not in b,
                   lambda: moderate("reject", bob_comment))
        await each("approve again", lambda b: "Första kommentaren" in b,
                   lambda: moderate("approve", bob_comment))
        await each("remove", lambda b: "Första kommentaren" not in b,
                   lambda: moderate("remove", bob_comment))
        await each("restore", lambda b: "Första kommentaren" in b,
                   lambda: moderate("restore", bob_comment))

        async def send(actor: PeerActor, activity: dict[str, Any]) -> None:
            response = await actor.post(blog.inbox, activity)
            assert response.status_code == 202, response.text
            await _processed(blog, activity["id"])

        # The commenter edits the comment
        await each("edit (Update)", lambda b: "Rättad kommentar" in b and "Första" not in b,
                   lambda: send(bob, bob.update_note(create, content="<p>Rättad kommentar</p>")))
        # A like, and its undo
        like = carol.like(post["ap_id"])
        await each("like", lambda b: "1 like<" in b, lambda: send(carol, like))
        await each("undo like", lambda b: "0 likes" in b, lambda: send(carol, carol.undo(like)))

        # The commenter's profile is refreshed (Update of the actor)
        async def rename() -> None:
            bob.display_name = "Robert Bygg"
            await send(bob, {"@context": "https://www.w3.org/ns/activitystreams",
                             "id": f"{bob.id}#updates/1", "type": "Update", "actor": bob.id,
                             "to": ["https://www.w3.org/ns/activitystreams#Public"],
                             "object": bob.document()})
        await each("profile refresh", lambda b: "Robert Bygg" in b and "Bob Bygg" not in b, rename)

        # An answer to bob, approved; then the commenter deletes the comment
        second = await _reply(carol, blog, create["object"]["id"], "Andra kommentaren")
        await _processed(blog, second["id"])
        carol_comment = await _comment_id(blog, second["object"]["id"])
        await each("approved answer", lambda b: "Andra kommentaren" in b and 'data-number="1.1"' in b,
                   lambda: moderate("approve", carol_comment))
        await each("delete (Delete)", lambda b: "Andra kommentaren" not in b,
                   lambda: send(carol, carol.delete_note(second)))

        # The author edits the post; the blog's settings change
        async def edit_post() -> None:
            response = await blog.api.patch(f"/api/v1/posts/{post['id']}",
                                            json={"markdown": "Om cachning, rättat."})
            assert response.status_code == 200
        await each("post edit", lambda b: "Om cachning, rättat." in b, edit_post)

        async def rename_blog() -> None:
            response = await blog.api.patch("/api/v1/settings", json={"display_name": "Nytt namn"})
            assert response.status_code == 200
        await each("settings", lambda b: "Nytt namn" in b, rename_blog)

        # A block hides the blocked commenter's comments
        async def block() -> None:
            response = await blog.api.post("/api/v1/blocks", json={"actor": bob.id})
            assert response.status_code == 201, response.text
        await each("block", lambda b: "Rättad kommentar" not in b and "Robert Bygg" not in b, block)

        # The pages came from memory in between, in both processes
        assert _cache(blog).hits > 0 and _cache(other).hits > 0
        await other.stop()
        await other.api.aclose()


async def test_a_domain_block_and_its_lifting_change_the_page(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="domain") as peer:
        await _live(blog)
        post = await blog.post("Domäner.", title="Block")
        ann = peer.add_actor("ann")
        create = await _reply(ann, blog, post["ap_id"], "Från domänen")
        comment_id = await _comment_id(blog, create["object"]["id"])
        assert (await blog.api.post(f"/api/v1/comments/{comment_id}/approve")).status_code == 200
        page = Page(blog, post["url"])
        await page.load()
        assert "Från domänen" in page.body
        response = await blog.api.post("/api/v1/blocks", json={"domain": peer.host})
        assert response.status_code == 201, response.text
        await page.changes(lambda b: "Från domänen" not in b, "domain block")
        # The comment stays removed after the lifting, but the page's validator moves on
        lifted = await blog.api.delete(f"/api/v1/blocks/{response.json()['id']}")
        assert lifted.status_code in (200, 204)
        before = page.etag
        for _ in range(50):
            again = await blog.api.get(post["url"], headers={**HTML, "If-None-Match": before})
            if again.status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert again.status_code == 200 and again.headers["etag"] != before


async def test_nothing_stale_while_the_listener_is_down(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        other = _twin(blog, database_url)
        await other.start()
        await _live(blog, other)
        post = await blog.post("Före.", title="Avbrott")
        pages = [Page(blog, f"/posts/{post['id']}"), Page(other, f"/posts/{post['id']}")]
        for page in pages:
            await page.load()
        # PostgreSQL drops every connection (a restart): both caches stop serving from memory
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            for _ in range(100):
                if not _cache(blog).live and not _cache(other).live:
                    break
                await asyncio.sleep(0.01)
            assert not _cache(blog).live and not _cache(other).live
            # A change made meanwhile, its NOTIFY unheard, is still seen
            await admin.execute("UPDATE posts SET body_html = '<p>Efter.</p>' WHERE id = $1",
                                post["id"])
        finally:
            await admin.close()
        for page in pages:
            await page.changes(lambda b: "Efter." in b, "change while the listener was down")
        # ... and the listeners come back
        await _live(blog, other)
        for page in pages:
            await page.unchanged("after reconnection")
        await other.stop()
        await other.api.aclose()


async def test_the_page_shows_absolute_times_and_no_recursion_limit(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        post = await blog.post("Djup tråd.", title="Djup")
        # A chain of 1,200 answers, each to the previous one (deeper than Python's recursion limit)
        async with blog.services.runtime.db.connection() as conn:
            await conn.execute(
                "INSERT INTO comments (id, ap_id, post_id, parent_comment_id, in_reply_to, actor_id,"
                " state, content_html, content_text, published_at)"
                " SELECT 1000000 + n, 'https://x.example/c/' || n, $1,"
                " CASE WHEN n > 0 THEN 1000000 + n - 1 END, '', 'https://x.example/u/x',"
                " 'approved', '<p>c' || n || '</p>', 'c', '2026-01-02T03:04:00Z'"
                " FROM generate_series(0, 1199) n", post["id"])
        response = await blog.api.get(post["url"], headers=HTML)
        assert response.status_code == 200
        assert response.text.count('<li id="comment-') == 1200
        assert len(re.findall(r"<li[\s>]", response.text)) == response.text.count("</li>")
        # nesting stops at 8 levels (deeper answers are shown at the cap)
        assert response.text.count('<ul class="answers">') == 8
        assert len(re.findall(r"<ul[\s>]", response.text)) == response.text.count("</ul>")
        assert re.search(r'<time datetime="2026-01-02T03:04:00Z" title="2026-01-02 03:04 UTC">'
                         r"2 January 2026, 03:04</time>", response.text)
        assert " ago<" not in response.text


async def test_front_and_tag_pages_from_memory_follow_new_posts_in_every_process(
    database_url: str,
) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, _twin(blog, database_url) as other:
        await _live(blog, other)
        await blog.post("Första inlägget. #höst", title="Ett")
        for server in (blog, other):
            for path in ("/", "/tags/höst"):
                first = await server.api.get(path, headers=HTML)
                assert first.status_code == 200 and "Ett" in first.text
        served = _cache(other).listing("|")
        assert served is not None and b"Ett" in served  # kept in memory
        # A post made through one process shows on the other's front and tag pages
        await blog.post("Andra inlägget. #höst", title="Två")
        for path in ("/", "/tags/höst"):
            for _ in range(100):
                page = await other.api.get(path, headers=HTML)
                if "Två" in page.text:
                    break
                await asyncio.sleep(0.01)
            assert "Två" in page.text, path
        # and at once on the process that made it (read your writes)
        edited = await blog.api.get("/", headers=HTML)
        assert "Två" in edited.text
        etag = edited.headers["etag"]
        assert (await blog.api.get("/", headers={**HTML, "If-None-Match": etag})).status_code == 304
