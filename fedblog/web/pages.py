"""The blog for readers in a browser: the front page, tag pages, post pages with their threads,
and "reply from your server". Server-rendered HTML, no script; ETag and Last-Modified on what
changes rarely."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fedblog.blog.conversation import visible_thread
from fedblog.blog.display import blog_hrefs, comment_html, media_url
from fedblog.blog.html import excerpt
from fedblog.blog.threads import build_thread, flatten
from fedblog.federation.client import FetchError
from fedblog.federation.webfinger import JRD_ACCEPT, HandleError, parse_handle
from fedblog.inbox.ratelimit import TokenBuckets
from fedblog.models import BlogSettings, Post
from fedblog.runtime import Runtime
from fedblog.storage import posts as posts_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection
from fedblog.urls import Urls
from fedblog.web.pagecache import PageCache, ThreadEntry
from fedblog.web.responses import services, wants_as2

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGE_SIZE = 20
MAX_FORM_BYTES = 1024 * 1024
HTML_TYPE = "text/html; charset=utf-8"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
# Remote-reply lookups make the blog fetch from a server the reader names: a few per minute.
LOOKUPS = TokenBuckets(rate=0.2, burst=10)

TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "xml"]),
    enable_async=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _style_hash(declaration: str) -> str:
    digest = base64.b64encode(hashlib.sha256(declaration.encode()).digest()).decode()
    return f"'sha256-{digest}'"


# Markdown tables align their columns with these style attributes, and only these may apply.
TABLE_STYLES = " ".join(_style_hash(f"text-align:{side}") for side in ("left", "center", "right"))
# No script runs on the public pages, whatever a comment contains. Forms may be redirected to
# the reader's own server (remote reply), so form-action allows any web origin.
PAGE_HEADERS = {
    "Vary": "Accept",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'self' 'unsafe-hashes' {TABLE_STYLES}; "
        "img-src http: https: data:; media-src 'self'; form-action 'self' http: https:; base-uri 'none'; "
        "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


# ----------------------------------------------------------------------------- languages



@dataclass(frozen=True)
class Language:
    """A language the pages speak: labels, month names, OpenGraph locale (templates/i18n)."""

    locale: str
    months: tuple[str, ...]
    labels: dict[str, str]


def _load_languages() -> dict[str, Language]:
    found = {}
    for path in sorted((HERE / "templates" / "i18n").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[path.stem] = Language(data["locale"], tuple(data["months"]), data["labels"])
    return found


LANGUAGES = _load_languages()
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def page_language(*preferred: str | None) -> str:
    """The first of the languages whose labels we have (posts may be in any language)."""
    for language in preferred:
        base = (language or "").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def labels(language: str) -> dict[str, str]:
    return LANGUAGES[page_language(language)].labels


def long_date(moment: datetime, language: str = "en") -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.day} {LANGUAGES[page_language(language)].months[utc.month - 1]} {utc.year}"


def exact_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(moment: datetime, language: str = "en", now: datetime | None = None) -> str:
    """"3 days ago" up to a month, then the date: in the given language."""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    words = labels(language)
    if seconds < 60:
        return words["just_now"]
    if seconds >= 30 * 86400:
        return long_date(moment, language)
    for unit, size in UNITS:
        count = int(seconds // size)
        if count >= 1:
            return words[f"{unit}_ago" if count == 1 else f"{unit}s_ago"].format(n=count)
    return words["just_now"]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def comment_time(moment: datetime, language: str = "en") -> str:
    """An absolute date and time (UTC): a page kept in memory must not say "2 days ago"."""
    utc = moment.astimezone(UTC)
    return f"{long_date(utc, language)}, {utc:%H:%M}"


def close_items(count: int) -> Markup:
    """Ends `count` comments whose answers were listed inside them (see threads.flatten)."""
    return Markup("</ul>\n</li>\n" * count)


TEMPLATES.globals.update(long_date=long_date, exact_time=exact_time, ago=ago, iso=iso,
                         excerpt=excerpt, labels_for=labels, comment_time=comment_time,
                         close_items=close_items, media_url=media_url)


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*.css")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


TEMPLATES.globals["static_version"] = _static_version()


# ----------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class FeedLink:
    media_type: str
    title: str
    href: str


@dataclass(frozen=True)
class PageMeta:
    """What the <head> says about a page: OpenGraph, alternates, feeds."""

    title: str
    description: str
    url: str
    as2_url: str
    og_type: str = "website"
    locale: str = "en"
    published: datetime | None = None
    modified: datetime | None = None
    tags: tuple[str, ...] = ()
    feeds: tuple[FeedLink, ...] = ()


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when present (weak comparison), else If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if not since or last_modified is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= moment


def cached_response(request: Request, body: bytes, media_type: str, *, status: int = 200,
                    last_modified: datetime | None = None,
                    headers: dict[str, str] | None = None, etag: str | None = None) -> Response:
    """The body with an ETag (given, or its hash) and Last-Modified; 304 when the client has it."""
    found = {**(headers or {}), "Cache-Control": "public, no-cache"}
    if status == 200:
        etag = etag or entity_tag(body)
        found["ETag"] = etag
        if last_modified is not None:
            found["Last-Modified"] = http_date(last_modified)
        if not_modified(request, etag, last_modified):
            return Response(status_code=304, headers=found)
    return Response(body, status_code=status, media_type=media_type, headers=found)


def handle_of(runtime: Runtime) -> str:
    return f"@{runtime.urls.username}@{runtime.settings.domain}"


def render(request: Request, template: str, *, status: int = 200,
           last_modified: datetime | None = None, etag: str | None = None,
           **context: Any) -> Response:
    runtime = services(request).runtime
    language = context.pop("page_lang", "en")
    html = TEMPLATES.get_template(template).render(
        urls=runtime.urls, handle=handle_of(runtime), page_lang=language,
        t=labels(language), **context)
    return cached_response(request, html.encode(), "text/html; charset=utf-8", status=status,
                           last_modified=last_modified, headers=PAGE_HEADERS, etag=etag)


def blog_feeds(urls: Urls, settings: BlogSettings) -> tuple[FeedLink, ...]:
    return (FeedLink("application/atom+xml", f"{settings.display_name} (Atom)",
                     f"{urls.base}/feed.atom"),
            FeedLink("application/rss+xml", f"{settings.display_name} (RSS)",
                     f"{urls.base}/feed.rss"))


async def read_form_pairs(request: Request, limit: int = MAX_FORM_BYTES) -> list[tuple[str, str]]:
    """An application/x-www-form-urlencoded body as (name, value) pairs, bounded."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ValueError(f"form larger than {limit} bytes")
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The form's fields, the last value of each name."""
    return dict(await read_form_pairs(request, limit))


