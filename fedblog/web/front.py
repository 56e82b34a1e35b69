"""The front page and the tag pages: the latest posts with their counts, paged by `before`.
Kept in memory (the page cache's listings) until anything they show changes."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.web.errors import not_found
from fedblog.web.i18n import LANGUAGES, page_language
from fedblog.web.pagecache import page_cache
from fedblog.web.responses import services
from fedblog.web.templating import (
    HTML_TYPE,
    PAGE_HEADERS,
    FeedLink,
    PageMeta,
    blog_feeds,
    cached_response,
    render_page,
)

PAGE_SIZE = 20
# What a hashtag can be (blog/html.py's characters, hyphens inside): anything else in /tags/…
# (NUL, control characters, lone surrogates, 10 kB of text) is no tag, and a 404 before any query.
_TAG = re.compile(r"[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f-]{1,100}")


def tag_param(request: Request) -> str | None | Response:
    """The path's tag (None on the front page), or the 404 page when it cannot be a tag."""
    tag: str | None = request.path_params.get("tag")
    if tag is not None and not _TAG.fullmatch(tag):
        return not_found(request)
    return tag


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


async def home(request: Request) -> Response:
    """The front page and tag pages: from memory until any post, its counts, the settings or
    the blocks change (NOTIFY), else rendered and kept."""
    tag = tag_param(request)
    if isinstance(tag, Response):
        return tag
    cache = page_cache(request)
    before = _before(request)
    key = f"{tag or ''}|{before or ''}"
    body = cache.listing(key)
    if body is None:
        since = cache.seq
        body = await render_home(request, before, tag)
        cache.keep_listing(key, since, body)
    return cached_response(request, body, HTML_TYPE, headers=PAGE_HEADERS)


async def render_home(request: Request, before: int | None, tag: str | None) -> bytes:
    blog = services(request)
    urls = blog.runtime.urls
    front = await blog.posts.front_page(limit=PAGE_SIZE, before=before, tag=tag)
    settings, listing = front.settings, front.listing
    language = page_language(settings.default_language)
    feeds = blog_feeds(urls, settings)
    title = settings.display_name
    if tag:
        feeds = (FeedLink("application/atom+xml", f"#{tag} (Atom)",
                          f"{urls.tag(tag)}/feed.atom"), *feeds)
        title = f"#{tag} · {settings.display_name}"
    meta = PageMeta(title=title, description=settings.summary or title,
                    url=urls.tag(tag) if tag else urls.home, as2_url=urls.actor,
                    locale=LANGUAGES[language].locale, feeds=feeds)
    return render_page(blog.runtime, "home.html", language, settings=settings,
                       posts=listing.posts, stats=listing.stats, older=listing.older, tag=tag,
                       paged=before is not None, meta=meta).encode()


routes = [
    Route("/", home),
    Route("/tags/{tag:str}", home),
]
