"""Undo: a remote actor takes back its Follow, Like or Announce."""

from __future__ import annotations

import logging

from fedblog.inbox.context import HandlerContext, Result

log = logging.getLogger(__name__)
REACTIONS = {"Like": "like", "Announce": "announce"}


async def _inner_type(ctx: HandlerContext) -> str | None:
    inner = ctx.activity.object
    inner_type = getattr(inner, "type", None)
    if inner_type is not None or ctx.activity.object_id is None:
        return inner_type
    # Only an id: look it up among what we recorded.
    kind = await ctx.services.reactions.kind_of(ctx.activity.object_id)
    if kind is not None:
        return "Like" if kind == "like" else "Announce"
    if await ctx.services.follows.is_follow(ctx.activity.actor, ctx.activity.object_id):
        return "Follow"
    return None


async def handle(ctx: HandlerContext) -> Result:
    activity, services = ctx.activity, ctx.services
    inner_type = await _inner_type(ctx)
    # The signer is the actor (checked on receipt), so it may only undo its own activities.
    if inner_type == "Follow":
        async with ctx.transaction() as conn:
            await services.follows.undo(conn, activity.actor)
        return Result.PROCESSED
    if inner_type in REACTIONS:
        inner = activity.object
        object_id = getattr(inner, "object_id", None)
        async with ctx.transaction() as conn:
            await services.reactions.undo(conn, kind=REACTIONS[inner_type], actor_id=activity.actor,
                                          activity_id=activity.object_id, object_id=object_id)
        return Result.PROCESSED
    log.info("ignoring Undo of %s %s", inner_type, activity.object_id)
    return Result.IGNORED