# ----------------------------------------------------------------------------- front page


@dataclass(frozen=True)
class PostStats:
    comments: int
    likes: int
    boosts: int


async def post_stats(conn: Connection, urls: Urls, posts: list[Post]) -> dict[int, PostStats]:
    """Counts for a page of posts, in one query."""
    found = await posts_store.stats(conn, {p.id: urls.post(p.id) for p in posts})
    return {post_id: PostStats(*counts) for post_id, counts in found.items()}


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def home(request: Request) -> Response:
    """The front page and tag pages: from memory until any post, its counts, the settings or
    the blocks change (NOTIFY), else rendered and kept."""
    cache = page_cache(request)
    before, tag = _before(request), request.path_params.get("tag")
    key = f"{tag or ''}|{before or ''}"
    body = cache.listing(key)
    if body is None:
        since = cache.seq
        body = await render_home(request, before, tag)
        cache.keep_listing(key, since, body)
    return cached_response(request, body, HTML_TYPE, headers=PAGE_HEADERS)


async def render_home(request: Request, before: int | None, tag: str | None) -> bytes:
    runtime = services(request).runtime
    urls = runtime.urls
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
        posts = await posts_store.list_live(conn, limit=PAGE_SIZE, before_id=before, tag=tag)
        stats = await post_stats(conn, urls, posts)
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
    older = posts[-1].id if len(posts) == PAGE_SIZE else None
    return TEMPLATES.get_template("home.html").render(
        urls=urls, handle=handle_of(runtime), page_lang=language, t=labels(language),
        settings=settings, posts=posts, stats=stats, older=older, tag=tag,
        paged=before is not None, meta=meta).encode()


