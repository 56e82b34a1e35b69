"""QuoteRequest (FEP-044f, Mastodon 4.5): someone asks to quote a post; the policy or the author answers."""

from __future__ import annotations

from fedblog.federation.vocab import host_of
from fedblog.inbox.context import HandlerContext, Result, RetryLater
from fedblog.inbox.keyring import ActorUnavailable


async def handle(ctx: HandlerContext) -> Result:
    activity, services = ctx.activity, ctx.services
    post_id = services.urls.post_id_of(activity.object_id or "")
    quoting = activity.instrument
    if post_id is None or quoting is None or host_of(quoting) != host_of(activity.actor):
        return Result.IGNORED
    try:
        requester = await services.keyring.actor(activity.actor)
    except ActorUnavailable as exc:
        raise RetryLater(str(exc)) from exc
    body = ctx.item.body if isinstance(ctx.item.body, dict) else {}
    async with ctx.transaction() as conn:
        received = await services.quote_requests.receive(
            conn, activity_id=activity.id, requester=requester, post_id=post_id,
            quoting_object_id=quoting, instrument=body.get("instrument"))
        if not received:
            return Result.IGNORED
    return Result.PROCESSED
