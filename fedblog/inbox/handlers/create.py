"""Create: a reply to a post or to any comment of the blog becomes a comment (held while the
comment it answers is; parked until its parent arrives when that cannot be fetched yet)."""

from __future__ import annotations

import logging

from fedblog.blog.comments import Parent, Reception
from fedblog.federation.client import FetchError
from fedblog.federation.vocab import (
    Activity,
    Note,
    VocabError,
    created_note,
    host_of,
    parse_object,
)
from fedblog.inbox.context import (
    HandlerContext,
    PrecheckContext,
    Rejected,
    Result,
    RetryLater,
    WaitForObject,
)
from fedblog.inbox.keyring import ActorUnavailable
from fedblog.inbox.parents import FetchFailed, Unreachable

log = logging.getLogger(__name__)
# One attempt at a reply fetches at most: its object (when not embedded), MAX_ANCESTOR_FETCHES
# ancestors and their authors (when unknown). A retry fetches again only what failed (the
# ancestors found are remembered), so one activity causes at most 2 × 5 + 1 fetches that
# succeed plus one failing fetch per attempt (processor.MAX_ATTEMPTS).
MAX_ANCESTOR_FETCHES = 5
# One per process (as the keyring and the parent cache are).
MAX_COMMENT_CHARS = 100_000  # the sanitiser's limit


async def precheck(checks: PrecheckContext, activity: Activity) -> None:
    """Refused before storing: a forged author, a foreign id, or a reply to something of this
    blog that does not exist. A reply to a held or refused comment is taken (and held):
    Mastodon never retries a 4xx, so refusing it would lose the reply for good."""
    note = created_note(activity)
    if note is not None:
        await precheck_note(checks, activity, note)


async def precheck_note(checks: PrecheckContext, activity: Activity, note: Note) -> None:
    """The checks of a reply `note` that `activity` brings (a Create, or a ReplyRequest)."""
    if note.attributed_to != activity.actor:
        raise Rejected(401, f"the object's attributedTo {note.attributed_to} is not the signer "
                            f"{activity.actor}")
    if host_of(note.id) != host_of(activity.actor):
        raise Rejected(400, f"object id {note.id} is not on its author's host")
    if len(note.content or "") > MAX_COMMENT_CHARS:
        raise Rejected(413, f"comment longer than {MAX_COMMENT_CHARS} characters")
    if not note.in_reply_to:
        return
    parent = await checks.parents.resolve(note.in_reply_to)
    if parent is None and note.in_reply_to.startswith(checks.urls.base + "/"):
        raise Rejected(404, f"inReplyTo {note.in_reply_to} is no post or comment of this blog")


async def fetch_note(ctx: HandlerContext, url: str) -> Note | None:
    """The Note at `url`; None when it is something else. Unreachable when its server refuses
    it; FetchFailed when the server could not answer."""
    try:
        found = parse_object(await ctx.services.client.fetch_json(url))
    except FetchError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise Unreachable(url) from exc
        raise FetchFailed(f"fetching {url}: {exc.detail}") from exc
    except VocabError:
        return None
    if not isinstance(found, Note) or host_of(found.id) != host_of(url):
        return None
    if found.attributed_to is None or host_of(found.attributed_to) != host_of(found.id):
        return None
    return found


async def _resolve(ctx: HandlerContext, note: Note) -> tuple[Parent | None, list[Note]]:
    """The parent, fetching unknown ancestors (signed GETs) until one is known, within a limit.
    An ancestor that cannot be fetched yet parks the reply until it arrives (WaitForObject)."""
    ancestors: list[Note] = []
    in_reply_to = note.in_reply_to
    for _ in range(MAX_ANCESTOR_FETCHES + 1):
        if not in_reply_to:
            return None, []
        parent = await ctx.services.comments.parent_of(in_reply_to)
        if parent is not None:
            return parent, ancestors
        if in_reply_to.startswith(ctx.services.urls.base + "/") or len(ancestors) >= MAX_ANCESTOR_FETCHES:
            return None, []
        try:
            fetched = await ctx.services.ancestors.fetch(in_reply_to, lambda url: fetch_note(ctx, url))
        except Unreachable as exc:
            raise WaitForObject(in_reply_to) from exc
        except FetchFailed as exc:
            raise RetryLater(str(exc)) from exc
        if fetched is None:
            return None, []
        ancestors.append(fetched)
        in_reply_to = fetched.in_reply_to
    return None, []


async def embedded_or_fetched(ctx: HandlerContext, note: Note | None,
                              url: str | None) -> Note | None:
    """`note` as the activity carried it, else the Note fetched from `url`; None when there is
    none to be had (RetryLater when its server could not answer just now)."""
    if note is not None or not url:
        return note
    try:
        return await fetch_note(ctx, url)
    except Unreachable:
        return None
    except FetchFailed as exc:
        raise RetryLater(str(exc)) from exc


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    note = await embedded_or_fetched(ctx, created_note(activity), activity.object_id)
    if note is None or note.attributed_to != activity.actor or not note.in_reply_to:
        return Result.IGNORED
    return await store_note(ctx, note)


async def store_note(ctx: HandlerContext, note: Note) -> Result:
    """The reply `note` (its author checked to be the activity's actor) joins the thread,
    after the ancestors that had to be fetched; also the ReplyRequest handler's last step."""
    activity = ctx.activity
    parent, ancestors = await _resolve(ctx, note)
    if parent is None:
        return Result.IGNORED
    for ancestor in ancestors:
        try:
            await ctx.services.keyring.actor(ancestor.attributed_to or "")
        except ActorUnavailable as exc:
            raise RetryLater(str(exc)) from exc
    async with ctx.transaction() as conn:
        # Fetched ancestors join the thread first (held for the author), top-down.
        for ancestor in reversed(ancestors):
            stored = await ctx.services.comments.store_reply(
                conn, ancestor, parent, Reception(None, False, None, None))
            if stored is not None:
                parent = Parent(stored.post_id, stored.id, stored.depth + 1, stored.state)
        reception = Reception(ctx.item.body, activity.has_ld_signature, ctx.item.sender_ip,
                              ctx.item.key_id)
        await ctx.services.comments.store_reply(conn, note, parent, reception)
    return Result.PROCESSED
