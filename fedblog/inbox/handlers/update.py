"""Update: a commenter edits their comment (the previous text is kept), or an actor its profile."""

from __future__ import annotations

from fedblog.federation.vocab import Actor, Note
from fedblog.inbox.context import HandlerContext, Result
from fedblog.inbox.keyring import remote_actor


async def handle(ctx: HandlerContext) -> Result:
    activity, services = ctx.activity, ctx.services
    obj = activity.object
    if isinstance(obj, Actor) and obj.id == activity.actor:
        async with ctx.transaction() as conn:
            await services.actors.update(conn, remote_actor(obj), ctx.item.body.get("object"))
        services.keyring.forget_actor(obj.id)
        return Result.PROCESSED
    if not isinstance(obj, Note) or obj.attributed_to != activity.actor:
        return Result.IGNORED
    async with ctx.transaction() as conn:
        edited = await services.comments.edited_by_commenter(conn, activity.actor, obj)
        if edited is None:
            return Result.IGNORED
    return Result.PROCESSED
