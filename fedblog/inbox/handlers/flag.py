"""Flag: a remote server reports a post or comment; it lands in the admin's reports list."""

from __future__ import annotations

from fedblog.inbox.context import HandlerContext, Result
from fedblog.storage import reports as reports_store


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    objects = list(activity.objects) or ([activity.object_id] if activity.object_id else [])
    async with ctx.transaction() as conn:
        await reports_store.insert(conn, activity_id=activity.id, actor_id=activity.actor,
                                   reporter_host=activity.host, content=activity.content,
                                   object_ids=objects)
    return Result.PROCESSED
