"""Blocking actors and domains: the block, and everything it undoes, in one transaction."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from fedblog.blog.blocklist import BlockEntry, Blocklist, normalise_domain
from fedblog.blog.comments import CommentService
from fedblog.blog.moderation import Action
from fedblog.federation.client import FederationClient
from fedblog.federation.hosts import BadHost
from fedblog.federation.vocab import is_http_url
from fedblog.federation.webfinger import resolve_handle
from fedblog.models import RemoteActor
from fedblog.outbox import as2, publish
from fedblog.storage import actors as actors_store
from fedblog.storage import blocks as blocks_store
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import settings as settings_store
from fedblog.storage.blocks import StoredBlock, StoredImport
from fedblog.storage.db import Connection, Database
from fedblog.urls import Urls

__all__ = ["BadHost", "BlockNotFound", "BlockOutcome", "BlockService", "BlockTargets",
           "CheckedCsv", "ImportNotFound", "StoredBlock", "StoredImport", "read_blocklist_csv"]

log = logging.getLogger(__name__)
CSV_HEADER = ["#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment",
              "#obfuscate"]


class BlockNotFound(LookupError):
    """No block has that id."""


class ImportNotFound(LookupError):
    """No blocklist import has that id."""


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
        self._imports: set[asyncio.Task[None]] = set()

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
        """BadHost (a ValueError) when `domain` is no host name."""
        domain = normalise_domain(domain)
        async with self.db.transaction() as conn:
            block = await blocks_store.upsert(conn, kind="domain", value=domain, reason=reason,
                                              expires_at=expires_at)
            removed, hidden = await self._undo_domains(conn, [domain], reason)
        await self.reload()
        return BlockOutcome(block, removed, hidden)

    async def _undo_domains(self, conn: Connection, domains: list[str], reason: str | None, *,
                            followers: list[str] | None = None,
                            commenters: list[str] | None = None) -> tuple[int, int]:
        """Followers on the domains (or their subdomains) dropped, their commenters' comments
        hidden; hosts matched in their one spelling, whatever the stored ids' spelling."""
        matcher = Blocklist(BlockEntry("domain", d, None) for d in domains)
        if followers is None:
            followers = await blocks_store.followers(conn)
        if commenters is None:
            commenters = await blocks_store.visible_commenters(conn)
        removed = 0
        for actor_id in followers:
            if matcher.actor_blocked(actor_id):
                removed += await self._drop_follower(conn, actor_id)
        hidden = await self._hide_comments(
            conn, [a for a in commenters if matcher.actor_blocked(a)], reason)
        return removed, hidden

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

    async def start_import(self, text: str) -> StoredImport:
        """Mastodon's domain blocklist CSV, imported in the background: the job at once, its
        progress and report from `get_import` (in the database, so any process can tell)."""
        async with self.db.connection() as conn:
            job = await blocks_store.create_import(conn, count_rows(text))
        task = asyncio.create_task(self._run_import(job.id, text), name=f"block-import-{job.id}")
        self._imports.add(task)
        task.add_done_callback(self._imports.discard)
        return job

    async def get_import(self, import_id: int) -> StoredImport:
        async with self.db.connection() as conn:
            job = await blocks_store.get_import(conn, import_id)
        if job is None:
            raise ImportNotFound(import_id)
        return job

    async def wait_for_imports(self) -> None:
        """Until the imports this process runs are over (for shutdown and benchmarks)."""
        if self._imports:
            await asyncio.gather(*self._imports, return_exceptions=True)

    async def _run_import(self, import_id: int, text: str) -> None:
        try:
            await self._import(import_id, text)
        except Exception as exc:  # the job must end, and say why
            log.exception("block import %d failed", import_id)
            async with self.db.connection() as conn:
                await blocks_store.finish_import(
                    conn, import_id, state="failed", done=0, skipped=[], imported=[],
                    errors=[{"line": None, "error": f"the import failed: {type(exc).__name__}"}])

    async def _import(self, import_id: int, text: str) -> None:
        async with self.db.connection() as conn:
            await blocks_store.import_progress(conn, import_id, state="running", done=0)
        checked = read_blocklist_csv(text)
        errors = [{"line": e.line, "error": e.message} for e in checked.errors]
        skipped = [{"line": r.line, "domain": r.domain, "severity": r.severity, "note": r.note}
                   for r in checked.skipped]
        if errors:  # the whole file is refused: fix the lines and import it again
            async with self.db.connection() as conn:
                await blocks_store.finish_import(conn, import_id, state="failed", done=0,
                                                 errors=errors, skipped=skipped, imported=[])
            return
        done = len(checked.skipped)
        async with self.db.connection() as conn:
            followers = await blocks_store.followers(conn)
            commenters = await blocks_store.visible_commenters(conn)
        imported: list[str] = []
        for start in range(0, len(checked.rows), IMPORT_CHUNK):
            chunk = checked.rows[start:start + IMPORT_CHUNK]
            async with self.db.transaction() as conn:
                await blocks_store.upsert_domains(conn, [(r.domain, r.reason) for r in chunk])
                await self._undo_domains(conn, [r.domain for r in chunk], "imported blocklist",
                                         followers=followers, commenters=commenters)
                done += len(chunk)
                await blocks_store.import_progress(conn, import_id, state="running", done=done)
            imported.extend(r.domain for r in chunk)
        await self.reload()
        async with self.db.connection() as conn:
            await blocks_store.finish_import(conn, import_id, state="done", done=done,
                                             errors=[], skipped=skipped,
                                             imported=list(dict.fromkeys(imported)))


