"""The blog for readers in a browser: the front page, tag pages, post pages with their threads,
and "reply from your server". Server-rendered HTML, no script; ETag and Last-Modified on what
changes rarely."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fedblog.blog.html import excerpt
from fedblog.blog.threads import build_thread
from fedblog.federation.client import FetchError
from fedblog.federation.webfinger import JRD_ACCEPT, HandleError, parse_handle
from fedblog.inbox.ratelimit import TokenBuckets
from fedblog.models import BlogSettings, Comment, Post
from fedblog.runtime import Runtime
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import posts as posts_store
from fedblog.storage import reactions as reactions_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection
from fedblog.urls import Urls
from fedblog.web.responses import services

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGE_SIZE = 20
MAX_FORM_BYTES = 1024 * 1024
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

# No script runs on the public pages, whatever a comment contains. Forms may be redirected to
# the reader's own server (remote reply), so form-action allows any web origin.
PAGE_HEADERS = {
    "Vary": "Accept",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src http: https: data:; "
        "form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


# ----------------------------------------------------------------------------- languages

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "comments": "comments", "comment": "comment", "author": "author",
        "likes": "likes", "like": "like", "boosts": "boosts", "boost": "boost",
        "edited": "edited", "tags": "Tags", "no_comments": "No comments yet.",
        "reply_heading": "Reply from your fediverse account",
        "reply_intro": "Comments here are replies from Mastodon and other fediverse servers. "
                       "Type your address and your own server opens this post for you to reply.",
        "your_address": "Your fediverse address", "reply_button": "Reply on my server",
        "or_search": "Or paste this address into your server's search:",
        "held": "Replies appear here once the author has approved them.",
        "original": "original", "older": "Older posts", "newest": "Newest posts",
        "no_posts": "No posts yet.", "follow": "Follow", "follow_tail":
        "from Mastodon or any other fediverse server.", "skip": "Skip to the content",
        "feeds": "Feeds", "site_nav": "Blog", "posts_heading": "Posts",
        "tagged": "Posts tagged", "just_now": "just now",
        "minute_ago": "{n} minute ago", "minutes_ago": "{n} minutes ago",
        "hour_ago": "{n} hour ago", "hours_ago": "{n} hours ago",
        "day_ago": "{n} day ago", "days_ago": "{n} days ago",
        "err_handle": "That does not look like a fediverse address: write it as @name@server.example.",
        "err_lookup": "Your server did not answer, or does not know that account.",
        "err_template": "Your server does not say where replies start. Search for the post's "
                        "address on your server instead.",
        "err_busy": "Too many lookups just now; wait a minute and try again.",
    },
    "sv": {
        "comments": "kommentarer", "comment": "kommentar", "author": "inläggsförfattare",
        "likes": "gillningar", "like": "gillning", "boosts": "delningar", "boost": "delning",
        "edited": "redigerad", "tags": "Taggar", "no_comments": "Inga kommentarer än.",
        "reply_heading": "Svara från ditt fediversum-konto",
        "reply_intro": "Kommentarerna här är svar från Mastodon och andra servrar i fediversum. "
                       "Skriv din adress så öppnar din egen server inlägget åt dig att svara på.",
        "your_address": "Din fediversum-adress", "reply_button": "Svara på min server",
        "or_search": "Eller klistra in den här adressen i sökrutan på din server:",
        "held": "Svaren visas här när författaren har godkänt dem.",
        "original": "original", "older": "Äldre inlägg", "newest": "Senaste inläggen",
        "no_posts": "Inga inlägg än.", "follow": "Följ", "follow_tail":
        "från Mastodon eller någon annan server i fediversum.", "skip": "Hoppa till innehållet",
        "feeds": "Flöden", "site_nav": "Bloggen", "posts_heading": "Inlägg",
        "tagged": "Inlägg taggade", "just_now": "nyss",
        "minute_ago": "för {n} minut sedan", "minutes_ago": "för {n} minuter sedan",
        "hour_ago": "för {n} timme sedan", "hours_ago": "för {n} timmar sedan",
        "day_ago": "för {n} dag sedan", "days_ago": "för {n} dagar sedan",
        "err_handle": "Det ser inte ut som en fediversum-adress: skriv den som @namn@server.exempel.",
        "err_lookup": "Din server svarade inte, eller känner inte till det kontot.",
        "err_template": "Din server berättar inte var svar börjar. Sök efter inläggets adress "
                        "på din server i stället.",
        "err_busy": "För många uppslag just nu; vänta en minut och försök igen.",
    },
}
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
           "september", "oktober", "november", "december"),
}
LOCALES = {"en": "en_GB", "sv": "sv_SE"}
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def page_language(*preferred: str | None) -> str:
    """The first of the languages whose labels we have (posts may be in any language)."""
    for language in preferred:
        base = (language or "").split("-")[0].lower()
        if base in LABELS:
            return base
    return "en"


def labels(language: str) -> dict[str, str]:
    return LABELS[page_language(language)]


def long_date(moment: datetime, language: str = "en") -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.day} {MONTHS[page_language(language)][utc.month - 1]} {utc.year}"


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


TEMPLATES.globals.update(long_date=long_date, exact_time=exact_time, ago=ago, iso=iso,
                         excerpt=excerpt, labels_for=labels)


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
        return "*" in tags or etag in tags
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
                    headers: dict[str, str] | None = None) -> Response:
    """The body with a strong ETag (its hash) and Last-Modified; 304 when the client has it."""
    found = {**(headers or {}), "Cache-Control": "public, no-cache"}
    if status == 200:
        etag = entity_tag(body)
        found["ETag"] = etag
        if last_modified is not None:
            found["Last-Modified"] = http_date(last_modified)
        if not_modified(request, etag, last_modified):
            return Response(status_code=304, headers=found)
    return Response(body, status_code=status, media_type=media_type, headers=found)


def handle_of(runtime: Runtime) -> str:
    return f"@{runtime.urls.username}@{runtime.settings.domain}"


def render(request: Request, template: str, *, status: int = 200,
           last_modified: datetime | None = None, **context: Any) -> Response:
    runtime = services(request).runtime
    language = context.pop("page_lang", "en")
    html = TEMPLATES.get_template(template).render(
        urls=runtime.urls, handle=handle_of(runtime), page_lang=language,
        t=labels(language), **context)
    return cached_response(request, html.encode(), "text/html; charset=utf-8", status=status,
                           last_modified=last_modified, headers=PAGE_HEADERS)


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


async def post_stats(conn: Connection, urls: Urls, post_id: int) -> PostStats:
    counts = await reactions_store.counts(conn, urls.post(post_id))
    return PostStats(await comments_store.count_approved(conn, post_id), counts["like"],
                     counts["announce"])


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def home(request: Request) -> Response:
    runtime = services(request).runtime
    urls = runtime.urls
    before, tag = _before(request), request.path_params.get("tag")
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
        posts = await posts_store.list_live(conn, limit=PAGE_SIZE, before_id=before, tag=tag)
        stats = {p.id: await post_stats(conn, urls, p.id) for p in posts}
    language = page_language(settings.default_language)
    feeds = blog_feeds(urls, settings)
    title = settings.display_name
    if tag:
        feeds = (FeedLink("application/atom+xml", f"#{tag} (Atom)",
                          f"{urls.tag(tag)}/feed.atom"), *feeds)
        title = f"#{tag} · {settings.display_name}"
    meta = PageMeta(title=title, description=settings.summary or title,
                    url=urls.tag(tag) if tag else urls.home, as2_url=urls.actor,
                    locale=LOCALES.get(language, language), feeds=feeds)
    older = posts[-1].id if len(posts) == PAGE_SIZE else None
    return render(request, "home.html", page_lang=language, settings=settings, posts=posts,
                  stats=stats, older=older, tag=tag, paged=before is not None, meta=meta)


# ----------------------------------------------------------------------------- post page


async def thread_changed_at(conn: Connection, post_id: int, post_url: str) -> datetime:
    """When anything the post page shows last changed: the post, its comments and their
    moderation, reactions, commenters' profiles. (Undone reactions are covered by the ETag.)"""
    moment: datetime = await conn.fetchval(
        "SELECT greatest("
        " (SELECT greatest(published_at, updated_at) FROM posts WHERE id = $1),"
        " (SELECT max(greatest(published_at, updated_at, received_at)) FROM comments"
        "  WHERE post_id = $1),"
        " (SELECT max(l.at) FROM moderation_log l JOIN comments c ON c.id = l.comment_id"
        "  WHERE c.post_id = $1),"
        " (SELECT max(created_at) FROM reactions WHERE object_id = $2),"
        " (SELECT max(a.fetched_at) FROM remote_actors a WHERE a.id IN"
        "  (SELECT actor_id FROM comments WHERE post_id = $1 AND state = 'approved')))",
        post_id, post_url)
    return moment


