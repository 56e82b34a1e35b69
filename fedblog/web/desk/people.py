"""Followers and follow requests; reports received from other servers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.followers import NoSuchRequest
from fedblog.blog.reports import ReportNotFound
from fedblog.web.desk.common import Form, back, desk_view, render
from fedblog.web.desk.session import Session
from fedblog.web.responses import services

PAGE_SIZE = 50


@desk_view
async def followers_page(request: Request, session: Session, form: Form) -> Response:
    raw = request.query_params.get("offset", "0")
    offset = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0
    followers = services(request).followers
    pending = await followers.page("pending", limit=PAGE_SIZE)
    accepted = await followers.page("accepted", limit=PAGE_SIZE, offset=offset)
    more = offset + PAGE_SIZE if offset + PAGE_SIZE < accepted.total else None
    return render(request, "desk/followers.html", session, pending=pending.items,
                  accepted=accepted.items, total=accepted.total, offset=offset, more=more)


@desk_view
async def accept_follower(request: Request, session: Session, form: Form) -> Response:
    try:
        await services(request).followers.accept(form.get("actor_id"))
    except NoSuchRequest:
        return back(form, "/desk/followers", error="missing")
    return back(form, "/desk/followers", notice="accepted")


@desk_view
async def reject_follower(request: Request, session: Session, form: Form) -> Response:
    try:
        await services(request).followers.reject(form.get("actor_id"))
    except NoSuchRequest:
        return back(form, "/desk/followers", error="missing")
    return back(form, "/desk/followers", notice="refused")


@desk_view
async def reports_page(request: Request, session: Session, form: Form) -> Response:
    everything = request.query_params.get("all") == "1"
    page = await services(request).reports.page(include_resolved=everything, limit=100)
    return render(request, "desk/reports.html", session, reports=page.reports,
                  comments=page.comments, everything=everything)


@desk_view
async def resolve_report(request: Request, session: Session, form: Form) -> Response:
    resolution = form.get("resolution").strip()[:1000] or "resolved"
    try:
        await services(request).reports.resolve(request.path_params["id"], resolution)
    except ReportNotFound:
        return back(form, "/desk/reports", error="missing")
    return back(form, "/desk/reports", notice="resolved")


@desk_view
async def block_reported(request: Request, session: Session, form: Form) -> Response:
    try:
        await services(request).reports.block_reported(request.path_params["id"])
    except ReportNotFound:
        return back(form, "/desk/reports", error="missing")
    return back(form, "/desk/reports", notice="report_blocked")


routes = [
    Route("/desk/followers", followers_page, methods=["GET"]),
    Route("/desk/followers/accept", accept_follower, methods=["POST"]),
    Route("/desk/followers/reject", reject_follower, methods=["POST"]),
    Route("/desk/reports", reports_page, methods=["GET"]),
    Route("/desk/reports/{id:int}/resolve", resolve_report, methods=["POST"]),
    Route("/desk/reports/{id:int}/block", block_reported, methods=["POST"]),
]
