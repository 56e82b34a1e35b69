"""Wraps API endpoints: token required, ApiError turned into a JSON error response."""

from __future__ import annotations

from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from fedblog.web.api.auth import Endpoint, requires_token
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_error


def api(endpoint: Endpoint) -> Endpoint:
    @wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            return json_error(exc.status, exc.message, field=exc.field)

    return requires_token(wrapped)
