"""Form bodies (application/x-www-form-urlencoded), read with a size bound."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_FORM_BYTES = 1024 * 1024


async def read_form_pairs(request: Request, limit: int = MAX_FORM_BYTES) -> list[tuple[str, str]]:
    """The body as (name, value) pairs; ValueError when it is larger than `limit`."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ValueError(f"form larger than {limit} bytes")
    # Bad UTF-8 becomes U+FFFD; NUL (%00), which no text column can hold, is dropped.
    return [(name.replace("\x00", ""), value.replace("\x00", ""))
            for name, value in parse_qsl(body.decode("utf-8", errors="replace"),
                                         keep_blank_values=True)]


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The form's fields, the last value of each name."""
    return dict(await read_form_pairs(request, limit))
