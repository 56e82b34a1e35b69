"""Discovery: WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.outbox import as2
from fedblog.web.responses import json_error, json_response, services

NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/2.1"


def _resource_names(request: Request) -> dict[str, str]:
    """Every resource string that names a local actor, mapped to that actor's URL."""
    runtime = services(request).runtime
    urls, settings = runtime.urls, runtime.settings
    names: dict[str, str] = {}
    for domain in {settings.domain, settings.host}:
        names[f"acct:{urls.username}@{domain}".lower()] = urls.actor
        names[f"acct:{domain}@{domain}".lower()] = urls.instance_actor
    names[urls.actor.lower()] = urls.actor
    names[urls.home.lower()] = urls.actor
    names[urls.instance_actor.lower()] = urls.instance_actor
    return names


async def webfinger(request: Request) -> Response:
    resource = request.query_params.get("resource", "").strip()
    if not resource:
        return json_error(400, "the resource parameter is required", field="resource")
    runtime = services(request).runtime
    urls = runtime.urls
    actor = _resource_names(request).get(resource.lower())
    if actor is None:
        return json_error(404, f"no such account: {resource}")
    username = urls.username if actor == urls.actor else runtime.settings.domain
    links = [
        {"rel": "self", "type": "application/activity+json", "href": actor},
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": urls.home},
    ]
    body = {
        "subject": f"acct:{username}@{runtime.settings.domain}",
        "aliases": [actor, urls.home] if actor == urls.actor else [actor],
        "links": links,
    }
    return json_response(body, media_type="application/jrd+json",
                         headers={"Access-Control-Allow-Origin": "*"})


async def host_meta(request: Request) -> Response:
    template = f"{services(request).runtime.urls.base}/.well-known/webfinger?resource={{uri}}"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/xrd+xml" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )
    return Response(xml, media_type="application/xrd+xml")


async def nodeinfo_links(request: Request) -> Response:
    href = f"{services(request).runtime.urls.base}/nodeinfo/2.1"
    return json_response({"links": [{"rel": NODEINFO_SCHEMA, "href": href}]})


async def nodeinfo(request: Request) -> Response:
    blog = services(request)
    document = as2.nodeinfo(blog.runtime.urls, users=1, posts=await blog.posts.count_live())
    return json_response(
        document, media_type=f'application/json; profile="{NODEINFO_SCHEMA}#"'
    )


routes = [
    Route("/.well-known/webfinger", webfinger),
    Route("/.well-known/host-meta", host_meta),
    Route("/.well-known/nodeinfo", nodeinfo_links),
    Route("/nodeinfo/2.1", nodeinfo),
]