# ----------------------------------------------------------------------------- post page


def _locale(language: str) -> str:
    base = language.split("-")[0].lower()
    return LANGUAGES[base].locale if base in LANGUAGES else language.replace("-", "_")


def post_meta(post: Post, urls: Urls, settings: BlogSettings, language: str) -> PageMeta:
    title = post.title or excerpt(post.content_text, 80)
    return PageMeta(
        title=f"{title} · {settings.display_name}",
        description=post.summary or excerpt(post.content_text, 200), url=urls.post(post.id),
        as2_url=urls.post(post.id), og_type="article",
        locale=_locale(post.language),
        published=post.published_at, modified=post.updated_at, tags=post.hashtags,
        feeds=(FeedLink("application/atom+xml", f"{title} – comments (Atom)",
                        f"{urls.post(post.id)}/comments.atom"),
               *blog_feeds(urls, settings)),
    )


def page_cache(request: Request) -> PageCache:
    """The process's post page cache (made by the app's lifespan; a bare one, never live and so
    never serving from memory, where no lifespan made one)."""
    found: PageCache | None = getattr(request.app.state, "pages", None)
    if found is None:
        found = PageCache(services(request).runtime.db, services(request).runtime.urls)
        request.app.state.pages = found
    return found


def _page_headers(entry: ThreadEntry) -> dict[str, str]:
    """The page's headers, made once per validator."""
    if entry.headers is None:
        entry.headers = {**PAGE_HEADERS, "Cache-Control": "public, no-cache", "ETag": entry.etag,
                         "Last-Modified": http_date(entry.state.changed_at)}
    return entry.headers


async def render_thread(request: Request, entry: ThreadEntry, *, reply_error: str | None = None,
                        reply_handle: str = "") -> str:
    """The post page, from the entry's post and settings and the thread as stored now."""
    runtime = services(request).runtime
    urls = runtime.urls
    post, settings, blocklist = entry.state.post, entry.site.settings, entry.site.blocklist
    async with runtime.db.connection() as conn:
        thread = await visible_thread(conn, post.id, blocklist)
    comments = thread.comments
    hrefs = blog_hrefs(urls.actor, urls.home)
    language = page_language(post.language, settings.default_language)
    return TEMPLATES.get_template("post.html").render(
        urls=urls, handle=handle_of(runtime), page_lang=language, t=labels(language),
        settings=settings, post=post, thread=flatten(build_thread(comments)),
        shown={c.id: comment_html(c, hrefs, urls.base) for c in comments},
        comment_count=len(comments), actors=thread.actors,
        counts={"like": entry.state.likes, "announce": entry.state.boosts},
        reply_error=reply_error, reply_handle=reply_handle,
        meta=post_meta(post, urls, settings, language))


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


async def post_page(request: Request, post: Post, *, reply_error: str | None = None,
                    reply_handle: str = "") -> Response:
    """The post page of `post` (as the caller found it live; the page is made from the cache's
    own reading, consistent with its validator)."""
    entry = await page_cache(request).thread(post.id)
    if entry is None:
        return not_found(request)
    if entry.state.post.is_deleted:
        return gone(request)
    return await thread_page(request, entry, reply_error=reply_error, reply_handle=reply_handle)


