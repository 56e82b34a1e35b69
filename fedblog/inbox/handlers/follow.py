"""Follow: a remote actor follows the blog; accepted at once or held for the author."""

from __future__ import annotations

import logging

from fedblog.inbox.context import HandlerContext, Result, RetryLater
from fedblog.inbox.keyring import ActorUnavailable
from fedblog.outbox import as2, publish
from fedblog.storage import followers as followers_store
from fedblog.storage import settings as settings_store

log = logging.getLogger(__name__)


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    urls = ctx.runtime.urls
    if activity.object_id != urls.actor:
        log.info("ignoring Follow of %s, not the blog", activity.object_id)
        return Result.IGNORED
    try:
        follower = await ctx.keyring.actor(activity.actor)
    except ActorUnavailable as exc:
        raise RetryLater(str(exc)) from exc
    async with ctx.transaction() as conn:
        settings = await settings_store.get_settings(conn)
        existing = await followers_store.get(conn, follower.id)
        already = existing is not None and existing.state == "accepted"
        state = "accepted" if already or not settings.manually_approves_followers else "pending"
        await followers_store.upsert(conn, follower.id, activity.id, state)
        if state == "accepted":
            accept = as2.follow_response("Accept", urls.new_activity(), urls, follower, activity.id)
            await publish.to_actor(conn, accept, follower)
    return Result.PROCESSED
