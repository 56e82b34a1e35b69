"""Reading API request bodies and query parameters into typed values, with errors that name the
field; the field checks themselves are the blog's (fedblog/blog/fields.py), shared with the desk."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request

from fedblog.blog.fields import InvalidField as ApiError
from fedblog.blog.fields import boolean, http_url, language, reject_unknown, row_id, text

__all__ = ["ApiError", "boolean", "http_url", "id_param", "json_object", "language",
           "limit_param", "reject_unknown", "text"]

MAX_API_BODY = 1024 * 1024
# NUL cannot be stored in PostgreSQL text, and a lone surrogate (a legal JSON escape) cannot be
# encoded as UTF-8: both are refused at the door rather than found by a renderer or the driver.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _finite(raw: str) -> float:
    number = float(raw)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {raw[:20]}")
    return number


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _first_unstorable(data: Any) -> str | None:
    """The top-level field holding a string (value or key, at any depth) with NUL or a lone
    surrogate, or None. Iterative: the depth was already bounded by the parser."""
    stack: list[tuple[str, Any]] = [(str(key), (key, value)) for key, value in data.items()]
    while stack:
        field, value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return field if not _UNSTORABLE.search(field) else "(a field name)"
        elif isinstance(value, dict):
            stack.extend((field, item) for pair in value.items() for item in pair)
        elif isinstance(value, list | tuple):
            stack.extend((field, item) for item in value)
    return None


async def json_object(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_API_BODY:
            raise ApiError(413, f"request body larger than {MAX_API_BODY} bytes")
    try:
        data = json.loads(body, parse_float=_finite, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    field = _first_unstorable(data)
    if field is not None:
        raise ApiError(400, "text must not contain NUL (\\u0000) or lone surrogates",
                       None if field == "(a field name)" else field)
    return data


def limit_param(request: Request, default: int = 20, maximum: int = 100) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= maximum:
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
