"""Bearer-token authentication for the API: the env token or a hashed token from the database."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from fedblog.blog.tokens import create_token, hash_token, new_token
from fedblog.web.responses import json_error, services

__all__ = ["Endpoint", "bearer_token", "create_token", "hash_token", "new_token",
           "requires_token", "token_is_valid"]

Endpoint = Callable[[Request], Awaitable[Response]]


async def token_is_valid(request: Request, token: str) -> bool:
    blog = services(request)
    return await blog.tokens.is_valid(token, blog.runtime.settings.api_token)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def requires_token(endpoint: Endpoint) -> Endpoint:
    @wraps(endpoint)
    async def guarded(request: Request) -> Response:
        token = bearer_token(request)
        if token is None:
            return json_error(401, "an API token is required (Authorization: Bearer …)",
                              headers={"WWW-Authenticate": "Bearer"})
        # Failed tokens are throttled per client and per token prefix (blog/sessions.py); a
        # right token costs nothing, so a flood of wrong ones does not lock the author out.
        throttle = services(request).login_attempts
        client = request.client.host if request.client else "-"
        wait = throttle.wait(client, token, time.monotonic())
        if wait is not None:
            return json_error(429, "too many failed API tokens from this client; wait",
                              headers={"Retry-After": str(max(1, math.ceil(wait)))})
        if not await token_is_valid(request, token):
            throttle.failed(client, token, time.monotonic())
            return json_error(401, "the API token is not valid",
                              headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return await endpoint(request)

    return guarded
