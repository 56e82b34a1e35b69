"""Response helpers shared by every route: AS2 JSON, JSON errors, content negotiation."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fedblog.services import Services

AS2_MEDIA_TYPE = "application/activity+json"
AS2_TYPES = ("application/activity+json", "application/ld+json")


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def wants_as2(request: Request) -> bool:
    """True for ActivityPub clients, False for browsers (which ask for text/html first)."""
    accept = request.headers.get("accept", "").lower()
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        if media in AS2_TYPES:
            return True
        if media == "text/html":
            return False
    return False


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def as2_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(data), status_code=status, headers={"Vary": "Accept", **(headers or {})},
                    media_type=f"{AS2_MEDIA_TYPE}; charset=utf-8")


def json_response(data: Any, status: int = 200, media_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(data), status_code=status, media_type=media_type, headers=headers)


def json_error(status: int, message: str, *, field: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return json_response(body, status, headers=headers)
