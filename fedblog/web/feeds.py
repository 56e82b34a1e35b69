"""Feeds for feed readers: Atom and RSS of the posts (all, or one tag's), Atom of a post's
comments. Rendered from Jinja templates; ETag and Last-Modified answer 304 when unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.html import excerpt
from fedblog.blog.threads import build_thread, walk
from fedblog.models import Comment, RemoteActor
from fedblog.web.post_page import live_post
from fedblog.web.responses import services
from fedblog.web.templating import TEMPLATES, cached_response

FEED_SIZE = 20
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
# An empty blog's feed still needs an <updated>; a fixed one keeps its ETag stable.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FEED_HEADERS = {"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"}


def _feed(request: Request, template: str, media_type: str, updated: datetime | None,
          **context: object) -> Response:
    runtime = services(request).runtime
    body = TEMPLATES.get_template(template).render(
        urls=runtime.urls, updated=updated or EPOCH, **context)
    return cached_response(request, body.encode(), media_type, last_modified=updated,
                                 headers=FEED_HEADERS)


async def _posts_feed(request: Request, template: str, media_type: str, suffix: str) -> Response:
    blog = services(request)
    urls = blog.runtime.urls
    tag: str | None = request.path_params.get("tag")
    feed = await blog.feeds.posts(limit=FEED_SIZE, tag=tag)
    settings = feed.settings
    page_url = urls.tag(tag) if tag else urls.home
    title = f"#{tag} · {settings.display_name}" if tag else settings.display_name
    return _feed(request, template, media_type, feed.updated, settings=settings, posts=feed.posts,
                 title=title, page_url=page_url, feed_url=page_url.rstrip("/") + suffix,
                 language=settings.default_language)


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


async def comments_atom(request: Request) -> Response:
    blog = services(request)
    urls = blog.runtime.urls
    found = await live_post(request)
    if isinstance(found, Response):
        return found
    feed = await blog.feeds.comments(found.id)
    settings, comments, actors = feed.settings, feed.comments, feed.actors
    by_id = {c.id: c for c in comments}
    names = {c.id: _name(c, actors.get(c.actor_id), settings.display_name) for c in comments}
    parents = {c.id: by_id[c.parent_comment_id].ap_id if c.parent_comment_id in by_id
               else urls.post(found.id) for c in comments}
    nodes = sorted(walk(build_thread(comments)), key=lambda n: n.comment.id, reverse=True)
    title = found.title or excerpt(found.content_text, 80)
    return _feed(request, "feeds/comments.atom.xml", ATOM, feed.updated, settings=settings,
                 post=found, nodes=nodes, actors=actors, names=names, parents=parents,
                 title=f"{title} – {settings.display_name}",
                 feed_url=f"{urls.post(found.id)}/comments.atom")


routes = [
    Route("/feed.atom", posts_atom),
    Route("/feed.rss", posts_rss),
    Route("/tags/{tag:str}/feed.atom", posts_atom),
    Route("/tags/{tag:str}/feed.rss", posts_rss),
    Route("/posts/{id:int}/comments.atom", comments_atom),
]
