"""Comments, their earlier versions and their moderation history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fedblog.models import Comment, CustomEmoji, MediaLink, RemoteActor
from fedblog.storage.db import Connection, Record

COLUMNS = (
    "id, ap_id, post_id, parent_comment_id, in_reply_to, depth, actor_id, is_author, state,"
    " content_html, content_text, markdown, language, url, published_at, updated_at,"
    " approval_token, has_ld_signature, summary, sensitive, attachments, emojis, visibility"
)


@dataclass(frozen=True)
class NewComment:
    ap_id: str
    post_id: int
    parent_comment_id: int | None
    in_reply_to: str
    depth: int
    actor_id: str
    is_author: bool
    state: str
    content_html: str
    content_text: str
    markdown: str | None
    language: str | None
    url: str | None
    summary: str | None
    mentions: list[dict[str, str | None]]
    hashtags: list[str]
    attachments: list[dict[str, Any]]
    published_at: datetime | None
    raw_activity: Any
    has_ld_signature: bool
    sender_ip: str | None
    key_id: str | None
    sensitive: bool = False
    emojis: list[dict[str, str]] = field(default_factory=list)
    updated_at: datetime | None = None
    visibility: str = "public"   # 'public', 'unlisted' or 'private' (never approved)


@dataclass(frozen=True)
class CommentDetail:
    comment: Comment
    raw_activity: Any
    sender_ip: str | None
    key_id: str | None
    received_at: datetime
    mentions: Any
    attachments: Any


COLUMN_NAMES = tuple(COLUMNS.split(", "))


_PLAIN = len(COLUMN_NAMES) - 3      # then two jsonb lists, then the visibility


def _media(item: dict[str, Any]) -> MediaLink:
    return MediaLink(url=item["url"], media_type=item.get("media_type"), name=item.get("name"),
                     kind=item.get("kind") or "Document", width=item.get("width"),
                     height=item.get("height"), size=item.get("size"))


def _from_values(values: Any) -> Comment:
    """A Comment from a row's COLUMNS, in order (attachments and emojis become typed)."""
    attachments, emojis = values[_PLAIN], values[_PLAIN + 1]
    media = tuple(_media(a) for a in attachments) if attachments else ()
    emoji = tuple(CustomEmoji(e["shortcode"], e["icon_url"]) for e in emojis) if emojis else ()
    return Comment(*(*values[:_PLAIN], media, emoji, values[_PLAIN + 2]))


def _comment(row: Record) -> Comment:
    return _from_values(tuple(row[:len(COLUMN_NAMES)]))


async def insert(conn: Connection, new: NewComment) -> Comment | None:
    """Store a comment; None when its ap_id is already known."""
    row = await conn.fetchrow(
        f"INSERT INTO comments (ap_id, post_id, parent_comment_id, in_reply_to, depth, actor_id,"
        f" is_author, state, content_html, content_text, markdown, language, url, summary,"
        f" mentions, hashtags, attachments, published_at, raw_activity, has_ld_signature,"
        f" sender_ip, key_id, sensitive, emojis, updated_at, visibility) VALUES ($1, $2, $3, $4,"
        f" $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, coalesce($18, now()),"
        f" $19, $20, $21, $22, $23, $24, $25, $26)"
        f" ON CONFLICT (ap_id) DO NOTHING RETURNING {COLUMNS}",
        new.ap_id, new.post_id, new.parent_comment_id, new.in_reply_to, new.depth, new.actor_id,
        new.is_author, new.state, new.content_html, new.content_text, new.markdown, new.language,
        new.url, new.summary, new.mentions, new.hashtags, new.attachments, new.published_at,
        new.raw_activity, new.has_ld_signature, new.sender_ip, new.key_id, new.sensitive,
        new.emojis, new.updated_at, new.visibility,
    )
    return _comment(row) if row else None


async def set_ap_id(conn: Connection, comment_id: int, ap_id: str) -> None:
    await conn.execute("UPDATE comments SET ap_id = $2, url = $2 WHERE id = $1", comment_id, ap_id)


async def get(conn: Connection, comment_id: int, *, for_update: bool = False) -> Comment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM comments WHERE id = $1{lock}", comment_id)
    return _comment(row) if row else None


