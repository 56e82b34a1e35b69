"""Posts: the author's writing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fedblog.models import Post
from fedblog.storage.db import Connection, Record

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
