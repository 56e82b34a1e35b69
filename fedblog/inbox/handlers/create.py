"""Create: a reply to a post or to any comment of the blog becomes a comment (held while the
comment it answers is; parked until its parent arrives when that cannot be fetched yet)."""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict

from fedblog.blog.comments import Parent, Reception, resolve_parent
from fedblog.federation.client import FetchError
from fedblog.federation.vocab import (
    Activity,
    Note,
    VocabError,
    created_note,
    host_of,
    parse_object,
)
from fedblog.inbox.context import HandlerContext, Rejected, Result, RetryLater, WaitForObject
from fedblog.inbox.keyring import ActorUnavailable
from fedblog.runtime import Runtime
from fedblog.singleflight import SingleFlight
from fedblog.storage.db import Database
from fedblog.urls import Urls

log = logging.getLogger(__name__)
MAX_ANCESTOR_FETCHES = 5
MAX_COMMENT_CHARS = 100_000  # the sanitiser's limit


class ParentCache:
    """The precheck's answer to "may this be replied to?" for recently seen parents: positive
    answers only (a live post, an approved comment), each for `ttl` seconds, at most `capacity`.
    Anything else asks the database. A parent deleted or unapproved within the last `ttl` seconds
    may still be answered 202: the processor resolves the parent again from the database and
    ignores such a reply, so the cache only ever changes the sender's answer, never the thread."""

    def __init__(self, db: Database, urls: Urls, *, capacity: int = 10_000, ttl: float = 2.0) -> None:
        self.db = db
        self.urls = urls
        self.capacity = capacity
        self.ttl = ttl
        self._known: OrderedDict[str, tuple[float, Parent]] = OrderedDict()
        self._asking: SingleFlight[str, Parent | None] = SingleFlight()

    async def resolve(self, in_reply_to: str) -> Parent | None:
        known = self._known.get(in_reply_to)
        if known is not None:
            if known[0] > time.monotonic():
                return known[1]
            del self._known[in_reply_to]
        # replies to the same parent arriving together share one query
        parent = await self._asking.run(in_reply_to, lambda: self._from_database(in_reply_to))
        if parent is not None:
            self._known[in_reply_to] = (time.monotonic() + self.ttl, parent)
            while len(self._known) > self.capacity:
                self._known.popitem(last=False)
        return parent

    async def _from_database(self, in_reply_to: str) -> Parent | None:
        async with self.db.connection() as conn:
            return await resolve_parent(conn, self.urls, in_reply_to)


# One cache per database pool, i.e. per running blog in this process.
_caches: weakref.WeakKeyDictionary[Database, ParentCache] = weakref.WeakKeyDictionary()


def parent_cache(runtime: Runtime) -> ParentCache:
    cache = _caches.get(runtime.db)
    if cache is None:
        cache = _caches[runtime.db] = ParentCache(runtime.db, runtime.urls)
    return cache


async def precheck(runtime: Runtime, activity: Activity) -> None:
    """Refused before storing: a forged author, a foreign id, or a reply to something of this
    blog that does not exist. A reply to a held or refused comment is taken (and held):
    Mastodon never retries a 4xx, so refusing it would lose the reply for good."""
    note = created_note(activity)
    if note is None:
        return
    if note.attributed_to != activity.actor:
        raise Rejected(401, f"the object's attributedTo {note.attributed_to} is not the signer "
                            f"{activity.actor}")
    if host_of(note.id) != host_of(activity.actor):
        raise Rejected(400, f"object id {note.id} is not on its author's host")
    if len(note.content or "") > MAX_COMMENT_CHARS:
        raise Rejected(413, f"comment longer than {MAX_COMMENT_CHARS} characters")
    if not note.in_reply_to:
        return
    parent = await parent_cache(runtime).resolve(note.in_reply_to)
    if parent is None and note.in_reply_to.startswith(runtime.urls.base + "/"):
        raise Rejected(404, f"inReplyTo {note.in_reply_to} is no post or comment of this blog")


class Unreachable(Exception):
    """The object cannot be fetched now (refused, gone or not there yet)."""


async def _fetch_note(ctx: HandlerContext, url: str) -> Note | None:
    """The Note at `url`; None when it is something else. Unreachable when its server refuses
    it; RetryLater when the server could not answer."""
    try:
        found = parse_object(await ctx.runtime.client.fetch_json(url))
    except FetchError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise Unreachable(url) from exc
        raise RetryLater(f"fetching {url}: {exc}") from exc
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
        async with ctx.runtime.db.connection() as conn:
            parent = await resolve_parent(conn, ctx.runtime.urls, in_reply_to)
        if parent is not None:
            return parent, ancestors
        if in_reply_to.startswith(ctx.runtime.urls.base + "/") or len(ancestors) >= MAX_ANCESTOR_FETCHES:
            return None, []
        try:
            fetched = await _fetch_note(ctx, in_reply_to)
        except Unreachable as exc:
            raise WaitForObject(in_reply_to) from exc
        if fetched is None:
            return None, []
        ancestors.append(fetched)
        in_reply_to = fetched.in_reply_to
    return None, []


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    note = created_note(activity)
    if note is None and activity.object_id:
        try:
            note = await _fetch_note(ctx, activity.object_id)
        except Unreachable:
            return Result.IGNORED
    if note is None or note.attributed_to != activity.actor or not note.in_reply_to:
        return Result.IGNORED
    parent, ancestors = await _resolve(ctx, note)
    if parent is None:
        return Result.IGNORED
    for ancestor in ancestors:
        try:
            await ctx.keyring.actor(ancestor.attributed_to or "")
        except ActorUnavailable as exc:
            raise RetryLater(str(exc)) from exc
    async with ctx.transaction() as conn:
        # Fetched ancestors join the thread first (held for the author), top-down.
        for ancestor in reversed(ancestors):
            stored = await ctx.comments.store_reply(
                conn, ancestor, parent, Reception(None, False, None, None))
            if stored is not None:
                parent = Parent(stored.post_id, stored.id, stored.depth + 1, stored.state)
        reception = Reception(ctx.item.body, activity.has_ld_signature, ctx.item.sender_ip,
                              ctx.item.key_id)
        await ctx.comments.store_reply(conn, note, parent, reception)
    return Result.PROCESSED
