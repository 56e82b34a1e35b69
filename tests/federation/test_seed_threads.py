"""The seed blogs' comment sections, replayed as signed replies from several servers.

Each commenter is one actor; commenters are spread over three peer servers. Every reply is
approved by the author through the API, the author's own answers are posted through the API,
and the result must have the seeds' shape — count, nesting, author marks — with every
character intact, in the API, in the ActivityPub collections and on the page.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor
from tests.seeds import SEED_NAMES, SeedComment, commenters, load_seed


def _as_html(body: str) -> str:
    paragraphs = body.split("\n\n")
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def _as_markdown(body: str) -> str:
    """The author's answers go through Markdown: escape what Markdown would interpret."""
    escaped = re.sub(r"([\\`*_{}\[\]<>#+\-.!|])", r"\\\1", body)
    return escaped.replace("\n\n", "\0").replace("\n", "  \n").replace("\0", "\n\n")


def _words(text: str) -> str:
    return " ".join(text.split())


class _ThreadShape(HTMLParser):
    """Reads (number, nesting depth, is-author) of every comment <li> on the post page.
    Only ol.thread and ul.answers nest; other lists (in comments, say) are kept on a stack so
    their closing tags do not count."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: list[bool] = []
        self.items: list[tuple[str, int, bool]] = []
        self.count: str | None = None
        self._in_count = False

    @property
    def depth(self) -> int:
        return sum(self.lists)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "li" and "comment" in classes:
            self.items.append((found["data-number"] or "", self.depth, "by-author" in classes))
        if tag in ("ol", "ul"):
            self.lists.append(bool({"thread", "answers"} & set(classes)))
        self._in_count = tag == "span" and "comment-count" in classes

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ol", "ul") and self.lists:
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        if self._in_count:
            self.count = data
            self._in_count = False


async def _replay(blog: BlogServer, peers: list[Peer], name: str) -> dict[str, Any]:
    seed = load_seed(name)
    post = await blog.post(seed.body_markdown, title=seed.title, language="sv")
    actors: dict[str, PeerActor] = {}
    for index, author in enumerate(commenters(seed)):
        actor = peers[index % len(peers)].add_actor(f"{name.replace('-', '')}c{index}")
        actor.extra["name"] = author
        actors[author] = actor
    ids: dict[str, int] = {}
    ap_ids: dict[str, str] = {}
    for comment in seed.comments:
        parent_ap = ap_ids[comment.parent] if comment.parent else post["ap_id"]
        if comment.is_post_author:
            answer = await blog.api.post(f"/api/v1/comments/{ids[comment.parent or '']}/replies",
                                         json={"markdown": _as_markdown(comment.body)})
            assert answer.status_code == 201, answer.text
            ids[comment.number], ap_ids[comment.number] = answer.json()["id"], answer.json()["ap_id"]
            continue
        actor = actors[comment.author]
        create = actor.create_note(in_reply_to=parent_ap, content=_as_html(comment.body))
        response = await actor.post(blog.inbox, create)
        assert response.status_code == 202, (comment.number, response.text)
        note_id = create["object"]["id"]
        await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", note_id,
                              expect="pending")
        comment_id = await blog.wait_until("SELECT id FROM comments WHERE ap_id = $1", note_id,
                                           expect=await _id_of(blog, note_id))
        approved = await blog.api.post(f"/api/v1/comments/{comment_id}/approve")
        assert approved.status_code == 200
        ids[comment.number], ap_ids[comment.number] = comment_id, note_id
    return {"seed": seed, "post": post, "ids": ids, "ap_ids": ap_ids}


async def _id_of(blog: BlogServer, ap_id: str) -> int:
    async with blog.services.runtime.db.connection() as conn:
        return int(await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1", ap_id))


def _expected_text(comment: SeedComment) -> str:
    return _words(comment.body)


@pytest.mark.parametrize("name", SEED_NAMES)
async def test_seed_thread_keeps_its_shape_and_every_character(database_url: str, name: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="umea") as a, Peer(name="sundsvall") as b, \
            Peer(name="lulea") as c:
        replay = await _replay(blog, [a, b, c], name)
        seed, post, ids = replay["seed"], replay["post"], replay["ids"]
        number_of = {comment_id: number for number, comment_id in ids.items()}

        # The API: every comment approved, parents as on the page, text intact
        listed = (await blog.api.get("/api/v1/comments", params={"post_id": post["id"],
                                                                  "limit": 100})).json()["items"]
        assert len(listed) == len(seed.comments)
        by_number = {number_of[item["id"]]: item for item in listed}
        for comment in seed.comments:
            item = by_number[comment.number]
            assert item["state"] == "approved"
            assert item["is_author"] == comment.is_post_author
            expected_parent = ids[comment.parent] if comment.parent else None
            assert item["parent_comment_id"] == expected_parent, comment.number
            assert item["depth"] == comment.depth
            assert _words(item["content_text"]) == _expected_text(comment), comment.number
            if not comment.is_post_author:
                assert item["name"] == comment.author

        # ActivityPub: replies holds the whole visible thread on its embedded first page
        # (Mastodon reads nothing else), parents before answers; context the post, then that
        note = (await blog.fetch_as2(post["ap_id"])).json()
        assert note["replies"]["totalItems"] == len(seed.comments)
        listed = note["replies"]["first"]["orderedItems"]
        assert len(listed) == len(seed.comments) == len(set(listed))
        context = (await blog.fetch_as2(f"{post['ap_id']}/context")).json()
        assert context["totalItems"] == len(seed.comments) + 1
        assert context["first"]["orderedItems"] == [post["ap_id"], *listed]

        # The page: the count, the numbering and nesting, the author's marks, the text
        page = await blog.api.get(post["url"], headers={"Accept": "text/html"})
        shape = _ThreadShape()
        shape.feed(page.text)
        assert shape.count == str(len(seed.comments))
        assert shape.items == [(c.number, c.depth + 1, c.is_post_author) for c in seed.comments]
        assert "inläggsförfattare" in page.text
        page_text = _words(html.unescape(re.sub(r"<[^>]+>", " ", page.text)))
        for comment in seed.comments:
            assert _expected_text(comment)[-60:] in page_text, comment.number
