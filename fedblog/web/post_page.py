"""A post at /posts/<id>: the page with its thread for browsers (from the page cache while
nothing changed), the Note for ActivityPub clients (web/activitypub.py); and "reply from your
server", which sends the reader to their own server's reply page."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from fedblog.blog.display import blog_hrefs, comment_html
from fedblog.blog.html import excerpt
from fedblog.blog.threads import FlatItem, ThreadNode, build_thread, flatten
from fedblog.federation.webfinger import (
    HandleError,
    InteractionError,
    interaction_url,
    parse_handle,
)
from fedblog.models import BlogSettings, Post
from fedblog.urls import Urls
from fedblog.web import activitypub
from fedblog.web.dates import http_date
from fedblog.web.desk.session import same_origin
from fedblog.web.errors import gone, not_found
from fedblog.web.forms import read_form
from fedblog.web.i18n import og_locale, page_language
from fedblog.web.pagecache import ThreadEntry, page_cache
from fedblog.web.responses import services, wants_as2
from fedblog.web.templating import (
    HTML_TYPE,
    PAGE_HEADERS,
    FeedLink,
    PageMeta,
    blog_feeds,
    not_modified,
    render_page,
)


def post_meta(post: Post, urls: Urls, settings: BlogSettings) -> PageMeta:
    title = post.title or excerpt(post.content_text, 80)
    return PageMeta(
        title=f"{title} · {settings.display_name}",
        description=post.summary or excerpt(post.content_text, 200), url=urls.post(post.id),
        as2_url=urls.post(post.id), og_type="article",
        locale=og_locale(post.language),
        published=post.published_at, modified=post.updated_at, tags=post.hashtags,
        feeds=(FeedLink("application/atom+xml", f"{title} – comments (Atom)",
                        f"{urls.post(post.id)}/comments.atom"),
               *blog_feeds(urls, settings)),
    )


# A chain of answers deeper than this is shown flat at this depth, and its numbers are shortened
# ("1.1.1.….1.2"): a 1,500-deep chain makes a page linear in size, not quadratic.
MAX_NESTING = 8
NUMBER_HEAD, NUMBER_TAIL = 3, 2


def short_number(node: ThreadNode) -> str:
    """The comment's number, at most NUMBER_HEAD + NUMBER_TAIL parts and an ellipsis."""
    if node.depth < NUMBER_HEAD + NUMBER_TAIL:
        return node.number
    parts = node.number.split(".")
    return ".".join([*parts[:NUMBER_HEAD], "…", *parts[-NUMBER_TAIL:]])


def capped(items: list[FlatItem], max_nesting: int = MAX_NESTING) -> list[FlatItem]:
    """The flattened thread with nesting capped: below `max_nesting`, answers follow their
    parent in the same list. Opens and closes are recomputed from the capped depths."""
    depths = [min(item.depth, max_nesting) for item in items]
    found: list[FlatItem] = []
    for index, item in enumerate(items):
        depth = depths[index]
        following = depths[index + 1] if index + 1 < len(items) else 0
        opens = item.opens and item.depth < max_nesting
        found.append(FlatItem(item.node, depth, opens, 0 if opens else depth - following))
    return found


def _page_headers(entry: ThreadEntry) -> dict[str, str]:
    """The page's headers, made once per validator."""
    if entry.headers is None:
        entry.headers = {**PAGE_HEADERS, "Cache-Control": "public, no-cache", "ETag": entry.etag,
                         "Last-Modified": http_date(entry.state.changed_at)}
    return entry.headers


async def render_thread(request: Request, entry: ThreadEntry, *, reply_error: str | None = None,
                        reply_handle: str = "") -> str:
    """The post page, from the entry's post and settings and the thread as stored now
    (filtered by the entry's own copy of the block list, which its validator describes)."""
    blog = services(request)
    urls = blog.runtime.urls
    post, settings = entry.state.post, entry.site.settings
    thread = await blog.conversations.thread(post.id, entry.site.blocklist)
    comments = thread.comments
    thread_items = capped(flatten(build_thread(comments)))
    hrefs = blog_hrefs(urls.actor, urls.home)
    language = page_language(post.language, settings.default_language)
    return render_page(
        blog.runtime, "post.html", language,
        settings=settings, post=post, thread=thread_items,
        numbers={item.node.comment.id: short_number(item.node) for item in thread_items},
        shown={c.id: comment_html(c, hrefs, urls.base) for c in comments},
        comment_count=len(comments), actors=thread.actors,
        counts={"like": entry.state.likes, "announce": entry.state.boosts},
        reply_error=reply_error, reply_handle=reply_handle,
        meta=post_meta(post, urls, settings))