async def visible_comments(conn: Connection, runtime: Runtime, post_id: int) -> list[Comment]:
    return [c for c in await comments_store.approved_thread(conn, post_id)
            if not runtime.blocklist.actor_blocked(c.actor_id)]


def post_meta(post: Post, urls: Urls, settings: BlogSettings, language: str) -> PageMeta:
    title = post.title or excerpt(post.content_text, 80)
    return PageMeta(
        title=f"{title} · {settings.display_name}",
        description=post.summary or excerpt(post.content_text, 200), url=urls.post(post.id),
        as2_url=urls.post(post.id), og_type="article",
        locale=LOCALES.get(page_language(post.language), post.language.replace("-", "_")),
        published=post.published_at, modified=post.updated_at, tags=post.hashtags,
        feeds=(FeedLink("application/atom+xml", f"{title} – comments (Atom)",
                        f"{urls.post(post.id)}/comments.atom"),
               *blog_feeds(urls, settings)),
    )


async def post_page(request: Request, post: Post, *, reply_error: str | None = None,
                    reply_handle: str = "") -> Response:
    runtime = services(request).runtime
    urls = runtime.urls
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
        comments = await visible_comments(conn, runtime, post.id)
        actors = await actors_store.get_many(conn, sorted({c.actor_id for c in comments}))
        counts = await reactions_store.counts(conn, urls.post(post.id))
        changed = await thread_changed_at(conn, post.id, urls.post(post.id))
    language = page_language(post.language, settings.default_language)
    return render(request, "post.html", status=422 if reply_error else 200,
                  last_modified=changed, page_lang=language, settings=settings, post=post,
                  thread=build_thread(comments), comment_count=len(comments), actors=actors,
                  counts=counts, now=datetime.now(UTC), reply_error=reply_error,
                  reply_handle=reply_handle, meta=post_meta(post, urls, settings, language))


# ----------------------------------------------------------------------------- remote reply


class InteractionError(Exception):
    """Why a reader's handle did not lead to their server's reply page (a LABELS key)."""

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
    Route("/posts/{id:int}/reply", remote_reply, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
