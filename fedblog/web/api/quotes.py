"""/api/v1/quote-requests: the author answers requests to quote a post (FEP-044f)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.quotes import (
    QUOTE_TRANSITIONS,
    QuoteRequest,
    QuoteRequestNotFound,
    QuoteTransitionError,
)
from fedblog.outbox.as2 import iso
from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services

STATES = ("pending", "approved", "rejected", "revoked")


def quote_json(request: QuoteRequest) -> dict[str, Any]:
    return {
        "id": request.id, "activity_id": request.activity_id, "actor_id": request.actor_id,
        "post_id": request.post_id, "quoting_object_id": request.quoting_object_id,
        "state": request.state, "received_at": iso(request.received_at),
        "decided_at": iso(request.decided_at) if request.decided_at else None,
    }


@api
async def list_requests(request: Request) -> Response:
    state = request.query_params.get("state")
    if state is not None and state not in STATES:
        raise ApiError(422, f"state must be one of {', '.join(STATES)}", "state")
    rows = await services(request).quotes.requests(state, v.limit_param(request))
    return json_response({"items": [quote_json(r) for r in rows]})


def _decision(action: str) -> Any:
    @api
    async def endpoint(request: Request) -> Response:
        try:
            decided = await services(request).quotes.decide(request.path_params["id"], action)
        except QuoteRequestNotFound as exc:
            raise ApiError(404, "no such quote request") from exc
        except QuoteTransitionError as exc:
            raise ApiError(409, str(exc)) from exc
        return json_response(quote_json(decided))

    endpoint.__name__ = f"{action}_quote_request"
    return endpoint


routes = [
    Route("/api/v1/quote-requests", list_requests, methods=["GET"]),
    *[Route(f"/api/v1/quote-requests/{{id:int}}/{action}", _decision(action), methods=["POST"])
      for action in QUOTE_TRANSITIONS],
]
