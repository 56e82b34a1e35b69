"""Remote actors (Person, Service, Application, Group, Organization) and their keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedblog.federation.vocab_fields import (
    MAX_LIST_LENGTH,
    VocabError,
    as_list,
    check_text,
    check_url,
    field_path,
    host_of,
    id_of,
    is_http_url,
    loose_url,
    opt_bool,
    opt_text,
    req_dict,
    req_ref,
    resolve_type,
)

__all__ = [
    "ACTOR_TYPES",
    "MAX_PEM_LENGTH",
    "Actor",
    "Multikey",
    "PublicKey",
    "first_actor_id",
    "normalize_pem",
    "parse_actor",
]

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
MAX_PEM_LENGTH = 16_384  # an RSA-16384 public key PEM is ~2.9k characters

_PEM = re.compile(r"\s*-----BEGIN ([A-Z0-9 ]{1,64})-----(.*?)-----END \1-----\s*", re.DOTALL)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {ch: i for i, ch in enumerate(_B58_ALPHABET)}
_ED25519_PUB_PREFIX = b"\xed\x01"  # multicodec varint for ed25519-pub
_MAX_ED25519_MULTIBASE = 60  # 'z' + base58 of 34 bytes is 48 chars; skip longer before decoding


@dataclass(frozen=True, slots=True)
class PublicKey:
    id: str
    owner: str
    pem: str  # re-wrapped to canonical 64-column PEM, whatever whitespace the sender used


@dataclass(frozen=True, slots=True)
class Multikey:
    """An FEP-521a ``assertionMethod`` Ed25519 key (only Ed25519 Multikeys are kept)."""

    id: str
    controller: str
    public_key: bytes  # raw 32-byte Ed25519 public key

    def ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    type: str
    inbox: str
    shared_inbox: str | None = None
    outbox: str | None = None
    followers: str | None = None
    preferred_username: str | None = None
    name: str | None = None
    summary: str | None = None  # raw remote HTML, not sanitised here
    url: str | None = None
    icon_url: str | None = None
    public_key: PublicKey | None = None
    manually_approves_followers: bool = False
    discoverable: bool | None = None
    multikeys: tuple[Multikey, ...] = ()
    following: str | None = None
    moved_to: str | None = None
    also_known_as: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return host_of(self.id)


def normalize_pem(pem: str, path: str) -> str:
    """Rebuild a PEM block with 64-column lines.  Some servers (seen from Mastodon-compatible
    software) replace the newlines with spaces, which strict PEM loaders refuse."""
    match = _PEM.fullmatch(pem)
    if not match:
        raise VocabError(f"{path}: not a PEM block")
    label, body = match.group(1), "".join(match.group(2).split())
    if not body or not _BASE64.fullmatch(body):
        raise VocabError(f"{path}: PEM body is not base64")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def first_actor_id(value: Any, path: str) -> str | None:
    """Id of the first Person-like entry of an ``actor``/``attributedTo`` value.

    Prismo sends arrays of embedded actors, PeerTube ``[Person, Group(channel)]``: prefer an
    embedded Person, else the first entry that reduces to an id.  Absent -> None; present but
    with nothing usable -> VocabError.
    """
    if value is None or value == []:
        return None
    entries = as_list(value, path)
    chosen: Any = next(
        (e for e in entries if isinstance(e, dict) and e.get("type") == "Person" and id_of(e)),
        None,
    )
    if chosen is None:
        chosen = next((e for e in entries if isinstance(e, (str, dict)) and id_of(e)), None)
    ref = id_of(chosen) if isinstance(chosen, (str, dict)) else None
    if ref is None:
        raise VocabError(f"{path}: expected an id or an object with an id")
    return check_url(ref, path)


def _lenient_ref(data: Mapping[str, Any], key: str) -> str | None:
    """Non-essential actor links (outbox, followers...): a broken one is dropped, because
    refusing the actor would make following or replying impossible for a cosmetic reason."""
    ref = id_of(data.get(key))
    return ref if is_http_url(ref) else None


def _shared_inbox(data: Mapping[str, Any]) -> str | None:
    endpoints = data.get("endpoints")
    # Kroeg sends `endpoints` as an IRI; Misskey also puts sharedInbox at the top level.
    if isinstance(endpoints, dict):
        found = _lenient_ref(endpoints, "sharedInbox")
        if found:
            return found
    return _lenient_ref(data, "sharedInbox")


def _parse_public_key(data: Mapping[str, Any], actor_id: str, path: str) -> PublicKey | None:
    where = field_path(path, "publicKey")
    entries = as_list(data.get("publicKey"), where, limit=64)
    # A bare key IRI would need a fetch; only embedded keys are usable here.
    candidates = [e for e in entries if isinstance(e, dict) and "publicKeyPem" in e]
    if not candidates:
        return None
    key = candidates[0]
    key_id = check_url(key.get("id"), f"{where}.id")
    owner_raw = key.get("owner")
    owner = check_url(id_of(owner_raw), f"{where}.owner") if owner_raw is not None else actor_id
    pem = check_text(key.get("publicKeyPem"), f"{where}.publicKeyPem", MAX_PEM_LENGTH)
    return PublicKey(id=key_id, owner=owner, pem=normalize_pem(pem, f"{where}.publicKeyPem"))


def _b58decode(text: str) -> bytes | None:
    number = 0
    for ch in text:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            return None
        number = number * 58 + digit
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading_zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def _ed25519_from_multibase(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value.startswith("z"):
        return None  # only base58btc is used for Multikey in practice
    if len(value) > _MAX_ED25519_MULTIBASE:
        return None  # an RSA Multikey (Mitra sends both); the RSA key is in publicKey anyway
    decoded = _b58decode(value[1:])
    if decoded is None or len(decoded) != 34 or not decoded.startswith(_ED25519_PUB_PREFIX):
        return None
    return decoded[2:]


def _is_multikey(entry: Mapping[str, Any]) -> bool:
    kind = entry.get("type")
    return kind == "Multikey" or (isinstance(kind, list) and "Multikey" in kind[:16])


def _parse_multikeys(data: Mapping[str, Any], actor_id: str, path: str) -> tuple[Multikey, ...]:
    """Ed25519 keys from FEP-521a ``assertionMethod``.  Entries that are not usable Ed25519
    Multikeys are skipped; so are keys whose controller is not this actor, since FEP-521a
    requires it and a foreign key must never verify this actor's activities."""
    keys: dict[str, Multikey] = {}
    where = field_path(path, "assertionMethod")
    for entry in as_list(data.get("assertionMethod"), where, limit=64):
        if not isinstance(entry, dict) or not _is_multikey(entry):
            continue
        key_id, controller = id_of(entry.get("id")), id_of(entry.get("controller"))
        raw = _ed25519_from_multibase(entry.get("publicKeyMultibase"))
        if raw is None or controller != actor_id or key_id is None or not is_http_url(key_id):
            continue
        keys.setdefault(key_id, Multikey(id=key_id, controller=actor_id, public_key=raw))
    return tuple(keys.values())