IMPORT_CHUNK = 500  # rows per transaction: progress moves, and no transaction is long
SEVERITY_NOTES = {
    "silence": "not applied: fedblog has no silence (limit) level; block the domain by hand, "
               "or make the row suspend",
    "noop": "skipped: noop blocks nothing",
}


@dataclass(frozen=True)
class CsvProblem:
    line: int
    message: str  # 'line 3: not a domain: "not a domain!!"'


@dataclass(frozen=True)
class CsvRow:
    line: int
    domain: str          # in its one spelling for suspend rows; as written for the others
    severity: str
    reason: str | None
    note: str | None = None


@dataclass(frozen=True)
class CheckedCsv:
    rows: list[CsvRow]       # suspend rows: to be blocked
    skipped: list[CsvRow]    # silence and noop rows, each with its note
    errors: list[CsvProblem]


def _field(row: dict[str | None, str | list[str] | None], name: str) -> str:
    value = row.get(f"#{name}", row.get(name))
    return value.strip() if isinstance(value, str) else ""


def _quoted(value: str) -> str:
    return json.dumps(value[:200], ensure_ascii=False)


def read_blocklist_csv(text: str) -> CheckedCsv:
    """Every row of Mastodon's domain blocklist CSV (`#domain,#severity,#reject_media,
    #reject_reports,#public_comment,#obfuscate`, as Mastodon's
    app/controllers/admin/export_domain_blocks_controller.rb writes it) checked, with its line
    number: suspend rows to block, silence and noop rows reported, bad rows refused."""
    rows: list[CsvRow] = []
    skipped: list[CsvRow] = []
    errors: list[CsvProblem] = []
    reader = csv.DictReader(io.StringIO(text))
    try:
        for row in reader:
            line = reader.line_num
            written = _field(row, "domain")
            severity = (_field(row, "severity") or "suspend").lower()
            reason = _field(row, "public_comment")[:1000] or None
            try:
                domain = normalise_domain(written)
            except BadHost:
                errors.append(CsvProblem(line, f"line {line}: not a domain: {_quoted(written)}"))
                continue
            if severity == "suspend":
                rows.append(CsvRow(line, domain, severity, reason))
            elif severity in SEVERITY_NOTES:
                skipped.append(CsvRow(line, domain, severity, reason, SEVERITY_NOTES[severity]))
            else:
                errors.append(CsvProblem(line, f"line {line}: unknown severity: "
                                               f"{_quoted(severity)}"))
    except csv.Error as exc:
        errors.append(CsvProblem(reader.line_num, f"line {reader.line_num}: not CSV: {exc}"))
    return CheckedCsv(rows, skipped, errors)


def count_rows(text: str) -> int:
    """Data rows in the CSV (its header and blank lines not counted); cheap, for progress."""
    try:
        return max(0, sum(1 for row in csv.reader(io.StringIO(text)) if row) - 1)
    except csv.Error:
        return 0
