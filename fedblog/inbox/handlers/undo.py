"""Undo: a remote actor takes back an earlier activity (so far: its Follow)."""

from __future__ import annotations

import logging

from fedblog.inbox.context import HandlerContext, Result
from fedblog.storage import followers as followers_store

log = logging.getLogger(__name__)


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    inner = activity.object
    inner_type = getattr(inner, "type", None)
    async with ctx.transaction() as conn:
        follower = await followers_store.get(conn, activity.actor)
        if follower is None:
            return Result.IGNORED
        undoes_follow = inner_type == "Follow" or activity.object_id == follower.follow_activity_id
        if not undoes_follow:
            log.info("ignoring Undo of %s %s", inner_type, activity.object_id)
            return Result.IGNORED
        # The signer is the actor (checked on receipt), so it may only undo its own follow.
        await followers_store.remove(conn, activity.actor)
    return Result.PROCESSED