async def post_document(request: Request) -> Response:
    """GET /posts/<id>: browsers get the page straight from the cache (no query while nothing
    changed); ActivityPub clients get the Note from web/activitypub.py's route behind this one."""
    if wants_as2(request):
        from fedblog.web import activitypub  # it imports this module
        return await activitypub.post(request)
    return await post_page_by_id(request, request.path_params["id"])


async def post_page_by_id(request: Request, post_id: int) -> Response:
    entry = await page_cache(request).thread(post_id)
    if entry is None:
        return not_found(request)
    if entry.state.post.is_deleted:
        return gone(request)
    return await thread_page(request, entry)


# ----------------------------------------------------------------------------- remote reply


class InteractionError(Exception):
    """Why a reader's handle did not lead to their server's reply page (a label key)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def subscribe_template(document: Any) -> str | None:
    links = document.get("links") if isinstance(document, dict) else None
    for link in links if isinstance(links, list) else []:
        if (isinstance(link, dict) and link.get("rel") == SUBSCRIBE_REL
                and isinstance(link.get("template"), str) and "{uri}" in link["template"]):
            return str(link["template"])
    return None


async def interaction_url(runtime: Runtime, handle: str, object_url: str) -> str:
    """The reader's server's page for replying to `object_url`, from its WebFinger template
    (fetched signed and SSRF-guarded like every fetch)."""
    try:
        user, host = parse_handle(handle)
    except HandleError as exc:
        raise InteractionError("err_handle") from exc
    url = (f"{runtime.settings.scheme}://{host}/.well-known/webfinger?resource="
           f"{quote(f'acct:{user}@{host}', safe='@:')}")
    try:
        document = await runtime.client.fetch_json(url, accept=JRD_ACCEPT)
    except FetchError as exc:
        raise InteractionError("err_lookup") from exc
    template = subscribe_template(document)
    if template is None:
        raise InteractionError("err_template")
    target = template.replace("{uri}", quote(object_url, safe=""))
    if not target.startswith(("https://", "http://")):
        raise InteractionError("err_template")
    return target


async def live_post(request: Request) -> Post | Response:
    async with services(request).runtime.db.connection() as conn:
        post = await posts_store.get(conn, request.path_params["id"])
    if post is None:
        return not_found(request)
    return gone(request) if post.is_deleted else post


async def remote_reply(request: Request) -> Response:
    found = await live_post(request)
    if isinstance(found, Response):
        return found
    try:
        handle = (await read_form(request, 16 * 1024)).get("handle", "").strip()
    except ValueError:
        return await post_page(request, found, reply_error="err_handle")
    client = request.client.host if request.client else "-"
    if LOOKUPS.take(client, time.monotonic()) is not None:
        return await post_page(request, found, reply_error="err_busy", reply_handle=handle)
    runtime = services(request).runtime
    try:
        target = await interaction_url(runtime, handle, runtime.urls.post(found.id))
    except InteractionError as exc:
        return await post_page(request, found, reply_error=exc.key, reply_handle=handle)
    return RedirectResponse(target, status_code=303)


# ----------------------------------------------------------------------------- errors


def _message(request: Request, status: int, title: str, message: str) -> Response:
    runtime = services(request).runtime
    meta = PageMeta(title=title, description=message, url=runtime.urls.home,
                    as2_url=runtime.urls.actor)
    return render(request, "message.html", status=status, title=title, message=message,
                  meta=meta, settings=None)


def not_found(request: Request) -> Response:
    return _message(request, 404, "Not found", "There is nothing here.")


def gone(request: Request) -> Response:
    return _message(request, 410, "Deleted", "This post was deleted by its author.")


routes = [
    Route("/", home),
    Route("/tags/{tag:str}", home),
    Route("/posts/{id:int}", post_document),
    Route("/posts/{id:int}/reply", remote_reply, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
