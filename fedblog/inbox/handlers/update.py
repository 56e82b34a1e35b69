"""Update: a commenter edits their comment (the previous text is kept), or an actor its profile."""

from __future__ import annotations

from fedblog.federation.vocab import Actor, Note
from fedblog.inbox.context import HandlerContext, Result
from fedblog.inbox.keyring import remote_actor
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    obj = activity.object
    if isinstance(obj, Actor) and obj.id == activity.actor:
        async with ctx.transaction() as conn:
            await actors_store.upsert(conn, remote_actor(obj), ctx.item.body.get("object"))
        ctx.keyring.forget_actor(obj.id)
        return Result.PROCESSED
    if not isinstance(obj, Note) or obj.attributed_to != activity.actor:
        return Result.IGNORED
    async with ctx.transaction() as conn:
        comment = await comments_store.by_ap_id(conn, obj.id, for_update=True)
        if comment is None or comment.actor_id != activity.actor or comment.state == "deleted":
            return Result.IGNORED
        await ctx.comments.remote_update(conn, comment, obj)
    return Result.PROCESSED