async def by_ap_id(conn: Connection, ap_id: str, *, for_update: bool = False) -> Comment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM comments WHERE ap_id = $1{lock}", ap_id)
    return _comment(row) if row else None


async def by_approval_token(conn: Connection, token: str) -> Comment | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM comments WHERE approval_token = $1", token)
    return _comment(row) if row else None


async def detail(conn: Connection, comment_id: int) -> CommentDetail | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS}, raw_activity, sender_ip, key_id, received_at, mentions, attachments"
        f" FROM comments WHERE id = $1",
        comment_id,
    )
    if row is None:
        return None
    return CommentDetail(_comment(row), row["raw_activity"], row["sender_ip"], row["key_id"],
                         row["received_at"], row["mentions"], row["attachments"])


async def set_state(conn: Connection, comment: Comment, to_state: str, *, decided_by: str,
                    reason: str | None, approval_token: str | None) -> Comment:
    row = await conn.fetchrow(
        f"UPDATE comments SET state = $2, approval_token = $3 WHERE id = $1 RETURNING {COLUMNS}",
        comment.id, to_state, approval_token,
    )
    await log_transition(conn, comment.id, comment.state, to_state, decided_by, reason)
    return _comment(row)


async def set_approval_token(conn: Connection, comment_id: int, token: str) -> Comment:
    row = await conn.fetchrow(
        f"UPDATE comments SET approval_token = $2 WHERE id = $1 RETURNING {COLUMNS}",
        comment_id, token)
    return _comment(row)


async def log_transition(conn: Connection, comment_id: int, from_state: str | None,
                         to_state: str, decided_by: str, reason: str | None) -> None:
    await conn.execute(
        "INSERT INTO moderation_log (comment_id, from_state, to_state, decided_by, reason)"
        " VALUES ($1, $2, $3, $4, $5)",
        comment_id, from_state, to_state, decided_by, reason,
    )


async def history(conn: Connection, comment_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT from_state, to_state, decided_by, reason, at FROM moderation_log"
        " WHERE comment_id = $1 ORDER BY id", comment_id,
    )
    return [dict(r) for r in rows]


async def versions(conn: Connection, comment_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT content_html, content_text, updated_at, replaced_at FROM comment_versions"
        " WHERE comment_id = $1 ORDER BY id", comment_id,
    )
    return [dict(r) for r in rows]


@dataclass(frozen=True)
class SentExtras:
    """What a remote edit may change beside the text (None: the author's answers keep theirs)."""

    summary: str | None
    sensitive: bool
    attachments: list[dict[str, Any]]
    emojis: list[dict[str, str]]


async def edit(conn: Connection, comment: Comment, *, content_html: str, content_text: str,
               markdown: str | None, updated_at: datetime | None,
               extras: SentExtras | None = None) -> Comment:
    """Replace the text, keeping the previous version."""
    await conn.execute(
        "INSERT INTO comment_versions (comment_id, content_html, content_text, updated_at)"
        " VALUES ($1, $2, $3, $4)",
        comment.id, comment.content_html, comment.content_text, comment.updated_at,
    )
    if extras is not None:
        await conn.execute(
            "UPDATE comments SET summary = $2, sensitive = $3, attachments = $4, emojis = $5"
            " WHERE id = $1", comment.id, extras.summary, extras.sensitive, extras.attachments,
            extras.emojis)
    row = await conn.fetchrow(
        f"UPDATE comments SET content_html = $2, content_text = $3, markdown = $4,"
        f" updated_at = coalesce($5, now()) WHERE id = $1 RETURNING {COLUMNS}",
        comment.id, content_html, content_text, markdown, updated_at,
    )
    return _comment(row)


