"""Typed ActivityStreams 2 vocabulary: parse remote JSON once, at the edge.

Remote documents (already json-decoded) become small frozen dataclasses -- :class:`Activity`,
:class:`Note`, :class:`Actor`, :class:`Tombstone` -- or a :class:`VocabError` whose message
names the offending field.  Pure code: no database, network or web framework.

JSON-LD is not expanded.  We read the compacted shapes that Mastodon, GoToSocial, Misskey,
Pleroma/Akkoma, Lemmy, WordPress, Friendica, Mitra, Pixelfed... really send, and tolerate
their deviations (see ``tests/fixtures/remote/README.md``).  Sizes are capped and ids must be
http(s) URLs, so nothing downstream has to re-check them.

The implementation is split over ``vocab_fields`` (field readers and limits),
``vocab_actor`` and ``vocab_objects``; everything public is importable from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from fedblog.federation.vocab_actor import (
    ACTOR_TYPES,
    MAX_PEM_LENGTH,
    Actor,
    Multikey,
    PublicKey,
    first_actor_id,
    normalize_pem,
    parse_actor,
)
from fedblog.federation.vocab_fields import (
    MAX_DEPTH,
    MAX_LIST_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    PUBLIC,
    PUBLIC_ALIASES,
    FrozenMap,
    VocabError,
    as_list,
    check_dates,
    check_json_document,
    check_url,
    field_path,
    host_of,
    id_of,
    is_http_url,
    opt_ref,
    opt_text,
    parse_addressing,
    parse_datetime,
    req_dict,
    req_ref,
    resolve_type,
)
from fedblog.federation.vocab_objects import (
    AUTHORIZATION_TYPES,
    NOTE_TYPES,
    Attachment,
    Emoji,
    Hashtag,
    InteractionAuthorization,
    Link,
    Mention,
    Note,
    Tombstone,
    parse_authorization,
    parse_note,
    parse_tags,
    parse_tombstone,
)

__all__ = [
    "ACTIVITY_TYPES",
    "ACTOR_TYPES",
    "AUTHORIZATION_TYPES",
    "MAX_DEPTH",
    "MAX_LIST_LENGTH",
    "MAX_PEM_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_URL_LENGTH",
    "NOTE_TYPES",
    "PUBLIC",
    "PUBLIC_ALIASES",
    "APObject",
    "Activity",
    "Actor",
    "Attachment",
    "Emoji",
    "FrozenMap",
    "Hashtag",
    "InteractionAuthorization",
    "Link",
    "Mention",
    "Multikey",
    "Note",
    "PublicKey",
    "Tombstone",
    "VocabError",
    "check_json_document",
    "created_note",
    "host_of",
    "id_of",
    "is_http_url",
    "normalize_pem",
    "parse_activity",
    "parse_actor",
    "parse_authorization",
    "parse_datetime",
    "parse_note",
    "parse_object",
    "parse_tombstone",
]

# Activity types we know.  All of them are transitive, so `object` is required for them;
# unknown types (Bite, ...) still parse as Activity and the inbox ignores them.
ACTIVITY_TYPES = frozenset(
    {
        "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Like",
        "Announce", "Flag", "Block", "Move", "Add", "Remove", "EmojiReact", "Dislike",
        "QuoteRequest", "TentativeAccept", "TentativeReject", "Invite", "Join", "Leave",
        "View", "Listen", "Read", "Offer", "Ignore",
    }
)  # fmt: skip
_TARGET_REQUIRED = frozenset({"Move", "Add", "Remove"})  # meaningless without a target


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    type: str
    actor: str
    object_id: str | None = None  # the (first) object's id, given as a string or embedded
    object: APObject | None = None  # parsed embedded object of a known shape, else None
    target: str | None = None
    result: str | None = None
    instrument: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    published: datetime | None = None
    content: str | None = None  # Flag comment, reaction emoji (content/_misskey_reaction)
    objects: tuple[str, ...] = ()  # every object id, in order (a Flag reports several)
    has_ld_signature: bool = False  # RsaSignature2017 `signature` or FEP-8b32 `proof`
    instrument_object: APObject | None = None  # e.g. the quote Note of a QuoteRequest
    emojis: tuple[Emoji, ...] = ()  # custom emoji tags, for reactions

    @property
    def host(self) -> str:
        """Host of the actor: the party that must have signed this activity."""
        return host_of(self.actor)

    def is_public(self) -> bool:
        return PUBLIC in self.to or PUBLIC in self.cc


# Everything parse_object can return; a real union, so it also works with isinstance().
APObject: TypeAlias = Note | Tombstone | Actor | Activity

_Parser = Callable[[Mapping[str, Any], str, int], APObject]


def _as_note(data: Mapping[str, Any], path: str, depth: int) -> APObject:
    return parse_note(data, path=path)


def _as_tombstone(data: Mapping[str, Any], path: str, depth: int) -> APObject:
    return parse_tombstone(data, path=path)


def _as_actor(data: Mapping[str, Any], path: str, depth: int) -> APObject:
    return parse_actor(data, path=path)


def _as_activity(data: Mapping[str, Any], path: str, depth: int) -> APObject:
    return _parse_activity(data, path, depth)


_PARSERS: dict[str, _Parser] = {
    **dict.fromkeys(NOTE_TYPES, _as_note),
    "Tombstone": _as_tombstone,
    **dict.fromkeys(ACTOR_TYPES, _as_actor),
    **dict.fromkeys(ACTIVITY_TYPES, _as_activity),
}


def _parser_for(data: Mapping[str, Any], path: str) -> _Parser | None:
    """Registry lookup; an unknown type that has an ``actor`` is taken to be an activity."""
    parser = _PARSERS.get(resolve_type(data, path, _PARSERS))
    if parser is None and "actor" in data:
        return _as_activity
    return parser


def _embedded(value: Any, path: str, depth: int, *, lenient: bool = False) -> APObject | None:
    """Parse an embedded object when it has a type we know, else None (its id is kept by
    the caller).  Actor stubs are tolerated: Mastodon's Delete{Person} embeds only
    type/id, which is enough to know what was deleted but is not a usable Actor.
    ``lenient`` callers (auxiliary fields) get None instead of any error."""
    if not isinstance(value, dict) or "type" not in value:
        return None
    parser: _Parser | None = None
    try:
        parser = _parser_for(value, path)
        if parser is None:
            return None  # e.g. LikeAuthorization, Collection: only the id matters here
        return parser(value, path, depth)
    except VocabError:
        if lenient or parser is _as_actor:
            return None
        raise


def _object_ids(data: Mapping[str, Any], path: str) -> tuple[str, ...]:
    where = field_path(path, "object")
    entries = as_list(data.get("object"), where)
    ids: dict[str, None] = {}
    for index, entry in enumerate(entries):
        spot = f"{where}[{index}]" if isinstance(data.get("object"), list) else where
        ref = id_of(entry) if isinstance(entry, (str, dict)) else None
        if ref is None:
            raise VocabError(f"{spot}: expected an id or an object with an id")
        ids[check_url(ref, spot)] = None
    return tuple(ids)


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _has_ld_signature(data: Mapping[str, Any]) -> bool:
    signature = data.get("signature")
    if isinstance(signature, dict):
        kinds = signature.get("type")
        if kinds == "RsaSignature2017" or (
            isinstance(kinds, list) and "RsaSignature2017" in kinds[:16]
        ):
            return True
    proofs = data.get("proof")
    entries = proofs[:16] if isinstance(proofs, list) else [proofs]
    return any(isinstance(p, dict) and isinstance(p.get("proofValue"), str) for p in entries)


def _reaction_text(data: Mapping[str, Any], path: str) -> str | None:
    """Flag comment or reaction: `content`, else Misskey's `_misskey_reaction`, else
    `summary` (Lemmy puts a report's reason there)."""
    for key in ("content", "_misskey_reaction", "summary"):
        text = opt_text(data, key, path)
        if text:
            return text
    return None


def _parse_activity(data: Any, path: str, depth: int) -> Activity:
    if depth > MAX_DEPTH:
        raise VocabError(f"{path or 'object'}: activities nested deeper than {MAX_DEPTH}")
    data = req_dict(data, path)
    check_dates(data, path)
    embedded = _first(data.get("object"))
    if isinstance(embedded, Mapping):
        check_dates(embedded, field_path(path, "object"))
    kind = resolve_type(data, path, ACTIVITY_TYPES)
    if kind in _PARSERS and kind not in ACTIVITY_TYPES:
        raise VocabError(f"{field_path(path, 'type')}: {kind!r} is not an activity")
    activity_id = req_ref(data, "id", path)
    actor = first_actor_id(data.get("actor"), field_path(path, "actor"))
    if actor is None:
        raise VocabError(f"{field_path(path, 'actor')}: missing")
    objects = _object_ids(data, path)
    if not objects and kind in ACTIVITY_TYPES:
        raise VocabError(f"{field_path(path, 'object')}: missing")
    target = opt_ref(data, "target", path)
    if target is None and kind in _TARGET_REQUIRED:
        raise VocabError(f"{field_path(path, 'target')}: missing")
    # Friendica's `instrument` is an id-less Service object: lenient, unlike object/target.
    instrument_raw = _first(data.get("instrument"))
    instrument = id_of(instrument_raw)
    tags = parse_tags(data, path)
    return Activity(
        id=activity_id,
        type=kind,
        actor=actor,
        object_id=objects[0] if objects else None,
        object=_embedded(_first(data.get("object")), field_path(path, "object"), depth + 1),
        target=target,
        result=opt_ref(data, "result", path),
        instrument=instrument if is_http_url(instrument) else None,
        to=parse_addressing(data, "to", path),
        cc=parse_addressing(data, "cc", path),
        published=parse_datetime(data.get("published")),
        content=_reaction_text(data, path),
        objects=objects,
        has_ld_signature=_has_ld_signature(data),
        instrument_object=_embedded(
            instrument_raw, field_path(path, "instrument"), depth + 1, lenient=True
        ),
        emojis=tuple(t for t in tags if isinstance(t, Emoji)),
    )


def parse_activity(data: Any) -> Activity:
    """Parse an activity; nested activities parse recursively up to MAX_DEPTH levels."""
    return _parse_activity(data, "", 0)


def parse_object(data: Any) -> APObject:
    """Parse any supported document, dispatching on its ``type``."""
    data = req_dict(data, "")
    parser = _parser_for(data, "")
    if parser is None:
        kind = resolve_type(data, "", _PARSERS)
        raise VocabError(f"type: unsupported object type {kind!r}")
    return parser(data, "", 0)


def created_note(activity: Activity) -> Note | None:
    """The Note a Create carries (see carried_note)."""
    return carried_note(activity, activity.object)


def carried_note(activity: Activity, note: APObject | None) -> Note | None:
    """`note` as `activity` carries it (a Create's object, a ReplyRequest's instrument),
    attributed as Mastodon attributes it: a Note without `attributedTo` belongs to the
    activity's actor when both live on one host (Mastodon's Create uses the activity's actor
    and only checks the object's host); None when it is no Note."""
    if not isinstance(note, Note):
        return None
    if (not note.to and activity.to) or (not note.cc and activity.cc):
        # Mastodon reads the audience of the object, else of the activity
        # (status_parser.rb: `@object['to'] || @json['to']`).
        note = dataclasses.replace(note, to=note.to or activity.to, cc=note.cc or activity.cc)
    if note.attributed_to is None and host_of(note.id) == host_of(activity.actor):
        return dataclasses.replace(note, attributed_to=activity.actor)
    return note
