"""Reading API request bodies and query parameters into typed values, with errors that name the
field; the field checks themselves are the blog's (fedblog/blog/fields.py), shared with the desk."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from fedblog.blog.fields import InvalidField as ApiError
from fedblog.blog.fields import boolean, http_url, language, reject_unknown, row_id, text

__all__ = ["ApiError", "boolean", "http_url", "id_param", "json_object", "language",
           "limit_param", "reject_unknown", "text"]

MAX_API_BODY = 1024 * 1024


async def json_object(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_API_BODY:
            raise ApiError(413, f"request body larger than {MAX_API_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def limit_param(request: Request, default: int = 20, maximum: int = 100) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(422, f"limit must be an integer from 1 to {maximum}", "limit")
    return int(raw)


def id_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    found = row_id(raw)
    if found is None:
        raise ApiError(422, f"{name} must be a post id", name)
    return found
