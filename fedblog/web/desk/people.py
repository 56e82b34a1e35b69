"""Followers and follow requests; reports received from other servers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.followers import NoSuchRequest
from fedblog.blog.reports import ReportNotFound
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import reports as reports_store
from fedblog.web.desk.common import Form, back, desk_view, render
from fedblog.web.desk.session import Session
from fedblog.web.responses import services

PAGE_SIZE = 50


@desk_view
async def followers_page(request: Request, session: Session, form: Form) -> Response:
    raw = request.query_params.get("offset", "0")
    offset = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    async with services(request).runtime.db.connection() as conn:
        pending = await followers_store.list_page(conn, state="pending", limit=PAGE_SIZE)
        accepted = await followers_store.list_page(conn, state="accepted", limit=PAGE_SIZE,
                                                   offset=offset)
        total = await followers_store.count(conn, "accepted")
    more = offset + PAGE_SIZE if offset + PAGE_SIZE < total else None
    return render(request, "desk/followers.html", session, pending=pending, accepted=accepted,
                  total=total, offset=offset, more=more)


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
    async with services(request).runtime.db.connection() as conn:
        reports = await reports_store.list_open(conn, include_resolved=everything, limit=100)
        comments = {object_id: found for r in reports for object_id in r["object_ids"]
                    if (found := await comments_store.by_ap_id(conn, object_id)) is not None}
    return render(request, "desk/reports.html", session, reports=reports, comments=comments,
                  everything=everything)


@desk_view
async def resolve_report(request: Request, session: Session, form: Form) -> Response:
    resolution = form.get("resolution").strip()[:1000] or "resolved"
    async with services(request).runtime.db.connection() as conn:
        if not await reports_store.resolve(conn, request.path_params["id"], resolution):
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
