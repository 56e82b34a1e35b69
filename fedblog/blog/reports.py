"""Reports: turning a received report into blocks, and reporting a commenter to their server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fedblog.blog.blocks import BlockService
from fedblog.models import Comment
from fedblog.outbox import as2, publish
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import reports as reports_store
from fedblog.storage.db import Database
from fedblog.urls import Urls


class ReportNotFound(LookupError):
    """No report (or comment) has that id."""


class CannotReport(ValueError):
    """This comment cannot be reported to a server."""


@dataclass(frozen=True)
class ReportsPage:
    """Reports, newest first, with the stored comments they name (two queries)."""

    reports: list[dict[str, Any]]
    comments: dict[str, Comment]     # by ActivityPub id


class ReportService:
    def __init__(self, db: Database, urls: Urls, blocks: BlockService) -> None:
        self.db = db
        self.urls = urls
        self.blocks = blocks

    async def received(self, *, include_resolved: bool, limit: int) -> list[dict[str, Any]]:
        """Reports, newest first: open ones, or all."""
        async with self.db.connection() as conn:
            return await reports_store.list_open(conn, include_resolved=include_resolved,
                                                 limit=limit)

    async def page(self, *, include_resolved: bool, limit: int) -> ReportsPage:
        async with self.db.connection() as conn:
            reports = await reports_store.list_open(conn, include_resolved=include_resolved,
                                                    limit=limit)
            named = sorted({object_id for r in reports for object_id in r["object_ids"]})
            comments = await comments_store.by_ap_ids(conn, named) if named else {}
        return ReportsPage(reports, comments)

    async def resolve(self, report_id: int, resolution: str) -> None:
        """Close an open report; ReportNotFound when there is no such open report."""
        async with self.db.connection() as conn:
            if not await reports_store.resolve(conn, report_id, resolution):
                raise ReportNotFound(report_id)

    async def block_reported(self, report_id: int) -> list[str]:
        """Block the authors of the reported comments (or reported actors) and resolve."""
        async with self.db.connection() as conn:
            report = await reports_store.get(conn, report_id)
            if report is None:
                raise ReportNotFound(report_id)
            targets: list[str] = []
            for object_id in report["object_ids"]:
                comment = await comments_store.by_ap_id(conn, object_id)
                if comment is not None and not comment.is_author:
                    targets.append(comment.actor_id)
                elif await actors_store.get(conn, object_id) is not None:
                    targets.append(object_id)
        blocked = sorted(set(targets))
        for actor_id in blocked:
            async with self.db.connection() as conn:
                actor = await actors_store.get(conn, actor_id)
            await self.blocks.block_actor(actor_id, actor, reason=f"report {report_id}",
                                          expires_at=None)
        async with self.db.connection() as conn:
            await reports_store.resolve(conn, report_id, "blocked: " + ", ".join(blocked))
        return blocked

    async def report_commenter(self, comment_id: int, reason: str) -> str:
        """Flag from the instance actor to the commenter's server, which files it for its moderators."""
        urls = self.urls
        async with self.db.transaction() as conn:
            comment = await comments_store.get(conn, comment_id)
            if comment is None:
                raise ReportNotFound(comment_id)
            if comment.is_author:
                raise CannotReport("the author's own answers cannot be reported")
            commenter = await actors_store.get(conn, comment.actor_id)
            if commenter is None:
                raise CannotReport("the commenter's server is not known")
            flag = as2.wrap("Flag", urls.new_activity(), urls, [comment.actor_id, comment.ap_id],
                            to=[comment.actor_id])
            flag["actor"] = urls.instance_actor
            flag["content"] = reason
            await publish.to_actor(conn, flag, commenter, signer="instance",
                                   inbox=commenter.delivery_inbox, reaches_blocked=True)
        return str(flag["id"])
