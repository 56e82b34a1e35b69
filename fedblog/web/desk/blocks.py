"""Blocks from the desk: accounts (by handle or URL) and whole servers, through BlockService —
the follow is dropped with Reject(Follow), a Block goes to the actor, comments leave the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.blocks import BadHost, BlockNotFound
from fedblog.federation.webfinger import HandleError
from fedblog.web.desk.common import Form, back, desk_view, render
from fedblog.web.desk.session import Session
from fedblog.web.responses import services

MAX_DAYS = 3650


class Unusable(ValueError):
    """The form names nothing that can be blocked; the message says why."""


async def _page(request: Request, session: Session, *, status: int = 200,
                error: str | None = None, form: Form | None = None) -> Response:
    blocks = await services(request).blocks.all()
    return render(request, "desk/blocks.html", session, status=status, error=error,
                  blocks=blocks, form=form or Form(), now=datetime.now(UTC))


@desk_view
async def blocks_page(request: Request, session: Session, form: Form) -> Response:
    return await _page(request, session)


def _expiry(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    if not (raw.strip().isascii() and raw.strip().isdigit()) or not 0 < int(raw) <= MAX_DAYS:
        raise Unusable(f"expires after must be a number of days from 1 to {MAX_DAYS}")
    return datetime.now(UTC) + timedelta(days=int(raw))


async def _block(request: Request, form: Form) -> str:
    """Block what the form names; the notice to show. Unusable when it names nothing usable."""
    blog = services(request)
    reason = form.get("reason").strip()[:1000] or None
    expires_at = _expiry(form.get("expires_days"))
    actor_ref, domain = form.get("actor").strip(), form.get("domain").strip()
    if bool(actor_ref) == bool(domain):
        raise Unusable("Give either an account or a server.")
    if actor_ref:
        try:
            actor_id, actor = await blog.block_targets.resolve(actor_ref[:2048])
        except HandleError as exc:
            raise Unusable(str(exc)) from exc
        if actor_id == blog.runtime.urls.actor:
            raise Unusable("The blog cannot block itself.")
        await blog.blocks.block_actor(actor_id, actor, reason=reason, expires_at=expires_at)
    else:
        if len(domain) > 253 or "/" in domain.split("://")[-1].rstrip("/"):
            raise Unusable("A server is a host name, like spam.example.")
        try:
            await blog.blocks.block_domain(domain, reason=reason, expires_at=expires_at)
        except BadHost as exc:
            raise Unusable("A server is a host name, like spam.example.") from exc
    return "blocked"


@desk_view
async def add_block(request: Request, session: Session, form: Form) -> Response:
    try:
        notice = await _block(request, form)
    except Unusable as exc:
        return await _page(request, session, status=422, error=str(exc), form=form)
    return back(form, "/desk/blocks", notice=notice)


@desk_view
async def remove_block(request: Request, session: Session, form: Form) -> Response:
    try:
        await services(request).blocks.unblock(request.path_params["id"])
    except BlockNotFound:
        return back(form, "/desk/blocks", error="missing")
    return back(form, "/desk/blocks", notice="unblocked")


routes = [
    Route("/desk/blocks", blocks_page, methods=["GET"]),
    Route("/desk/blocks", add_block, methods=["POST"]),
    Route("/desk/blocks/{id:int}/delete", remove_block, methods=["POST"]),
]
