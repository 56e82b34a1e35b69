"""Checking the fields of the author's commands (from the API's JSON or the desk's forms) into
typed values, with errors that name the field."""

from __future__ import annotations

import re
from typing import Any

LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class InvalidField(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    for name in data:
        if name not in allowed:
            raise InvalidField(422, f"unknown field {name!r}", name)


def text(data: dict[str, Any], name: str, *, required: bool = False, max_length: int = 200_000,
         allow_empty: bool = True) -> str | None:
    if name not in data or data[name] is None:
        if required:
            raise InvalidField(422, f"{name} is required", name)
        return None
    value = data[name]
    if not isinstance(value, str):
        raise InvalidField(422, f"{name} must be a string", name)
    if "\x00" in value:
        raise InvalidField(422, f"{name} must not contain NUL characters", name)
    if len(value) > max_length:
        raise InvalidField(422, f"{name} is longer than {max_length} characters", name)
    if not allow_empty and not value.strip():
        raise InvalidField(422, f"{name} must not be empty", name)
    return value


def language(data: dict[str, Any], name: str = "language") -> str | None:
    value = text(data, name, max_length=35)
    if value is not None and not LANGUAGE.match(value):
        raise InvalidField(422, f"{name} must be a language tag such as 'sv' or 'en-GB'", name)
    return value


def boolean(data: dict[str, Any], name: str) -> bool | None:
    if name not in data:
        return None
    value = data[name]
    if not isinstance(value, bool):
        raise InvalidField(422, f"{name} must be true or false", name)
    return value


def http_url(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = text(data, name, required=required, max_length=2048)
    if value is not None and not re.match(r"^https?://[^\s/]+", value):
        raise InvalidField(422, f"{name} must be an http(s) URL", name)
    return value


def row_id(raw: str | None) -> int | None:
    """A row id (a `before` cursor, say) as a query string carries it; None when it is not one."""
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() and len(raw) < 19 else None
