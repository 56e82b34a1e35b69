"""Post pages from memory: each web process keeps the validators of the posts it served and the
rendered bytes of recent pages, and drops them when PostgreSQL says something changed.

The triggers of sql/0004_thread_version.sql bump `posts.thread_version` on every change the page
shows (the post, its approved comments, their authors' profiles, its likes and boosts) and send
NOTIFY fedblog_pages '<post id>'; settings and blocks send '*'. So a conditional request costs no
query, and a full page the same plus the bytes, until the next change. Nothing is served from
memory unless the listener is up: on (re)connection everything is dropped (notifications may have
been missed meanwhile), and a load that a notification overtook is used once but not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fedblog.blog.blocklist import Blocklist
from fedblog.blog.thread_states import ThreadState, ThreadStates
from fedblog.models import BlogSettings
from fedblog.urls import Urls
from fedblog.web.responses import services

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
MAX_BYTES = 32 * 1024 * 1024
MAX_THREADS = 20_000
MAX_LISTINGS = 256


def _templates_version() -> str:
    """The templates, their labels and the style sheet: a deployment that changes them changes
    every page, so every validator."""
    digest = hashlib.sha256()
    for folder in (HERE / "templates", HERE / "static"):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(HERE)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


TEMPLATES_VERSION = _templates_version()


@dataclass(frozen=True)
class SiteState:
    """What every page depends on besides its own post: the settings and the block list (the
    page's own copy, so the digest always describes the list the page was filtered by)."""

    settings: BlogSettings
    blocklist: Blocklist
    digest: str
    valid_until: float          # when a block expires and the list of active ones changes

    @property
    def current(self) -> bool:
        return time.time() < self.valid_until


@dataclass(eq=False)
class ThreadEntry:
    state: ThreadState
    site: SiteState
    etag: str
    headers: dict[str, str] | None = None     # the response headers, made on first use

    @property
    def post_id(self) -> int:
        return self.state.post.id


@dataclass
class PageCache:
    states: ThreadStates
    urls: Urls
    max_bytes: int = MAX_BYTES
    live: bool = False          # the listener is up: what is kept is kept current
    _seq: int = 0
    _notified: dict[int, int] = field(default_factory=dict)   # post id -> seq of its last NOTIFY
    _site_notified: int = 0
    _site: SiteState | None = None
    _threads: dict[int, ThreadEntry] = field(default_factory=dict)
    _pages: OrderedDict[tuple[int, str], bytes] = field(default_factory=OrderedDict)
    _bytes: int = 0
    hits: int = 0
    renders: int = 0
    # The front and tag pages (rendered bytes by path and query), dropped on any notification.
    _listings: dict[str, bytes] = field(default_factory=dict)

    # ------------------------------------------------------------------ invalidation

    def notified(self, payload: str) -> None:
        self._seq += 1
        self._listings.clear()  # the front and tag pages show every post's counts
        if payload == "*":
            self._site_notified = self._seq
            self._site = None
            self._threads.clear()
            self._clear_pages()
            return
        try:
            post_id = int(payload)
        except ValueError:
            return
        self._notified[post_id] = self._seq
        self._threads.pop(post_id, None)
        # Pages of older versions are never asked for again; they age out of the LRU.

    def forget_validators(self) -> None:
        """This process just changed something (an API or desk write): its NOTIFY is still on
        the way, so reread every validator now. Rendered pages stay: they are keyed by theirs."""
        self._seq += 1
        self._site_notified = self._seq
        self._site = None
        self._threads.clear()
        self._listings.clear()

    def reset(self, *, live: bool) -> None:
        """Drop everything (the listener went down, or just came up)."""
        self.notified("*")
        self._notified.clear()
        self.live = live

    # ------------------------------------------------------------------ listings

    @property
    def seq(self) -> int:
        """Take before loading a listing; hand back to keep_listing."""
        return self._seq

    def listing(self, key: str) -> bytes | None:
        return self._listings.get(key) if self.live else None

    def keep_listing(self, key: str, since: int, body: bytes) -> None:
        """Kept unless a notification came while it was loaded (or nothing listens)."""
        if self.live and self._seq == since and len(self._listings) < MAX_LISTINGS:
            self._listings[key] = body

    def _clear_pages(self) -> None:
        self._pages.clear()
        self._bytes = 0

    def _overtaken(self, since: int, post_id: int | None = None) -> bool:
        if not self.live or self._site_notified > since:
            return True
        return post_id is not None and self._notified.get(post_id, 0) > since

    # ------------------------------------------------------------------ validators

    async def site(self) -> SiteState:
        found = self._site
        if found is not None and found.current and self.live:
            return found
        since = self._seq
        reading = await self.states.site()
        settings, entries = reading.settings, reading.blocks
        now = time.time()
        active = sorted((e.kind, e.value) for e in entries if e.active(now))
        expiries = [e.expires_at for e in entries if e.expires_at is not None and e.active(now)]
        digest = hashlib.sha256(repr((settings, active)).encode()).hexdigest()
        found = SiteState(settings, Blocklist(entries), digest, min(expiries, default=math.inf))
        if not self._overtaken(since):
            self._site = found
        return found

    async def thread(self, post_id: int) -> ThreadEntry | None:
        """The post's validator and what the page needs besides its comments; None when there
        is no such post."""
        found = self._threads.get(post_id)
        if found is not None and found.site.current and self.live:
            return found
        since = self._seq
        site = await self.site()
        state = await self.states.thread(post_id, self.urls.post(post_id))
        if state is None:
            return None
        parts = (f"{post_id}|{state.version}|{state.changed_at.isoformat()}|{site.digest}|"
                 f"{TEMPLATES_VERSION}|{self.urls.base}|{self.urls.username}")
        entry = ThreadEntry(state, site, 'W/"' + hashlib.sha256(parts.encode()).hexdigest()[:32] + '"')
        if not self._overtaken(since, post_id):
            if len(self._threads) >= MAX_THREADS:
                self._threads.clear()
            self._threads[post_id] = entry
        return entry

    # ------------------------------------------------------------------ pages

    def page(self, entry: ThreadEntry) -> bytes | None:
        if not self.live:
            return None
        key = (entry.post_id, entry.etag)
        body = self._pages.get(key)
        if body is not None:
            self._pages.move_to_end(key)
            self.hits += 1
        return body

    def keep(self, entry: ThreadEntry, body: bytes) -> None:
        """Keep a rendered page, if its validator is still the current one."""
        self.renders += 1
        if (not self.live or self._threads.get(entry.post_id) is not entry
                or len(body) > self.max_bytes // 4):
            return
        key = (entry.post_id, entry.etag)
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._pages[key] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self._bytes -= len(dropped)

    @property
    def size(self) -> int:
        return self._bytes


def page_cache(request: Request) -> PageCache:
    """The process's page cache (made by the app's lifespan; a bare one, never live and so
    never serving from memory, where no lifespan made one)."""
    found: PageCache | None = getattr(request.app.state, "pages", None)
    if found is None:
        blog = services(request)
        found = PageCache(blog.thread_states, blog.runtime.urls)
        request.app.state.pages = found
    return found


async def watch_pages(cache: PageCache, stop: asyncio.Event, *, interval: float = 2.0) -> None:
    """Keep the page cache current: LISTEN, and check the link every `interval`; while it is
    down nothing is served from memory."""
    while not stop.is_set():
        try:
            async with cache.states.notifications(
                    cache.notified, lambda: cache.reset(live=False)) as check:
                cache.reset(live=True)
                while not stop.is_set():
                    await _pause(stop, interval)
                    await check()
        except Exception as exc:  # noqa: BLE001 -- the database may be restarting
            log.warning("page cache paused: %s: %s", type(exc).__name__, exc)
            cache.reset(live=False)
            await _pause(stop, interval)
        finally:
            cache.reset(live=False)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadYourWrites:
    """ASGI middleware: after a write through the API or the desk, this process rereads the
    page validators before it answers, so the author sees their change on the very next page
    (other processes learn of it by NOTIFY, milliseconds later)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] in SAFE_METHODS
                or not scope["path"].startswith(("/api/", "/desk/"))):
            await self.app(scope, receive, send)
            return

        async def send_then_forget(message: Message) -> None:
            if message["type"] == "http.response.start":
                pages = getattr(scope["app"].state, "pages", None)
                if isinstance(pages, PageCache):
                    pages.forget_validators()
            await send(message)

        await self.app(scope, receive, send_then_forget)
