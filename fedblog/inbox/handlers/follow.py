"""Follow: a remote actor follows the blog; accepted at once or held for the author."""

from __future__ import annotations

import logging

from fedblog.inbox.context import HandlerContext, Result, RetryLater
from fedblog.inbox.keyring import ActorUnavailable

log = logging.getLogger(__name__)


async def handle(ctx: HandlerContext) -> Result:
    activity, services = ctx.activity, ctx.services
    if activity.object_id != services.urls.actor:
        log.info("ignoring Follow of %s, not the blog", activity.object_id)
        return Result.IGNORED
    try:
        follower = await services.keyring.actor(activity.actor)
    except ActorUnavailable as exc:
        raise RetryLater(str(exc)) from exc
    async with ctx.transaction() as conn:
        await services.follows.receive(conn, follower, activity.id)
    return Result.PROCESSED