async def list_filtered(conn: Connection, *, state: str | None, post_id: int | None, limit: int,
                        before_id: int | None) -> list[Comment]:
    """A page of comments, newest first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM comments WHERE ($1::text IS NULL OR state = $1)"
        f" AND ($2::bigint IS NULL OR post_id = $2) AND ($3::bigint IS NULL OR id < $3)"
        f" ORDER BY id DESC LIMIT $4",
        state, post_id, before_id, limit,
    )
    return [_comment(r) for r in rows]


async def by_actor(conn: Connection, actor_id: str, states: tuple[str, ...]) -> list[Comment]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM comments WHERE actor_id = $1 AND state = ANY($2::text[])"
        f" ORDER BY id FOR UPDATE", actor_id, list(states),
    )
    return [_comment(r) for r in rows]


async def rules(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT id, pattern, is_regex, action FROM moderation_rules ORDER BY id")
    return [dict(r) for r in rows]


async def add_rule(conn: Connection, pattern: str, is_regex: bool, action: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO moderation_rules (pattern, is_regex, action) VALUES ($1, $2, $3)"
        " RETURNING id, pattern, is_regex, action", pattern, is_regex, action)
    return dict(row)


async def delete_rule(conn: Connection, rule_id: int) -> bool:
    status = await conn.execute("DELETE FROM moderation_rules WHERE id = $1", rule_id)
    return bool(status.endswith(" 1"))


@dataclass(frozen=True)
class CommenterFacts:
    """What the moderation policy asks about a commenter, read in one round trip."""

    is_follower: bool
    has_approved_comment: bool
    recent_comments: int


async def commenter_facts(conn: Connection, actor_id: str, recent_seconds: int) -> CommenterFacts:
    row = await conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM followers WHERE actor_id = $1 AND state = 'accepted'),"
        " EXISTS (SELECT 1 FROM comments WHERE actor_id = $1 AND state = 'approved'),"
        " (SELECT count(*) FROM comments WHERE actor_id = $1"
        "  AND received_at > now() - make_interval(secs => $2))", actor_id, recent_seconds)
    return CommenterFacts(bool(row[0]), bool(row[1]), int(row[2]))


async def thread_changed_at(conn: Connection, post_id: int) -> datetime:
    """When anything the post page shows last changed: the post, its comments and their
    moderation, reactions, commenters' profiles. Kept by the triggers of 0004_thread_version."""
    moment: datetime | None = await conn.fetchval(
        "SELECT thread_changed_at FROM posts WHERE id = $1", post_id)
    return moment if moment is not None else datetime.fromtimestamp(0, UTC)


THREAD_ACTOR_COLUMNS = "a.id, a.host, a.type, a.inbox, a.shared_inbox, a.preferred_username," \
    " a.name, a.url, a.icon_url"
_WIDTH = len(COLUMN_NAMES)


async def approved_thread_with_actors(conn: Connection, post_id: int
                                      ) -> tuple[list[Comment], dict[str, RemoteActor]]:
    """The approved comments of a post, oldest first, and their authors as last fetched: the
    whole thread of the post page in one query."""
    rows = await conn.fetch(
        f"SELECT {', '.join('c.' + name for name in COLUMN_NAMES)}, {THREAD_ACTOR_COLUMNS}"
        f" FROM comments c LEFT JOIN remote_actors a ON a.id = c.actor_id"
        f" WHERE c.post_id = $1 AND c.state = 'approved' ORDER BY c.id",
        post_id,
    )
    comments = []
    actors: dict[str, RemoteActor] = {}
    for row in rows:
        comments.append(_from_values(row[:_WIDTH]))
        actor_id = row[_WIDTH]
        if actor_id is not None and actor_id not in actors:
            actors[actor_id] = RemoteActor(*row[_WIDTH:])
    return comments, actors


async def get_many(conn: Connection, comment_ids: list[int]) -> dict[int, Comment]:
    """Many comments by id in one query (missing ids are simply absent)."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM comments WHERE id = ANY($1::bigint[])",
                            comment_ids)
    return {row["id"]: _comment(row) for row in rows}


async def details_many(conn: Connection, comment_ids: list[int]) -> dict[int, CommentDetail]:
    """`detail` for many comments in one query."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS}, raw_activity, sender_ip, key_id, received_at, mentions, attachments"
        f" FROM comments WHERE id = ANY($1::bigint[])", comment_ids)
    return {row["id"]: CommentDetail(_comment(row), row["raw_activity"], row["sender_ip"],
                                     row["key_id"], row["received_at"], row["mentions"],
                                     row["attachments"]) for row in rows}


async def by_ap_ids(conn: Connection, ap_ids: list[str]) -> dict[str, Comment]:
    """Many comments by their ActivityPub id in one query."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM comments WHERE ap_id = ANY($1::text[])",
                            ap_ids)
    return {row["ap_id"]: _comment(row) for row in rows}
