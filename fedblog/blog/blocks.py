"""Blocking actors and domains: the block, and everything it undoes, in one transaction."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from fedblog.blog.blocklist import BlockEntry, Blocklist, normalise_domain
from fedblog.blog.comments import CommentService
from fedblog.blog.moderation import Action
from fedblog.federation.client import FederationClient
from fedblog.federation.vocab import is_http_url
from fedblog.federation.webfinger import resolve_handle
from fedblog.models import RemoteActor
from fedblog.outbox import as2, publish
from fedblog.storage import actors as actors_store
from fedblog.storage import blocks as blocks_store
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import settings as settings_store
from fedblog.storage.blocks import StoredBlock
from fedblog.storage.db import Connection, Database
from fedblog.urls import Urls

__all__ = ["BlockNotFound", "BlockOutcome", "BlockService", "BlockTargets", "StoredBlock"]

log = logging.getLogger(__name__)
CSV_HEADER = ["#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment",
              "#obfuscate"]


class BlockNotFound(LookupError):
    """No block has that id."""


@dataclass(frozen=True)
class BlockOutcome:
    block: StoredBlock
    followers_removed: int
    comments_hidden: int


# An actor fetched now (signed, by the keyring), or None when it cannot be had.
ActorFetch = Callable[[str], Awaitable[RemoteActor | None]]


class BlockTargets:
    """Who an account reference names: a URL as it is, a handle (@user@host) through WebFinger
    (HandleError when it does not resolve); the actor as stored, else fetched, else None —
    blocked all the same, there is just nobody to tell."""

    def __init__(self, db: Database, client: FederationClient, fetch: ActorFetch, *,
                 scheme: str) -> None:
        self.db = db
        self.client = client
        self.fetch = fetch
        self.scheme = scheme

    async def resolve(self, ref: str) -> tuple[str, RemoteActor | None]:
        actor_id = ref if is_http_url(ref) else await resolve_handle(self.client, ref,
                                                                     scheme=self.scheme)
        async with self.db.connection() as conn:
            known = await actors_store.get(conn, actor_id)
        if known is not None:
            return actor_id, known
        return actor_id, await self.fetch(actor_id)


def block_entries(stored: Iterable[StoredBlock]) -> list[BlockEntry]:
    """The stored blocks as the block list matches them."""
    return [BlockEntry(b.kind, b.value, b.expires_at.timestamp() if b.expires_at else None)
            for b in stored]


class BlockService:
    def __init__(self, db: Database, urls: Urls, blocklist: Blocklist,
                 comments: CommentService) -> None:
        self.db = db
        self.urls = urls
        self.blocklist = blocklist
        self.comments = comments

    async def reload(self) -> None:
        async with self.db.connection() as conn:
            stored = await blocks_store.all_blocks(conn)
        self.blocklist.replace(block_entries(stored))

    async def block_actor(self, actor_id: str, actor: RemoteActor | None, *, reason: str | None,
                          expires_at: datetime | None) -> BlockOutcome:
        async with self.db.transaction() as conn:
            block = await blocks_store.upsert(conn, kind="actor", value=actor_id, reason=reason,
                                              expires_at=expires_at)
            removed = await self._drop_follower(conn, actor_id)
            hidden = await self._hide_comments(conn, [actor_id], reason)
            settings = await settings_store.get_settings(conn)
            if actor is not None and settings.send_block_activity:
                activity = as2.wrap("Block", self.urls.new_activity(), self.urls, actor_id,
                                    to=[actor_id])
                await publish.to_actor(conn, activity, actor, reaches_blocked=True)
                await blocks_store.mark_block_sent(conn, block.id)
        await self.reload()
        return BlockOutcome(block, removed, hidden)

    async def block_domain(self, domain: str, *, reason: str | None,
                           expires_at: datetime | None) -> BlockOutcome:
        domain = normalise_domain(domain)
        async with self.db.transaction() as conn:
            block = await blocks_store.upsert(conn, kind="domain", value=domain, reason=reason,
                                              expires_at=expires_at)
            removed = 0
            for actor_id in await blocks_store.actors_on_domain(conn, domain):
                removed += await self._drop_follower(conn, actor_id)
            commenters = await blocks_store.commenters_on_domain(conn, domain)
            hidden = await self._hide_comments(conn, commenters, reason)
        await self.reload()
        return BlockOutcome(block, removed, hidden)

    async def _drop_follower(self, conn: Connection, actor_id: str) -> int:
        """Remove the follow and tell them with Reject(Follow): Mastodon then unfollows."""
        follower = await followers_store.get(conn, actor_id)
        if follower is None:
            return 0
        await followers_store.remove(conn, actor_id)
        reject = as2.follow_response("Reject", self.urls.new_activity(), self.urls,
                                     follower.actor, follower.follow_activity_id)
        await publish.to_actor(conn, reject, follower.actor, reaches_blocked=True)
        return 1

    async def _hide_comments(self, conn: Connection, actor_ids: list[str],
                             reason: str | None) -> int:
        """Pending comments are rejected, approved ones removed — the usual removal path."""
        hidden = 0
        why = f"blocked: {reason}" if reason else "blocked"
        for actor_id in actor_ids:
            for comment in await comments_store.by_actor(conn, actor_id, ("pending", "approved")):
                action = Action.REJECT if comment.state == "pending" else Action.REMOVE
                await self.comments.apply(conn, comment, action, decided_by="block", reason=why,
                                          reaches_blocked=True)
                hidden += 1
        return hidden

    async def unblock(self, block_id: int) -> StoredBlock:
        async with self.db.transaction() as conn:
            block = await blocks_store.delete(conn, block_id)
            if block is None:
                raise BlockNotFound(block_id)
            await self._undo_block(conn, block)
        await self.reload()
        return block

    async def _undo_block(self, conn: Connection, block: StoredBlock) -> None:
        if block.kind != "actor" or not block.block_sent:
            return
        actor = await actors_store.get(conn, block.value)
        if actor is None:
            return
        block_activity = {"type": "Block", "actor": self.urls.actor, "object": block.value}
        undo = as2.wrap("Undo", self.urls.new_activity(), self.urls, block_activity,
                        to=[block.value])
        # Sent while the block may still be in force in some process's list: let it through.
        await publish.to_actor(conn, undo, actor, reaches_blocked=True)

    async def lift_expired(self) -> int:
        async with self.db.transaction() as conn:
            expired = await blocks_store.expired(conn)
            for block in expired:
                await blocks_store.delete(conn, block.id)
                await self._undo_block(conn, block)
        if expired:
            log.info("lifted %d expired blocks", len(expired))
            await self.reload()
        return len(expired)

    async def all(self) -> list[StoredBlock]:
        async with self.db.connection() as conn:
            return await blocks_store.all_blocks(conn)

    async def export_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for block in await self.all():
            if block.kind == "domain":
                writer.writerow([block.value, "suspend", "false", "false", block.reason or "",
                                 "false"])
        return out.getvalue()

    async def import_csv(self, text: str) -> list[str]:
        """Mastodon's domain blocklist CSV; `silence` and `noop` rows are skipped (no such level here)."""
        imported: list[str] = []
        for row in csv.DictReader(io.StringIO(text)):
            domain = (row.get("#domain") or row.get("domain") or "").strip()
            severity = (row.get("#severity") or row.get("severity") or "suspend").strip()
            if not domain or severity != "suspend":
                continue
            reason = (row.get("#public_comment") or row.get("public_comment") or "").strip()
            await self.block_domain(domain, reason=reason or None, expires_at=None)
            imported.append(normalise_domain(domain))
        return imported
