"""The author's posts: write, edit, delete — each change stored and federated in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fedblog.blog import fields as f
from fedblog.blog.html import hashtag_links, render_post
from fedblog.models import BlogSettings, Post
from fedblog.outbox import as2, publish
from fedblog.storage import outbox as outbox_store
from fedblog.storage import posts as posts_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection, Database
from fedblog.storage.posts import PostFields
from fedblog.urls import Urls

DRAFT_FIELDS = {"markdown", "title", "summary", "language"}
MAX_MARKDOWN = 200_000


class PostNotFound(LookupError):
    """No live post has that id."""


@dataclass(frozen=True)
class PostDraft:
    markdown: str
    title: str | None = None
    summary: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class PostStats:
    comments: int
    likes: int
    boosts: int


@dataclass(frozen=True)
class PostListing:
    """A page of live posts, newest first, with their counts (two queries)."""

    posts: list[Post]
    stats: dict[int, PostStats]
    older: int | None


@dataclass(frozen=True)
class FrontPage:
    """The front page or a tag's page: the settings and a listing (three queries)."""

    settings: BlogSettings
    listing: PostListing


def draft_fields(data: dict[str, Any], *, creating: bool) -> dict[str, str | None]:
    """The fields of a new post (`creating`) or of an edit, checked; InvalidField otherwise."""
    f.reject_unknown(data, DRAFT_FIELDS)
    fields: dict[str, str | None] = {}
    markdown = f.text(data, "markdown", required=creating, max_length=MAX_MARKDOWN,
                      allow_empty=False)
    if markdown is not None:
        fields["markdown"] = markdown
    for name, limit in (("title", 300), ("summary", 500)):
        if name in data:
            value = f.text(data, name, max_length=limit)
            fields[name] = value.strip() or None if value is not None else None
    language = f.language(data)
    if language is not None:
        fields["language"] = language
    return fields


class PostService:
    def __init__(self, db: Database, urls: Urls) -> None:
        self.db = db
        self.urls = urls

    def _fields(self, draft: PostDraft, language: str) -> PostFields:
        rendered = render_post(draft.markdown, title=draft.title)
        return PostFields(
            title=draft.title, markdown=draft.markdown,
            content_html=hashtag_links(rendered.html_with_title, self.urls.tag),
            body_html=hashtag_links(rendered.body_html, self.urls.tag),
            content_text=rendered.text, summary=draft.summary or None,
            language=draft.language or language, hashtags=rendered.hashtags,
        )

    async def create(self, draft: PostDraft) -> Post:
        async with self.db.transaction() as conn:
            settings = await settings_store.get_settings(conn)
            post = await posts_store.insert(conn, self._fields(draft, settings.default_language))
            note = as2.note(post, self.urls)
            activity = as2.wrap("Create", f"{note['id']}/activity", self.urls, note,
                                to=note["to"], cc=note["cc"], published=post.published_at)
            await publish.to_followers(conn, activity)
        return post

    async def edit(self, post_id: int, changes: dict[str, str | None]) -> Post:
        async with self.db.transaction() as conn:
            current = await posts_store.get(conn, post_id, for_update=True)
            if current is None or current.is_deleted:
                raise PostNotFound(post_id)
            draft = replace(
                PostDraft(current.markdown, current.title, current.summary, current.language),
                **changes,  # type: ignore[arg-type]  # keys checked by the API layer
            )
            post = await posts_store.update(conn, post_id, self._fields(draft, current.language))
            assert post is not None and post.updated_at is not None
            note = as2.note(post, self.urls)
            activity = as2.wrap("Update", self.urls.new_activity(), self.urls, note,
                                to=note["to"], cc=note["cc"], published=post.updated_at)
            await publish.to_followers(conn, activity)
        return post

    async def delete(self, post_id: int) -> Post:
        async with self.db.transaction() as conn:
            post = await posts_store.mark_deleted(conn, post_id)
            if post is None:
                raise PostNotFound(post_id)
            deleted_at = post.deleted_at or datetime.now(UTC)
            # The Create and Updates stop being served: the text is gone.
            await outbox_store.hide_object(conn, self.urls.post(post_id))
            tomb = as2.tombstone(self.urls.post(post_id), deleted_at)
            activity = as2.wrap("Delete", self.urls.new_activity(), self.urls, tomb,
                                to=[as2.PUBLIC], cc=[self.urls.followers], published=deleted_at)
            await publish.to_followers(conn, activity)
        return post

    async def get(self, post_id: int) -> Post | None:
        """The post, deleted or not; None when there never was one."""
        async with self.db.connection() as conn:
            return await posts_store.get(conn, post_id)

    async def live(self, *, limit: int, before: int | None) -> list[Post]:
        async with self.db.connection() as conn:
            return await posts_store.list_live(conn, limit=limit, before_id=before)

    async def count_live(self) -> int:
        async with self.db.connection() as conn:
            return await posts_store.count_live(conn)

    async def listing(self, *, limit: int, before: int | None,
                      tag: str | None = None) -> PostListing:
        async with self.db.connection() as conn:
            return await self._listing(conn, limit, before, tag)

    async def front_page(self, *, limit: int, before: int | None, tag: str | None) -> FrontPage:
        async with self.db.connection() as conn:
            settings = await settings_store.get_settings(conn)
            return FrontPage(settings, await self._listing(conn, limit, before, tag))

    async def _listing(self, conn: Connection, limit: int, before: int | None,
                       tag: str | None) -> PostListing:
        posts = await posts_store.list_live(conn, limit=limit, before_id=before, tag=tag)
        found = await posts_store.stats(conn, {p.id: self.urls.post(p.id) for p in posts})
        stats = {post_id: PostStats(*counts) for post_id, counts in found.items()}
        return PostListing(posts, stats, posts[-1].id if len(posts) == limit else None)