def _also_known_as(data: Mapping[str, Any], path: str) -> tuple[str, ...]:
    where = field_path(path, "alsoKnownAs")
    refs = (id_of(v) for v in as_list(data.get("alsoKnownAs"), where, MAX_LIST_LENGTH))
    return tuple(dict.fromkeys(r for r in refs if r is not None and is_http_url(r)))


def parse_actor(data: Any, *, path: str = "") -> Actor:
    """Parse an actor document; requires an actor type, an http(s) ``id`` and ``inbox``."""
    data = req_dict(data, path)
    kind = resolve_type(data, path, ACTOR_TYPES)
    if kind not in ACTOR_TYPES:
        raise VocabError(f"{field_path(path, 'type')}: {kind!r} is not an actor type")
    actor_id = req_ref(data, "id", path)
    return Actor(
        id=actor_id,
        type=kind,
        inbox=req_ref(data, "inbox", path),
        shared_inbox=_shared_inbox(data),
        outbox=_lenient_ref(data, "outbox"),
        followers=_lenient_ref(data, "followers"),
        preferred_username=opt_text(data, "preferredUsername", path, limit=1024),
        name=opt_text(data, "name", path),
        summary=opt_text(data, "summary", path),
        url=loose_url(data.get("url")),
        icon_url=loose_url(data.get("icon")),
        public_key=_parse_public_key(data, actor_id, path),
        manually_approves_followers=opt_bool(data, "manuallyApprovesFollowers") is True,
        discoverable=opt_bool(data, "discoverable"),
        multikeys=_parse_multikeys(data, actor_id, path),
        following=_lenient_ref(data, "following"),
        moved_to=_lenient_ref(data, "movedTo"),
        also_known_as=_also_known_as(data, path),
    )
