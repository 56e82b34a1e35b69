"""The moderation queue as the author reads it: a page of comments with their thread context,
authors, posts and provenance, and one comment's full record. Read with a fixed number of
queries whatever the page size: each kind of row is fetched for the whole page with `= ANY`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedblog.blog.moderation import TRANSITIONS
from fedblog.federation.hosts import url_host_or_empty
from fedblog.models import Comment, Post, RemoteActor
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import posts as posts_store
from fedblog.storage import reactions as reactions_store
from fedblog.storage.comments import CommentDetail
from fedblog.storage.db import Connection, Database

CONTEXT_DEPTH = 3

__all__ = ["CONTEXT_DEPTH", "CommentDetail", "CommentRecord", "ModerationQueue", "QueueItem",
           "QueuePage", "actions_for"]


def actions_for(comment: Comment) -> list[str]:
    """What the author may do with the comment now; never publish a private reply."""
    return [action.value for action, (allowed, target) in TRANSITIONS.items()
            if comment.state in allowed and not (comment.private and target == "approved")]


@dataclass(frozen=True)
class QueueItem:
    """One comment as the author judges it: where it sits, who sent it, from where."""

    comment: Comment
    post: Post | None
    ancestors: list[Comment]      # oldest first, at most the context asked for
    more_above: bool
    detail: CommentDetail | None  # provenance; None when not asked for
    actor: RemoteActor | None     # as last fetched, even when the actor is gone since
    actor_gone: bool
    actions: list[str]

    @property
    def server(self) -> str:
        """The commenter's host in its one spelling: what "block the whole server" blocks."""
        return url_host_or_empty(self.comment.actor_id)

    @property
    def parent(self) -> Comment | None:
        """The comment this one answers, when it is stored."""
        if self.comment.parent_comment_id is None or not self.ancestors:
            return None
        nearest = self.ancestors[-1]
        return nearest if nearest.id == self.comment.parent_comment_id else None

    @property
    def present_actor(self) -> RemoteActor | None:
        """The actor unless it deleted itself."""
        return None if self.actor_gone else self.actor


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    names: dict[str, RemoteActor]  # every author on the page, ancestors' included
    older: int | None              # `before` for the next page, when there may be one


@dataclass(frozen=True)
class CommentRecord:
    """A comment with everything the desk and the API show of it."""

    item: QueueItem
    names: dict[str, RemoteActor]
    history: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    likes: int
    shares: int

    @property
    def received_at(self) -> datetime | None:
        return self.item.detail.received_at if self.item.detail else None


class ModerationQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, *, state: str | None, post_id: int | None, before: int | None,
                   limit: int, context: int = CONTEXT_DEPTH,
                   provenance: bool = True) -> QueuePage:
        """The newest comments (in `state`, on `post_id`) older than `before`: at most
        3 + `context` queries (+1 with provenance)."""
        async with self.db.connection() as conn:
            rows = await comments_store.list_filtered(conn, state=state, post_id=post_id,
                                                      limit=limit, before_id=before)
            items, names = await _items(conn, rows, context, provenance)
        return QueuePage(items, names, rows[-1].id if len(rows) == limit else None)

    async def item(self, comment: Comment, *, context: int = 1) -> QueueItem:
        """One comment as a page would show it (after a decision, say)."""
        async with self.db.connection() as conn:
            [found], _ = await _items(conn, [comment], context, False)
        return found

    async def comment(self, comment_id: int) -> Comment | None:
        async with self.db.connection() as conn:
            return await comments_store.get(conn, comment_id)

    async def record(self, comment_id: int, *, context: int = CONTEXT_DEPTH
                     ) -> CommentRecord | None:
        """The comment with its context, provenance, moderation history, earlier versions and
        reaction counts; None when there is no such comment."""
        async with self.db.connection() as conn:
            found = await comments_store.get(conn, comment_id)
            if found is None:
                return None
            [item], names = await _items(conn, [found], context, True)
            history = await comments_store.history(conn, comment_id)
            versions = await comments_store.versions(conn, comment_id)
            counts = await reactions_store.counts(conn, found.ap_id)
        return CommentRecord(item, names, history, versions, counts["like"], counts["announce"])


async def _ancestors(conn: Connection, comments: list[Comment], depth: int
                     ) -> dict[int, Comment]:
    """Every stored comment up to `depth` levels above `comments`: one query per level."""
    known: dict[int, Comment] = {}
    level = comments
    for _ in range(depth):
        wanted = sorted({c.parent_comment_id for c in level if c.parent_comment_id is not None}
                        - known.keys())
        if not wanted:
            break
        found = await comments_store.get_many(conn, wanted)
        known.update(found)
        level = list(found.values())
    return known


def _chain(comment: Comment, known: dict[int, Comment], depth: int) -> tuple[list[Comment], bool]:
    chain: list[Comment] = []
    parent_id = comment.parent_comment_id
    while parent_id is not None and len(chain) < depth:
        parent = known.get(parent_id)
        if parent is None:
            break
        chain.append(parent)
        parent_id = parent.parent_comment_id
    return list(reversed(chain)), parent_id is not None


async def _items(conn: Connection, comments: list[Comment], depth: int, provenance: bool
                 ) -> tuple[list[QueueItem], dict[str, RemoteActor]]:
    if not comments:
        return [], {}
    known = await _ancestors(conn, comments, depth)
    chains = {c.id: _chain(c, known, depth) for c in comments}
    people = sorted({c.actor_id for c in comments}
                    | {a.actor_id for chain, _ in chains.values() for a in chain})
    actors = await actors_store.get_many_marked(conn, people)
    posts = await posts_store.get_many(conn, sorted({c.post_id for c in comments}))
    details = (await comments_store.details_many(conn, [c.id for c in comments])
               if provenance else {})
    items = []
    for comment in comments:
        ancestors, more = chains[comment.id]
        actor, gone = actors.get(comment.actor_id, (None, False))
        items.append(QueueItem(comment, posts.get(comment.post_id), ancestors, more,
                               details.get(comment.id), actor, gone, actions_for(comment)))
    return items, {actor_id: actor for actor_id, (actor, _) in actors.items()}
