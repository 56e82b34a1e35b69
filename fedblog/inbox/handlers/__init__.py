"""One module per activity type; the registry maps the type to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fedblog.inbox.context import HandlerContext, Result
from fedblog.inbox.handlers import delete, follow, undo

Handler = Callable[[HandlerContext], Awaitable[Result]]

HANDLERS: dict[str, Handler] = {
    "Follow": follow.handle,
    "Undo": undo.handle,
    "Delete": delete.handle,
}