async def thread_page(request: Request, entry: ThreadEntry, *, reply_error: str | None = None,
                      reply_handle: str = "") -> Response:
    """The page of a live post: 304 from the validator alone, else the bytes from memory, else
    rendered (and kept)."""
    headers = _page_headers(entry)
    if reply_error is not None:
        html = await render_thread(request, entry, reply_error=reply_error,
                                   reply_handle=reply_handle)
        return Response(html.encode(), status_code=422, media_type=HTML_TYPE, headers=headers)
    if not_modified(request, entry.etag, entry.state.changed_at):
        return Response(status_code=304, headers=headers)
    cache = page_cache(request)
    body = cache.page(entry)
    if body is None:
        body = (await render_thread(request, entry)).encode()
        cache.keep(entry, body)
    return Response(body, media_type=HTML_TYPE, headers=headers)


async def post_page(request: Request, post_id: int, *, reply_error: str | None = None,
                    reply_handle: str = "") -> Response:
    """The page of post `post_id`, made from the cache's own reading (consistent with its
    validator): 404 when there is no such post, 410 once it is deleted."""
    entry = await page_cache(request).thread(post_id)
    if entry is None:
        return not_found(request)
    if entry.state.post.is_deleted:
        return gone(request)
    return await thread_page(request, entry, reply_error=reply_error, reply_handle=reply_handle)


async def post_document(request: Request) -> Response:
    """GET /posts/<id>: browsers get the page straight from the cache (no query while nothing
    changed); ActivityPub clients get the Note."""
    if wants_as2(request):
        return await activitypub.post(request)
    return await post_page(request, request.path_params["id"])


async def live_post(request: Request) -> Post | Response:
    """The post the path names, or the 404 or 410 page."""
    post = await services(request).posts.get(request.path_params["id"])
    if post is None:
        return not_found(request)
    return gone(request) if post.is_deleted else post


def _readers_own_page(target: str, handle: str) -> bool:
    """The reply page must be on the reader's own server: an http(s) URL whose host is the
    handle's host or a subdomain of it (Mastodon's LOCAL_DOMAIN/WEB_DOMAIN split), so the blog
    never sends a reader to a third site that some WebFinger document names."""
    try:
        _, handle_host = parse_handle(handle)
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except (HandleError, ValueError):
        return False
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        return False
    return host == handle_host or host.endswith("." + handle_host)


async def remote_reply(request: Request) -> Response:
    found = await live_post(request)
    if isinstance(found, Response):
        return found
    if not same_origin(request):
        # Only the post page's own form may ask: another site cannot use the blog to bounce
        # its visitors to a page of its choosing.
        return PlainTextResponse("Reply forms are accepted only from this blog's own pages.",
                                 status_code=403)
    try:
        handle = (await read_form(request, 16 * 1024)).get("handle", "").strip()
    except ValueError:
        return await post_page(request, found.id, reply_error="err_handle")
    blog = services(request)
    client = request.client.host if request.client else "-"
    if blog.reply_lookups.take(client, time.monotonic()) is not None:
        return await post_page(request, found.id, reply_error="err_busy", reply_handle=handle)
    runtime = blog.runtime
    try:
        target = await interaction_url(runtime.client, handle, runtime.urls.post(found.id),
                                       scheme=runtime.settings.scheme)
    except InteractionError as exc:
        return await post_page(request, found.id, reply_error=f"err_{exc.reason}",
                               reply_handle=handle)
    if not _readers_own_page(target, handle):
        return await post_page(request, found.id, reply_error="err_template",
                               reply_handle=handle)
    return RedirectResponse(target, status_code=303)


routes = [
    Route("/posts/{id:int}", post_document),
    Route("/posts/{id:int}/reply", remote_reply, methods=["POST"]),
]
