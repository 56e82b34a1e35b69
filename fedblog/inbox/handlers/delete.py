"""Delete: a commenter deletes a comment, or an actor deletes itself (all its traces go)."""

from __future__ import annotations

from fedblog.inbox.context import HandlerContext, Result
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import reactions as reactions_store


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    if activity.object_id == activity.actor:
        # Nothing is fetched: the actor is gone, and its signature was checked on receipt.
        async with ctx.transaction() as conn:
            await followers_store.remove(conn, activity.actor)
            await ctx.comments.actor_deleted(conn, activity)
            await reactions_store.remove_by_actor(conn, activity.actor)
            await actors_store.mark_gone(conn, activity.actor)
        ctx.keyring.forget_actor(activity.actor)
        return Result.PROCESSED
    if activity.object_id is None:
        return Result.IGNORED
    async with ctx.transaction() as conn:
        comment = await comments_store.by_ap_id(conn, activity.object_id, for_update=True)
        if comment is None or comment.actor_id != activity.actor or comment.state == "deleted":
            return Result.IGNORED
        await ctx.comments.remote_delete(conn, comment, "deleted by its author")
    return Result.PROCESSED
