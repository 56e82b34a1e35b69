"""Resolving @user@host handles to actor URLs with WebFinger."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fedblog.federation.client import FederationClient, FetchError

HANDLE = re.compile(r"^@?([^@\s/]+)@([^@\s/]+)$")
JRD_ACCEPT = "application/jrd+json, application/json"


class HandleError(ValueError):
    """The handle is malformed or does not resolve to an ActivityPub actor."""


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


async def resolve_handle(client: FederationClient, handle: str, *, scheme: str = "https") -> str:
    user, host = parse_handle(handle)
    url = (f"{scheme}://{host}/.well-known/webfinger?resource="
           f"{quote(f'acct:{user}@{host}', safe='@:')}")
    try:
        document = await client.fetch_json(url, accept=JRD_ACCEPT)
    except FetchError as exc:
        raise HandleError(f"WebFinger lookup of {handle} failed: {exc}") from exc
    actor = self_link(document)
    if actor is None:
        raise HandleError(f"{handle} has no ActivityPub actor")
    return actor
