"""What the feeds show: the latest posts (all, or one tag's) and a post's visible comments,
each with the moment it last changed (for Last-Modified). A fixed number of queries each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fedblog.blog.blocklist import Blocklist
from fedblog.blog.conversation import visible_thread
from fedblog.models import BlogSettings, Comment, Post, RemoteActor
from fedblog.storage import comments as comments_store
from fedblog.storage import posts as posts_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Database


@dataclass(frozen=True)
class PostsFeed:
    settings: BlogSettings
    posts: list[Post]
    updated: datetime | None       # None for a blog that never had a post


@dataclass(frozen=True)
class CommentsFeed:
    settings: BlogSettings
    comments: list[Comment]        # visible ones, parents before their answers
    actors: dict[str, RemoteActor]
    updated: datetime


class Feeds:
    def __init__(self, db: Database, blocklist: Blocklist) -> None:
        self.db = db
        self.blocklist = blocklist

    async def posts(self, *, limit: int, tag: str | None) -> PostsFeed:
        """Three queries."""
        async with self.db.connection() as conn:
            settings = await settings_store.get_settings(conn)
            posts = await posts_store.list_live(conn, limit=limit, tag=tag)
            updated = await posts_store.latest_change(conn)
        return PostsFeed(settings, posts, updated)

    async def comments(self, post_id: int) -> CommentsFeed:
        """Three queries."""
        async with self.db.connection() as conn:
            settings = await settings_store.get_settings(conn)
            thread = await visible_thread(conn, post_id, self.blocklist)
            updated = await comments_store.thread_changed_at(conn, post_id)
        return CommentsFeed(settings, thread.comments, thread.actors, updated)
