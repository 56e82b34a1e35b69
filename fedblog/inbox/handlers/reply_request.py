"""ReplyRequest (GoToSocial v0.21 and later): a reply asks for approval before it is published.

GoToSocial sends it to the author's inbox only, with the reply Note inlined as `instrument` and
the post (or answer) it answers as `object` (tests/peers/gotosocial.py reply_request_example,
after internal/typeutils/internaltoas.go InteractionReqToASInteractionRequestable). It joins the
same moderation queue as a Create of a reply; the decision answers the request (an Accept with
the request embedded and a ReplyAuthorization as `result`, or a Reject), see
outbox/as2.reply_accept.
"""

from __future__ import annotations

from fedblog.federation.vocab import Activity, Note, carried_note
from fedblog.inbox.context import HandlerContext, PrecheckContext, Rejected, Result
from fedblog.inbox.handlers.create import embedded_or_fetched, precheck_note, store_note


def requested_note(activity: Activity) -> Note | None:
    """The reply a ReplyRequest carries inline, attributed as a Create's object would be."""
    return carried_note(activity, activity.instrument_object)


async def precheck(checks: PrecheckContext, activity: Activity) -> None:
    note = requested_note(activity)
    if note is None:
        return
    if note.in_reply_to != activity.object_id:
        raise Rejected(400, f"the request's object {activity.object_id} is not what its reply "
                            f"answers ({note.in_reply_to})")
    await precheck_note(checks, activity, note)


async def handle(ctx: HandlerContext) -> Result:
    activity = ctx.activity
    note = await embedded_or_fetched(ctx, requested_note(activity), activity.instrument)
    if (note is None or note.attributed_to != activity.actor or not note.in_reply_to
            or note.in_reply_to != activity.object_id):
        return Result.IGNORED
    return await store_note(ctx, note)
