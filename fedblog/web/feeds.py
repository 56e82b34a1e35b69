"""Feeds for feed readers: Atom and RSS of the posts (all, or one tag's), Atom of a post's
comments. Rendered from Jinja templates; ETag and Last-Modified answer 304 when unchanged.

Bounded cost (issue 14): the comment feed lists the newest COMMENT_FEED_SIZE comments and is
kept rendered in memory, keyed by the page cache's validator of its post (which changes with
every change the feed shows), so a busy thread is rendered once per change, not per request.
Characters XML 1.0 cannot carry (control characters, lone surrogates) are dropped from every
feed, and comment numbers are shortened as on the post page."""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.html import excerpt
from fedblog.blog.threads import build_thread, walk
from fedblog.models import Comment, RemoteActor
from fedblog.web.dates import http_date
from fedblog.web.errors import gone, not_found
from fedblog.web.front import tag_param
from fedblog.web.pagecache import ThreadEntry, page_cache
from fedblog.web.post_page import short_number
from fedblog.web.responses import services
from fedblog.web.templating import TEMPLATES, cached_response, not_modified

FEED_SIZE = 20
COMMENT_FEED_SIZE = 100
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
# An empty blog's feed still needs an <updated>; a fixed one keeps its ETag stable.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FEED_HEADERS = {"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"}
# Not allowed in XML 1.0 (C0 controls but tab, LF, CR; surrogates; U+FFFE/U+FFFF), or only
# "discouraged" and never meant in text (DEL, C1 controls): a feed reader must never choke.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_text(body: str) -> str:
    return _NOT_XML.sub("", body)


def _render(template: str, request: Request, updated: datetime | None, **context: object) -> bytes:
    runtime = services(request).runtime
    body = TEMPLATES.get_template(template).render(
        urls=runtime.urls, updated=updated or EPOCH, **context)
    return xml_text(body).encode()


def _feed(request: Request, template: str, media_type: str, updated: datetime | None,
          **context: object) -> Response:
    body = _render(template, request, updated, **context)
    return cached_response(request, body, media_type, last_modified=updated, headers=FEED_HEADERS)


async def _posts_feed(request: Request, template: str, media_type: str, suffix: str) -> Response:
    tag = tag_param(request)
    if isinstance(tag, Response):
        return tag
    blog = services(request)
    urls = blog.runtime.urls
    feed = await blog.feeds.posts(limit=FEED_SIZE, tag=tag)
    settings = feed.settings
    page_url = urls.tag(tag) if tag else urls.home
    title = f"#{tag} · {settings.display_name}" if tag else settings.display_name
    # RSS <description> is HTML carried as text: the content warning, plain text, is made HTML
    # here (escaped once) and the template escapes it again for XML.
    warnings = {post.id: html.escape(post.summary) for post in feed.posts if post.summary}
    return _feed(request, template, media_type, feed.updated, settings=settings, posts=feed.posts,
                 title=title, page_url=page_url, feed_url=page_url.rstrip("/") + suffix,
                 language=settings.default_language, warnings=warnings)


async def posts_atom(request: Request) -> Response:
    return await _posts_feed(request, "feeds/posts.atom.xml", ATOM, "/feed.atom")


async def posts_rss(request: Request) -> Response:
    return await _posts_feed(request, "feeds/posts.rss.xml", RSS, "/feed.rss")


def _name(comment: Comment, actor: RemoteActor | None, blog_name: str) -> str:
    if comment.is_author:
        return blog_name
    if actor is None:
        return comment.actor_id
    return actor.name or actor.handle


@dataclass
class CommentFeeds:
    """Rendered comment feeds of this process, by (post id, validator); least recently used
    out first, at most `max_bytes` in all. `renders` counts the misses."""

    max_bytes: int = 16 * 1024 * 1024
    renders: int = 0
    _bodies: OrderedDict[tuple[int, str], bytes] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def get(self, key: tuple[int, str]) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def keep(self, key: tuple[int, str], body: bytes) -> None:
        if len(body) > self.max_bytes // 4 or key in self._bodies:
            return
        self._bodies[key] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, dropped = self._bodies.popitem(last=False)
            self._bytes -= len(dropped)


def comment_feeds(request: Request) -> CommentFeeds:
    found: CommentFeeds | None = getattr(request.app.state, "comment_feeds", None)
    if found is None:
        found = request.app.state.comment_feeds = CommentFeeds()
    return found


async def _render_comments(request: Request, entry: ThreadEntry) -> bytes:
    blog = services(request)
    urls = blog.runtime.urls
    post = entry.state.post
    feed = await blog.feeds.comments(post.id)
    settings, comments, actors = feed.settings, feed.comments, feed.actors
    by_id = {c.id: c for c in comments}
    # Numbered over the whole thread (iteratively), then only the newest are listed.
    nodes = sorted(walk(build_thread(comments)), key=lambda n: n.comment.id,
                   reverse=True)[:COMMENT_FEED_SIZE]
    listed = [n.comment for n in nodes]
    names = {c.id: _name(c, actors.get(c.actor_id), settings.display_name) for c in listed}
    parents = {c.id: by_id[c.parent_comment_id].ap_id if c.parent_comment_id in by_id
               else urls.post(post.id) for c in listed}
    numbers = {n.comment.id: short_number(n) for n in nodes}
    title = post.title or excerpt(post.content_text, 80)
    return _render("feeds/comments.atom.xml", request, feed.updated, settings=settings,
                   post=post, nodes=nodes, actors=actors, names=names, parents=parents,
                   numbers=numbers, title=f"{title} – {settings.display_name}",
                   feed_url=f"{urls.post(post.id)}/comments.atom")


async def comments_atom(request: Request) -> Response:
    """From the page cache's validator: 304 with no query, the kept bytes, or rendered once."""
    post_id: int = request.path_params["id"]
    cache = page_cache(request)
    entry = await cache.thread(post_id)
    if entry is None:
        return not_found(request)
    if entry.state.post.is_deleted:
        return gone(request)
    etag = entry.etag[:-1] + '-comments-atom"'
    changed = entry.state.changed_at
    headers = {**FEED_HEADERS, "Cache-Control": "public, no-cache", "ETag": etag,
               "Last-Modified": http_date(changed)}
    if not_modified(request, etag, changed):
        return Response(status_code=304, headers=headers)
    feeds = comment_feeds(request)
    key = (post_id, etag)
    body = feeds.get(key) if cache.live else None
    if body is None:
        feeds.renders += 1
        body = await _render_comments(request, entry)
        if cache.live:
            feeds.keep(key, body)
    return Response(body, media_type=ATOM, headers=headers)


routes = [
    Route("/feed.atom", posts_atom),
    Route("/feed.rss", posts_rss),
    Route("/tags/{tag:str}/feed.atom", posts_atom),
    Route("/tags/{tag:str}/feed.rss", posts_rss),
    Route("/posts/{id:int}/comments.atom", comments_atom),
]
