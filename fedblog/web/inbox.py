"""The inbox routes, kept thin: read bounded → verify and store → 202 → process later."""

from __future__ import annotations

import logging
import math

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.federation.signatures import HttpRequestParts
from fedblog.inbox.context import Rejected
from fedblog.web.responses import json_error, json_response, services

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """The body is over the configured limit."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def request_parts(request: Request, body: bytes, base_url: str) -> HttpRequestParts:
    # The signed target is the public URL, whatever proxy sits in front of us.
    # raw_path keeps the %-escapes exactly as the sender signed them.
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
    return HttpRequestParts(request.method, f"{base_url}{target}", headers, body)


async def inbox(request: Request) -> Response:
    blog = services(request)
    settings = blog.runtime.settings
    username = request.path_params.get("username")
    if username is not None and username != blog.runtime.urls.username:
        return json_error(404, "no such actor")
    try:
        body = await read_body(request, settings.max_body_bytes)
    except BodyTooLarge:
        return json_error(413, f"body larger than {settings.max_body_bytes} bytes")
    except ClientDisconnect:
        return json_error(400, "client disconnected")
    sender_ip = request.client.host if request.client else None
    try:
        accepted = await blog.receiver.receive(request_parts(request, body, settings.base_url), sender_ip)
    except Rejected as exc:
        log.info("inbox refused %s from %s: %s", request.url.path, sender_ip, exc.reason)
        headers = ({"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
                   if exc.retry_after is not None else None)
        return json_error(exc.status, exc.reason, headers=headers)
    if not accepted.duplicate:
        blog.processor.wake()
    return json_response({"status": "duplicate" if accepted.duplicate else "accepted",
                          "id": accepted.activity_id}, status=202)


routes = [
    Route("/inbox", inbox, methods=["POST"]),
    Route("/users/{username}/inbox", inbox, methods=["POST"]),
    Route("/actor/inbox", inbox, methods=["POST"]),
]
