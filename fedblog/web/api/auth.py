"""Bearer-token authentication for the API: the env token or a hashed token from the database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from fedblog.storage import tokens as tokens_store
from fedblog.storage.db import Database
from fedblog.web.responses import json_error, services

Endpoint = Callable[[Request], Awaitable[Response]]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return "fb_" + secrets.token_urlsafe(32)


async def create_token(db: Database, label: str = "") -> str:
    token = new_token()
    async with db.connection() as conn:
        await tokens_store.insert(conn, hash_token(token), label)
    return token


async def token_is_valid(request: Request, token: str) -> bool:
    runtime = services(request).runtime
    configured = runtime.settings.api_token
    if configured and hmac.compare_digest(configured.encode(), token.encode()):
        return True
    async with runtime.db.connection() as conn:
        return await tokens_store.is_active(conn, hash_token(token))


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
