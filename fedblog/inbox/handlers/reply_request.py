"""ReplyRequest (GoToSocial v0.21 and later): a reply asks for approval before it is published.

GoToSocial sends it to the author's inbox only, with the reply Note inlined as `instrument` and
the post (or answer) it answers as `object` (tests/peers/gotosocial.py reply_request_example,
after internal/typeutils/internaltoas.go InteractionReqToASInteractionRequestable). It joins the
same moderation queue as a Create of a reply; the decision answers the request (an Accept with
the request embedded and a ReplyAuthorization as `result`, or a Reject), see
outbox/as2.reply_accept.
"""

from __future__ import annotations

import dataclasses

from fedblog.federation.vocab import Activity, Note, host_of
from fedblog.inbox.context import HandlerContext, PrecheckContext, Rejected, Result, RetryLater
from fedblog.inbox.handlers.create import fetch_note, precheck_note, store_note
from fedblog.inbox.parents import FetchFailed, Unreachable


def requested_note(activity: Activity) -> Note | None:
    """The reply a ReplyRequest carries inline, attributed as a Create's object would be."""
    note = activity.instrument_object
    if not isinstance(note, Note):
        return None
    if note.attributed_to is None and host_of(note.id) == host_of(activity.actor):
        return dataclasses.replace(note, attributed_to=activity.actor)
    return note


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
    note = requested_note(activity)
    if note is None and activity.instrument:
        try:
            note = await fetch_note(ctx, activity.instrument)
        except Unreachable:
            return Result.IGNORED
        except FetchFailed as exc:
            raise RetryLater(str(exc)) from exc
    if (note is None or note.attributed_to != activity.actor or not note.in_reply_to
            or note.in_reply_to != activity.object_id):
        return Result.IGNORED
    return await store_note(ctx, note)
