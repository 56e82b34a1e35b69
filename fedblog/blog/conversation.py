"""The conversation as others see it: the visible thread of a post (for its page, its feed and
its ActivityPub collections) and the documents Mastodon and friends read — the post's Note with
the whole visible thread embedded in `replies`, `context`, the author's answers with their own
collections. One read each, a fixed number of queries whatever the thread's size."""

from __future__ import annotations

from dataclasses import dataclass

from fedblog.blog.blocklist import Blocklist
from fedblog.blog.threads import below, build_thread, visible, walk
from fedblog.models import Comment, Post, RemoteActor
from fedblog.outbox import as2
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import posts as posts_store
from fedblog.storage import reactions as reactions_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection, Database
from fedblog.urls import Urls

COLLECTIONS = ("replies", "likes", "shares", "context")


@dataclass(frozen=True)
class VisibleThread:
    """What a reader may see under a post: approved comments under approved parents, not from
    blocked actors, parents before their answers; with their authors as last fetched."""

    comments: list[Comment]
    actors: dict[str, RemoteActor]

    @property
    def ids(self) -> list[str]:
        return [c.ap_id for c in self.comments]


@dataclass(frozen=True)
class Served:
    """An ActivityStreams document and its status (410 with a Tombstone for deleted things)."""

    document: as2.Document
    status: int = 200


async def visible_thread(conn: Connection, post_id: int, blocklist: Blocklist) -> VisibleThread:
    comments, actors = await comments_store.approved_thread_with_actors(conn, post_id)
    if len(blocklist):
        comments = [c for c in comments if not blocklist.actor_blocked(c.actor_id)]
    ordered = [node.comment for node in walk(build_thread(visible(comments)))]
    return VisibleThread(ordered, actors)


class Conversations:
    """Reads of the post's and the answers' federated documents."""

    def __init__(self, db: Database, urls: Urls, blocklist: Blocklist) -> None:
        self.db = db
        self.urls = urls
        self.blocklist = blocklist

    async def thread(self, post_id: int, blocklist: Blocklist | None = None) -> VisibleThread:
        """The visible thread, filtered by `blocklist` (a page's own copy) or the live list."""
        async with self.db.connection() as conn:
            return await visible_thread(conn, post_id,
                                        self.blocklist if blocklist is None else blocklist)

    async def post_note(self, post: Post) -> as2.Document:
        """The Note of a live post, with counts and the visible thread as they are now."""
        async with self.db.connection() as conn:
            settings = await settings_store.get_settings(conn)
            reactions = await reactions_store.counts(conn, self.urls.post(post.id))
            thread = await visible_thread(conn, post.id, self.blocklist)
        return as2.note(post, self.urls, likes_count=reactions["like"],
                        shares_count=reactions["announce"], replies=thread.ids,
                        moderation_policy=settings.moderation_policy,
                        quote_policy=settings.quote_policy)

    async def post_collection(self, post_id: int, kind: str, *, page: bool,
                              offset: int) -> Served | None:
        """`replies` (the whole visible thread), `context` (the post, then the thread),
        `likes` and `shares` of a live post; None when there is no such post."""
        collection_id = f"{self.urls.post(post_id)}/{kind}"
        async with self.db.connection() as conn:
            post = await posts_store.get(conn, post_id)
            if post is None or post.is_deleted:
                return None
            if kind in ("likes", "shares"):
                return Served(await _reactions(conn, collection_id, self.urls.post(post_id), kind))
            thread = await visible_thread(conn, post_id, self.blocklist)
        items = thread.ids if kind == "replies" else [self.urls.post(post_id), *thread.ids]
        return Served(_paged(collection_id, items, page=page, offset=offset))

    async def answer(self, comment_id: int) -> Served | None:
        """An answer of the author's as a Note (410 and a Tombstone once deleted); None for
        anything else."""
        async with self.db.connection() as conn:
            found = await comments_store.get(conn, comment_id)
            if found is None or not found.is_author:
                return None
            if found.state == "deleted":
                tomb = as2.tombstone(found.ap_id, found.updated_at or found.published_at)
                return Served(as2.with_context(tomb), 410)
            parent = (await comments_store.get(conn, found.parent_comment_id)
                      if found.parent_comment_id else None)
            commenter = await actors_store.get(conn, parent.actor_id) if parent else None
            counts = await reactions_store.counts(conn, found.ap_id)
            thread = await visible_thread(conn, found.post_id, self.blocklist)
            settings = await settings_store.get_settings(conn)
        replies = [c.ap_id for c in below(thread.comments, found.id)]
        policy = as2.interaction_policy(self.urls, settings.moderation_policy,
                                        settings.quote_policy)
        note = as2.answer_note(found, self.urls, commenter=commenter, replies=replies,
                               policy=policy,
                               counts=as2.Counts(len(replies), counts["like"],
                                                 counts["announce"]))
        return Served(as2.with_context(note))

    async def answer_collection(self, comment_id: int, kind: str, *, page: bool,
                                offset: int) -> Served | None:
        """`replies`, `likes` and `shares` of a live answer of the author's."""
        if kind not in ("replies", "likes", "shares"):
            return None
        async with self.db.connection() as conn:
            found = await comments_store.get(conn, comment_id)
            if found is None or not found.is_author or found.state != "approved":
                return None
            collection_id = f"{found.ap_id}/{kind}"
            if kind != "replies":
                return Served(await _reactions(conn, collection_id, found.ap_id, kind))
            thread = await visible_thread(conn, found.post_id, self.blocklist)
        items = [c.ap_id for c in below(thread.comments, found.id)]
        return Served(_paged(collection_id, items, page=page, offset=offset))

    async def comment_anchor(self, comment_id: int) -> str | None:
        """Where a browser sees a comment: its place on the post page, while it is visible."""
        async with self.db.connection() as conn:
            found = await comments_store.get(conn, comment_id)
            if found is None or found.state != "approved":
                return None
            thread = await visible_thread(conn, found.post_id, self.blocklist)
        if all(c.id != comment_id for c in thread.comments):
            return None
        return f"{self.urls.post(found.post_id)}#comment-{comment_id}"


def _paged(collection_id: str, items: list[str], *, page: bool, offset: int) -> as2.Document:
    if page:
        return as2.with_context(as2.collection_page(collection_id, items, offset))
    return as2.with_context(as2.paged_collection(collection_id, items))


async def _reactions(conn: Connection, collection_id: str, object_id: str,
                     kind: str) -> as2.Document:
    reaction = "like" if kind == "likes" else "announce"
    actors = await reactions_store.actors(conn, object_id, reaction)
    counts = await reactions_store.counts(conn, object_id)
    return as2.with_context({"id": collection_id, "type": "Collection",
                             "totalItems": counts[reaction], "items": actors})
