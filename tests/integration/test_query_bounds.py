"""The moderation queue's pages read with a fixed number of queries, whatever their size: the
queries are counted on the real PostgreSQL connections the app uses (asyncpg's query logger)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import asyncpg
import httpx
import pytest

from fedblog.web.desk import queue as desk_queue
from tests.harness import TOKEN, BlogServer

THREADS = 60
CHAIN = 4  # approved ancestors above each held comment: more than the desk shows


class _CountedAcquire:
    """pool.acquire(), with every query on the acquired connection counted until release."""

    def __init__(self, inner: Any, queries: list[str]) -> None:
        self.inner = inner
        self.queries = queries
        self.conn: Any = None

    def _log(self, record: Any) -> None:
        self.queries.append(record.query)

    async def __aenter__(self) -> Any:
        self.conn = await self.inner.__aenter__()
        self.conn.add_query_logger(self._log)
        return self.conn

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> Any:
        self.conn.remove_query_logger(self._log)
        return await self.inner.__aexit__(kind, exc, tb)

    def __await__(self) -> Any:  # a listener's long-held connection: not counted
        return self.inner.__await__()


class _CountingPool:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queries: list[str] = []

    def acquire(self, *args: Any, **kwargs: Any) -> _CountedAcquire:
        return _CountedAcquire(self.pool.acquire(*args, **kwargs), self.queries)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


async def _queries(blog: BlogServer, request: Callable[[], Awaitable[httpx.Response]]) -> int:
    """The fewest queries of three runs (the block list's refresh may run alongside one)."""
    db = blog.services.runtime.db
    original = db.pool
    counts = []
    try:
        for _ in range(3):
            counting = _CountingPool(original)
            db.pool = counting
            response = await request()
            db.pool = original
            assert response.status_code == 200, response.text
            counts.append(len(counting.queries))
    finally:
        db.pool = original
    return min(counts)


async def _seed_threads(blog: BlogServer) -> None:
    """THREADS held comments, each under a chain of approved ones, every comment by its own
    commenter, on a few posts."""
    posts = [await blog.post(f"Post {n}.") for n in range(3)]
    async with blog.services.runtime.db.transaction() as conn:
        for thread in range(THREADS):
            post = posts[thread % len(posts)]
            parent_id: int | None = None
            in_reply_to = post["ap_id"]
            for depth in range(CHAIN + 1):
                actor = f"https://remote.example/users/u{thread}_{depth}"
                await conn.execute(
                    "INSERT INTO remote_actors (id, host, type, inbox, preferred_username, name,"
                    " document) VALUES ($1, 'remote.example', 'Person', $1 || '/inbox', $2, $2,"
                    " '{}')", actor, f"u{thread}_{depth}")
                ap_id = f"https://remote.example/notes/{thread}/{depth}"
                parent_id = await conn.fetchval(
                    "INSERT INTO comments (ap_id, post_id, parent_comment_id, in_reply_to, depth,"
                    " actor_id, state, content_html, content_text, sender_ip, key_id)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, '<p>Hej</p>', 'Hej', '192.0.2.7',"
                    " $6 || '#main-key') RETURNING id",
                    ap_id, post["id"], parent_id, in_reply_to, depth, actor,
                    "pending" if depth == CHAIN else "approved")
                in_reply_to = ap_id


async def _desk_login(browser: httpx.AsyncClient) -> None:
    form = await browser.get("/desk/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce
    response = await browser.post("/desk/login", data={"csrf": nonce.group(1), "token": TOKEN})
    assert response.status_code == 303


async def test_comments_api_reads_a_page_in_a_fixed_number_of_queries(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        await _seed_threads(blog)

        async def page(limit: int) -> httpx.Response:
            return await blog.api.get("/api/v1/comments", params={"state": "pending",
                                                                   "limit": limit})

        assert len((await page(50)).json()["items"]) == 50
        small, large = await _queries(blog, lambda: page(5)), await _queries(blog, lambda: page(50))
        assert small == large <= 4, (small, large)
        item = (await page(5)).json()["items"][0]
        assert item["handle"] and item["parent_state"] == "approved" and item["parent_excerpt"]


async def test_moderation_queue_page_reads_in_a_fixed_number_of_queries(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with BlogServer(database_url, run_workers=False) as blog, \
            httpx.AsyncClient(base_url=blog.base_url) as browser:
        await _seed_threads(blog)
        await _desk_login(browser)
        counts = {}
        for size in (5, 50):
            monkeypatch.setattr(desk_queue, "QUEUE_SIZE", size)
            shown = await browser.get("/desk/", params={"state": "pending"})
            assert shown.text.count('name="ids"') == size
            counts[size] = await _queries(blog, lambda: browser.get("/desk/",
                                                                    params={"state": "pending"}))
        assert counts[5] == counts[50] <= 8, counts
