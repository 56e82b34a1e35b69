"""Like and Announce: counted on the blog's posts and the author's answers, with who gave them."""

from __future__ import annotations

from fedblog.inbox.context import HandlerContext, Result

KINDS = {"Like": "like", "Announce": "announce"}


def is_ours(ctx: HandlerContext, object_id: str | None) -> bool:
    urls = ctx.services.urls
    return object_id is not None and (
        urls.post_id_of(object_id) is not None or urls.comment_id_of(object_id) is not None)


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    if not is_ours(ctx, activity.object_id):
        return Result.IGNORED
    assert activity.object_id is not None
    async with ctx.transaction() as conn:
        await ctx.services.reactions.record(conn, activity_id=activity.id,
                                            kind=KINDS[activity.type], actor_id=activity.actor,
                                            object_id=activity.object_id)
    return Result.PROCESSED
