"""The inbox routes, kept thin: read bounded → verify and store → 202 → process later.

A plain ASGI endpoint rather than a Starlette request handler: the inbox is the one route
remote servers flood, and it needs nothing of Request but the body, the headers and the path.
Errors still go through the application's error handling (an exception becomes the logged 500).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fedblog.federation.signatures import HttpRequestParts
from fedblog.inbox.context import Rejected
from fedblog.services import Services
from fedblog.web.metrics import counted
from fedblog.web.responses import json_error

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """The body is over the configured limit."""


class ClientGone(Exception):
    """The client disconnected before sending the whole body."""


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = (_header(scope, b"content-length") or b"").decode("latin-1")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return body


def request_parts(scope: Scope, body: bytes, base_url: str) -> HttpRequestParts:
    # The signed target is the public URL, whatever proxy sits in front of us.
    # raw_path keeps the %-escapes exactly as the sender signed them.
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
    return HttpRequestParts(scope["method"], f"{base_url}{target}", headers, body)


async def _answer(send: Send, status: int, data: Any) -> None:
    # What json_response(data, status) sends, without building a Response per request.
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()),
                            (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def inbox(scope: Scope, receive: Receive, send: Send) -> None:
    blog: Services = scope["app"].state.services
    settings = blog.runtime.settings
    username = scope.get("path_params", {}).get("username")
    if username is not None and username != blog.runtime.urls.username:
        await json_error(404, "no such actor")(scope, receive, send)
        return
    try:
        body = await read_body(scope, receive, settings.max_body_bytes)
    except BodyTooLarge:
        await json_error(413, f"body larger than {settings.max_body_bytes} bytes")(scope, receive, send)
        return
    except ClientGone:
        await json_error(400, "client disconnected")(scope, receive, send)
        return
    client = scope.get("client")
    sender_ip = client[0] if client else None
    try:
        accepted = await blog.receiver.receive(request_parts(scope, body, settings.base_url), sender_ip)
    except Rejected as exc:
        log.info("inbox refused %s from %s: %s", scope["path"], sender_ip, exc.reason)
        headers = ({"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
                   if exc.retry_after is not None else None)
        await json_error(exc.status, exc.reason, headers=headers)(scope, receive, send)
        return
    if not accepted.duplicate:
        blog.processor.wake()
    await _answer(send, 202, {"status": "duplicate" if accepted.duplicate else "accepted",
                              "id": accepted.activity_id})


class _Asgi:
    """Routes a plain ASGI callable (Starlette wraps bare functions as Request handlers)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.__name__ = app.__name__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


# Each answer's status is counted for /metrics (fedblog_inbox_requests_total).
routes = [
    Route("/inbox", _Asgi(counted(inbox)), methods=["POST"]),
    Route("/users/{username}/inbox", _Asgi(counted(inbox)), methods=["POST"]),
    Route("/actor/inbox", _Asgi(counted(inbox)), methods=["POST"]),
]
