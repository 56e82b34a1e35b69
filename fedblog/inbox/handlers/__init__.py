"""One module per activity type; the registry maps the type to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fedblog.federation.vocab import Activity
from fedblog.inbox.context import HandlerContext, PrecheckContext, Result
from fedblog.inbox.handlers import (
    create,
    delete,
    flag,
    follow,
    like,
    quote_request,
    reply_request,
    undo,
    update,
)

Handler = Callable[[HandlerContext], Awaitable[Result]]
Precheck = Callable[[PrecheckContext, Activity], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "Follow": follow.handle,
    "Undo": undo.handle,
    "Create": create.handle,
    "Update": update.handle,
    "Delete": delete.handle,
    "Like": like.handle,
    "Announce": like.handle,
    "Flag": flag.handle,
    "QuoteRequest": quote_request.handle,
    "ReplyRequest": reply_request.handle,
}

# Checks that must refuse a request before it is stored (they answer the sender).
PRECHECKS: dict[str, Precheck] = {
    "Create": create.precheck,
    "ReplyRequest": reply_request.precheck,
}
