"""Delete: a commenter deletes a comment, or an actor deletes itself (all its traces go)."""

from __future__ import annotations

from fedblog.inbox.context import HandlerContext, Result


async def handle(ctx: HandlerContext) -> Result:
    activity, services = ctx.activity, ctx.services
    if activity.object_id == activity.actor:
        # Nothing is fetched: the actor is gone, and its signature was checked on receipt.
        async with ctx.transaction() as conn:
            await services.actors.forget(conn, activity)
        services.keyring.forget_actor(activity.actor)
        return Result.PROCESSED
    if activity.object_id is None:
        return Result.IGNORED
    async with ctx.transaction() as conn:
        deleted = await services.comments.deleted_by_commenter(conn, activity.actor,
                                                               activity.object_id)
        if deleted is None:
            return Result.IGNORED
    return Result.PROCESSED
