"""Bearer-token authentication for the API: the env token or a hashed token from the database."""

from __future__ import annotations

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
        if not await token_is_valid(request, token):
            return json_error(401, "the API token is not valid",
                              headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return await endpoint(request)

    return guarded
