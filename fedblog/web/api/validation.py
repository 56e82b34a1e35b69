"""Reading API request bodies into typed values, with errors that name the field."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

MAX_API_BODY = 1024 * 1024
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


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


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    for name in data:
        if name not in allowed:
            raise ApiError(422, f"unknown field {name!r}", name)


def text(data: dict[str, Any], name: str, *, required: bool = False, max_length: int = 200_000,
         allow_empty: bool = True) -> str | None:
    if name not in data or data[name] is None:
        if required:
            raise ApiError(422, f"{name} is required", name)
        return None
    value = data[name]
    if not isinstance(value, str):
        raise ApiError(422, f"{name} must be a string", name)
    if "\x00" in value:
        raise ApiError(422, f"{name} must not contain NUL characters", name)
    if len(value) > max_length:
        raise ApiError(422, f"{name} is longer than {max_length} characters", name)
    if not allow_empty and not value.strip():
        raise ApiError(422, f"{name} must not be empty", name)
    return value


def language(data: dict[str, Any], name: str = "language") -> str | None:
    value = text(data, name, max_length=35)
    if value is not None and not LANGUAGE.match(value):
        raise ApiError(422, f"{name} must be a language tag such as 'sv' or 'en-GB'", name)
    return value


def boolean(data: dict[str, Any], name: str) -> bool | None:
    if name not in data:
        return None
    value = data[name]
    if not isinstance(value, bool):
        raise ApiError(422, f"{name} must be true or false", name)
    return value


def http_url(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = text(data, name, required=required, max_length=2048)
    if value is not None and not re.match(r"^https?://[^\s/]+", value):
        raise ApiError(422, f"{name} must be an http(s) URL", name)
    return value


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
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(422, f"{name} must be a post id", name)
    return int(raw)
