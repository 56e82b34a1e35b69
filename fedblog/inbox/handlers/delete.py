"""Delete: so far, an actor deleting itself — it stops following, its keys are forgotten."""

from __future__ import annotations

from fedblog.inbox.context import HandlerContext, Result
from fedblog.storage import actors as actors_store
from fedblog.storage import followers as followers_store


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    if activity.object_id != activity.actor:
        return Result.IGNORED
    async with ctx.transaction() as conn:
        await followers_store.remove(conn, activity.actor)
        await actors_store.mark_gone(conn, activity.actor)
    ctx.keyring.forget_actor(activity.actor)
    return Result.PROCESSED
