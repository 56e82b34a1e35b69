"""Posts: the author's writing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from fedblog.models import Post
from fedblog.storage.db import Connection, Database, Record

COLUMNS = (
    "id, title, markdown, content_html, body_html, content_text, summary, language, hashtags,"
    " published_at, updated_at, deleted_at"
)


@dataclass(frozen=True)
class PostFields:
    title: str | None
    markdown: str
    content_html: str
    body_html: str
    content_text: str
    summary: str | None
    language: str
    hashtags: tuple[str, ...]


def _post(row: Record) -> Post:
    return Post(
        id=row["id"], title=row["title"], markdown=row["markdown"],
        content_html=row["content_html"], body_html=row["body_html"], content_text=row["content_text"],
        summary=row["summary"], language=row["language"], hashtags=tuple(row["hashtags"]),
        published_at=row["published_at"], updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


async def insert(conn: Connection, fields: PostFields) -> Post:
    row = await conn.fetchrow(
        f"INSERT INTO posts (title, markdown, content_html, body_html, content_text, summary,"
        f" language, hashtags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}",
        fields.title, fields.markdown, fields.content_html, fields.body_html, fields.content_text,
        fields.summary, fields.language, list(fields.hashtags),
    )
    return _post(row)


async def update(conn: Connection, post_id: int, fields: PostFields) -> Post | None:
    row = await conn.fetchrow(
        f"UPDATE posts SET title = $2, markdown = $3, content_html = $4, body_html = $5,"
        f" content_text = $6, summary = $7, language = $8, hashtags = $9, updated_at = now()"
        f" WHERE id = $1 AND deleted_at IS NULL RETURNING {COLUMNS}",
        post_id, fields.title, fields.markdown, fields.content_html, fields.body_html,
        fields.content_text, fields.summary, fields.language, list(fields.hashtags),
    )
    return _post(row) if row else None


async def mark_deleted(conn: Connection, post_id: int) -> Post | None:
    row = await conn.fetchrow(
        f"UPDATE posts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL"
        f" RETURNING {COLUMNS}",
        post_id,
    )
    return _post(row) if row else None


async def get(conn: Connection, post_id: int, *, for_update: bool = False) -> Post | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM posts WHERE id = $1{lock}", post_id)
    return _post(row) if row else None


async def list_live(
    conn: Connection, *, limit: int, before_id: int | None = None, tag: str | None = None
) -> list[Post]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM posts WHERE deleted_at IS NULL"
        f" AND ($2::bigint IS NULL OR id < $2)"
        f" AND ($3::text IS NULL OR lower($3) = ANY (SELECT lower(h) FROM unnest(hashtags) h))"
        f" ORDER BY id DESC LIMIT $1",
        limit, before_id, tag,
    )
    return [_post(r) for r in rows]


async def count_live(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM posts WHERE deleted_at IS NULL"))


async def latest_change(conn: Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT max(greatest(published_at, updated_at, deleted_at)) FROM posts"
    )
    return value


async def stats(conn: Connection, post_urls: dict[int, str]) -> dict[int, tuple[int, int, int]]:
    """(approved comments, likes, boosts) for many posts in one query: post id -> counts."""
    rows = await conn.fetch(
        "SELECT u.id,"
        " (SELECT count(*) FROM comments c WHERE c.post_id = u.id AND c.state = 'approved') AS c,"
        " (SELECT count(*) FROM reactions r WHERE r.object_id = u.url AND r.kind = 'like') AS l,"
        " (SELECT count(*) FROM reactions r WHERE r.object_id = u.url AND r.kind = 'announce') AS a"
        " FROM unnest($1::bigint[], $2::text[]) AS u(id, url)",
        list(post_urls), list(post_urls.values()),
    )
    return {r["id"]: (int(r["c"]), int(r["l"]), int(r["a"])) for r in rows}


@dataclass(frozen=True)
class ThreadState:
    """What the post page is made of besides its comments, read in one snapshot: the post,
    its likes and boosts, and the validator the triggers of 0004_thread_version keep."""

    post: Post
    version: int
    changed_at: datetime
    likes: int
    boosts: int


async def thread_state(conn: Connection, post_id: int, post_url: str) -> ThreadState | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS}, thread_version, thread_changed_at,"
        f" (SELECT count(*) FROM reactions r WHERE r.object_id = $2 AND r.kind = 'like') AS likes,"
        f" (SELECT count(*) FROM reactions r WHERE r.object_id = $2 AND r.kind = 'announce')"
        f" AS boosts FROM posts WHERE id = $1",
        post_id, post_url,
    )
    if row is None:
        return None
    return ThreadState(_post(row), int(row["thread_version"]), row["thread_changed_at"],
                       int(row["likes"]), int(row["boosts"]))


PAGES_CHANNEL = "fedblog_pages"   # NOTIFY '<post id>' or '*' (0004_thread_version's triggers)


@asynccontextmanager
async def page_notifications(db: Database, on_payload: Callable[[str], None],
                             on_lost: Callable[[], None]
                             ) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Listen for page changes on a connection of its own: `on_payload` for each NOTIFY,
    `on_lost` as soon as the connection closes (notifications may be missed from then on).
    Yields a check that raises when the link is lost or does not answer."""
    conn = await db.pool.acquire()
    lost = asyncio.Event()

    def handler(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        on_payload(payload)

    def terminated(_conn: object) -> None:
        lost.set()
        on_lost()

    conn.add_termination_listener(terminated)
    try:
        await conn.add_listener(PAGES_CHANNEL, handler)
    except BaseException:
        conn.remove_termination_listener(terminated)
        await db.pool.release(conn)
        raise

    async def check() -> None:
        if lost.is_set() or conn.is_closed():
            raise ConnectionError("the page notifications' connection was lost")
        await asyncio.wait_for(conn.execute("SELECT 1"), timeout=5)

    try:
        yield check
    finally:
        conn.remove_termination_listener(terminated)
        with contextlib.suppress(asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            await conn.remove_listener(PAGES_CHANNEL, handler)
        await db.pool.release(conn)


async def get_many(conn: Connection, post_ids: list[int]) -> dict[int, Post]:
    """Many posts by id in one query (deleted ones included, missing ids absent)."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM posts WHERE id = ANY($1::bigint[])", post_ids)
    return {row["id"]: _post(row) for row in rows}
