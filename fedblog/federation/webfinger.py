"""WebFinger: resolving @user@host handles to actor URLs, and to their server's page for
interacting with an object (remote reply, OStatus subscribe template)."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

from fedblog.federation.client import FederationClient, FetchError

HANDLE = re.compile(r"^@?([^@\s/]+)@([^@\s/]+)$")
JRD_ACCEPT = "application/jrd+json, application/json"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"


class HandleError(ValueError):
    """The handle is malformed or does not resolve to an ActivityPub actor."""


class InteractionError(Exception):
    """Why a handle did not lead to its server's interaction page: the handle is malformed,
    the lookup failed, or the server offers no usable template."""

    def __init__(self, reason: Literal["handle", "lookup", "template"]) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_handle(handle: str) -> tuple[str, str]:
    match = HANDLE.match(handle.strip())
    if not match:
        raise HandleError(f"{handle!r} is not a @user@host handle")
    return match.group(1), match.group(2).lower()


def self_link(document: Any) -> str | None:
    links = document.get("links") if isinstance(document, dict) else None
    for link in links if isinstance(links, list) else []:
        if (isinstance(link, dict) and link.get("rel") == "self"
                and str(link.get("type", "")).split(";")[0].strip() in (
                    "application/activity+json", "application/ld+json")
                and isinstance(link.get("href"), str)):
            return str(link["href"])
    return None


def subscribe_template(document: Any) -> str | None:
    links = document.get("links") if isinstance(document, dict) else None
    for link in links if isinstance(links, list) else []:
        if (isinstance(link, dict) and link.get("rel") == SUBSCRIBE_REL
                and isinstance(link.get("template"), str) and "{uri}" in link["template"]):
            return str(link["template"])
    return None


def webfinger_url(user: str, host: str, scheme: str) -> str:
    return (f"{scheme}://{host}/.well-known/webfinger?resource="
            f"{quote(f'acct:{user}@{host}', safe='@:')}")


async def resolve_handle(client: FederationClient, handle: str, *, scheme: str = "https") -> str:
    url = webfinger_url(*parse_handle(handle), scheme)
    try:
        document = await client.fetch_json(url, accept=JRD_ACCEPT)
    except FetchError as exc:
        raise HandleError(f"WebFinger lookup of {handle} failed: {exc}") from exc
    actor = self_link(document)
    if actor is None:
        raise HandleError(f"{handle} has no ActivityPub actor")
    return actor


async def interaction_url(client: FederationClient, handle: str, object_url: str, *,
                          scheme: str = "https") -> str:
    """The page of the handle's server for replying to `object_url`, from its WebFinger
    template (fetched as every fetch is: signed and SSRF-guarded by the client)."""
    try:
        url = webfinger_url(*parse_handle(handle), scheme)
    except HandleError as exc:
        raise InteractionError("handle") from exc
    try:
        document = await client.fetch_json(url, accept=JRD_ACCEPT)
    except FetchError as exc:
        raise InteractionError("lookup") from exc
    template = subscribe_template(document)
    if template is None:
        raise InteractionError("template")
    target = template.replace("{uri}", quote(object_url, safe=""))
    if not target.startswith(("https://", "http://")):
        raise InteractionError("template")
    return target
