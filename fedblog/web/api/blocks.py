"""/api/v1/blocks: shut out an actor or a whole domain; Mastodon's domain blocklist CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.blocks import BadHost, BlockNotFound, ImportNotFound, StoredBlock, StoredImport
from fedblog.blog.reports import CannotReport, ReportNotFound
from fedblog.federation.webfinger import HandleError
from fedblog.models import RemoteActor
from fedblog.outbox.as2 import iso
from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services

MAX_CSV = 5 * 1024 * 1024
MAX_EXPIRY = 10 * 365 * 86400  # seconds


def block_json(block: StoredBlock) -> dict[str, Any]:
    return {"id": block.id, "kind": block.kind, "value": block.value, "reason": block.reason,
            "created_at": iso(block.created_at),
            "expires_at": iso(block.expires_at) if block.expires_at else None}


def _expiry(data: dict[str, Any]) -> datetime | None:
    if data.get("expires_in") is not None:
        seconds = data["expires_in"]
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not number or not 0 < seconds <= MAX_EXPIRY:
            raise ApiError(422, "expires_in must be a number of seconds, at most ten years",
                           "expires_in")
        return datetime.now(UTC) + timedelta(seconds=seconds)
    raw = v.text(data, "expires_at", max_length=40)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, "expires_at must be an ISO 8601 date-time", "expires_at") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def resolve_actor(request: Request, ref: str) -> tuple[str, RemoteActor | None]:
    try:
        return await services(request).block_targets.resolve(ref)
    except HandleError as exc:
        raise ApiError(422, str(exc), "actor") from exc


@api
async def create_block(request: Request) -> Response:
    blog = services(request)
    data = await v.json_object(request)
    v.reject_unknown(data, {"actor", "domain", "reason", "expires_at", "expires_in"})
    reason = v.text(data, "reason", max_length=1000)
    expires_at = _expiry(data)
    actor_ref = v.text(data, "actor", max_length=2048)
    domain = v.text(data, "domain", max_length=253)
    if (actor_ref is None) == (domain is None):
        raise ApiError(422, "give exactly one of actor (URL or @user@host) and domain", "actor")
    if actor_ref is not None:
        actor_id, actor = await resolve_actor(request, actor_ref.strip())
        if actor_id == blog.runtime.urls.actor:
            raise ApiError(422, "the blog cannot block itself", "actor")
        outcome = await blog.blocks.block_actor(actor_id, actor, reason=reason,
                                                expires_at=expires_at)
    else:
        assert domain is not None
        try:
            outcome = await blog.blocks.block_domain(domain, reason=reason, expires_at=expires_at)
        except BadHost as exc:
            raise ApiError(422, f"domain must be a host name: {exc}", "domain") from exc
    return json_response({**block_json(outcome.block),
                          "followers_removed": outcome.followers_removed,
                          "comments_hidden": outcome.comments_hidden}, 201)


@api
async def list_blocks(request: Request) -> Response:
    return json_response({"items": [block_json(b) for b in await services(request).blocks.all()]})


@api
async def delete_block(request: Request) -> Response:
    try:
        await services(request).blocks.unblock(request.path_params["id"])
    except BlockNotFound as exc:
        raise ApiError(404, "no such block") from exc
    return Response(status_code=204)


@api
async def export_domains(request: Request) -> Response:
    return Response(await services(request).blocks.export_csv(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="domain_blocks.csv"'})


@api
async def import_domains(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_CSV:
        raise ApiError(413, f"the CSV is larger than {MAX_CSV} bytes")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "the CSV is not UTF-8") from exc
    if "#domain" not in text.split("\n", 1)[0] and "domain" not in text.split("\n", 1)[0]:
        raise ApiError(400, "the CSV needs a header row starting with #domain")
    job = await services(request).blocks.start_import(text)
    location = f"/api/v1/blocks/imports/{job.id}"
    return json_response({**import_json(job), "url": location}, 202,
                         headers={"Location": location})


def import_json(job: StoredImport) -> dict[str, Any]:
    return {"id": job.id, "state": job.state, "total": job.total, "done": job.done,
            "errors": job.errors, "skipped": job.skipped, "imported": job.imported,
            "created_at": iso(job.created_at),
            "finished_at": iso(job.finished_at) if job.finished_at else None}


@api
async def get_import(request: Request) -> Response:
    try:
        job = await services(request).blocks.get_import(request.path_params["id"])
    except ImportNotFound as exc:
        raise ApiError(404, "no such import") from exc
    return json_response(import_json(job))


@api
async def block_from_report(request: Request) -> Response:
    try:
        blocked = await services(request).reports.block_reported(request.path_params["id"])
    except ReportNotFound as exc:
        raise ApiError(404, "no such report") from exc
    return json_response({"blocked": blocked})


@api
async def report_commenter(request: Request) -> Response:
    data = await v.json_object(request)
    v.reject_unknown(data, {"reason"})
    reason = v.text(data, "reason", required=True, max_length=1000, allow_empty=False) or ""
    try:
        flag_id = await services(request).reports.report_commenter(request.path_params["id"],
                                                                   reason)
    except ReportNotFound as exc:
        raise ApiError(404, "no such comment") from exc
    except CannotReport as exc:
        raise ApiError(409, str(exc)) from exc
    return json_response({"flag_id": flag_id}, 202)


routes = [
    Route("/api/v1/blocks", create_block, methods=["POST"]),
    Route("/api/v1/blocks", list_blocks, methods=["GET"]),
    Route("/api/v1/blocks/{id:int}", delete_block, methods=["DELETE"]),
    Route("/api/v1/blocks/domains.csv", export_domains, methods=["GET"]),
    Route("/api/v1/blocks/domains.csv", import_domains, methods=["POST"]),
    Route("/api/v1/blocks/imports/{id:int}", get_import, methods=["GET"]),
    Route("/api/v1/reports/{id:int}/block", block_from_report, methods=["POST"]),
    Route("/api/v1/comments/{id:int}/report", report_commenter, methods=["POST"]),
]
