"""Rendering for readers: the one Jinja environment (pages, feeds and the desk share it), the
headers every public page carries, the <head>'s metadata, and conditional responses (ETag and
Last-Modified, 304 when the client has the page already)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from fedblog.blog.display import media_url
from fedblog.blog.html import excerpt
from fedblog.models import BlogSettings
from fedblog.runtime import Runtime
from fedblog.urls import Urls
from fedblog.web.dates import ago, comment_time, exact_time, http_date, iso, long_date
from fedblog.web.i18n import labels
from fedblog.web.responses import services

HERE = Path(__file__).parent
STATIC = HERE / "static"
HTML_TYPE = "text/html; charset=utf-8"

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


def close_items(count: int) -> Markup:
    """Ends `count` comments whose answers were listed inside them (see threads.flatten)."""
    return Markup("</ul>\n</li>\n" * count)


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*.css")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


TEMPLATES.globals.update(long_date=long_date, exact_time=exact_time, ago=ago, iso=iso,
                         http_date=http_date, excerpt=excerpt, labels_for=labels,
                         comment_time=comment_time, close_items=close_items, media_url=media_url,
                         static_version=_static_version())


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


def blog_feeds(urls: Urls, settings: BlogSettings) -> tuple[FeedLink, ...]:
    return (FeedLink("application/atom+xml", f"{settings.display_name} (Atom)",
                     f"{urls.base}/feed.atom"),
            FeedLink("application/rss+xml", f"{settings.display_name} (RSS)",
                     f"{urls.base}/feed.rss"))


def handle_of(runtime: Runtime) -> str:
    return f"@{runtime.urls.username}@{runtime.settings.domain}"


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


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


def render_page(runtime: Runtime, template: str, language: str, **context: Any) -> str:
    """A public page's HTML, in `language`."""
    return TEMPLATES.get_template(template).render(
        urls=runtime.urls, handle=handle_of(runtime), page_lang=language, t=labels(language),
        **context)


def render(request: Request, template: str, *, status: int = 200,
           last_modified: datetime | None = None, etag: str | None = None,
           **context: Any) -> Response:
    language = context.pop("page_lang", "en")
    html = render_page(services(request).runtime, template, language, **context)
    return cached_response(request, html.encode(), HTML_TYPE, status=status,
                           last_modified=last_modified, headers=PAGE_HEADERS, etag=etag)
