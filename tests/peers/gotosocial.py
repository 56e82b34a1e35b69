"""GoToSocial's interaction-policy rules (reply controls), ported from its Go source so tests can run
them against the blog without a GTS instance. Pure functions, no network.

WHERE EACH RULE COMES FROM. The source index only returns character offsets, so rules cite the file,
the function and the commit, plus "@N" = approximate (+-500) character offset of the function in
that stored copy (the search index's read_file takes offset=N), instead of line numbers. Commits used:
  v0.20  superseriousbusiness/gotosocial@dbca22a5 internal/ap/extract.go (TODO "remove in v0.21.0")
         + internal/filter/interaction/interactable.go@dbca22a5;
         kaze-hk/gotosocial (a v0.20-cycle copy): federatingdb/accept.go@49d99648 (comment "we don't
         send out polite requests yet in v0.20.0"), federatingdb/reject.go@49d99648,
         dereferencing/status_permitted.go@d4521f91, ap/interfaces.go@af53aa0e,
         ap/properties.go@d489dcb1, typeutils/astointernal.go@d489dcb1,
         gtsmodel/interactionpolicy.go@df4c8756.
  v0.19  no tagged v0.19 copy is in the index. Closest pre-v0.20 code: extract.go@0e137c0f (value-typed
         PolicyRules, always/approvalRequired only), interactable.go@0bc6e187 (Always/WithApproval,
         policy nil -> DefaultInteractionPolicyFor(visibility)); status_permitted.go@ca12742a (approval
         objects typed *Approval, object/target); docs/federation/interaction_policy.md@ca12742a says
         "versions before v0.20.0 send and receive only [always/approvalRequired]; v0.20.0 sends and
         receives both; v0.21.0 onwards only the new". mastodon/mastodon#36004 (2025-09): the then-current
         GTS (v0.19.1) "assumes that the presence of interactionPolicy and the lack of sub-policies means
         the action is denied"; v0.19.2 (2025-09-05, release note) "fixed interaction policy parsing that
         made GtS users unable to reply to ... instances that use canQuote" -- that patch's code was not
         found; "0.19" below models v0.19.0/v0.19.1.
  main   (v0.21-dev) flschr/gotosocial extract.go@54105160 adds canQuote (TODO "remove in v0.22.0");
         kaze-hk typeutils/internaltoas.go@48cbdaac sends ReplyRequest / ReplyAuthorization.

REPLYREQUEST: v0.20 only *understands* an Accept whose object is an inlined ReplyRequest
(accept.go@49d99648 acceptPoliteReplyRequest @20900); it never sends one. The sender is v0.21-dev:
internaltoas.go@48cbdaac InteractionReqToASInteractionRequestable @77400, see reply_request_example().
canQuote: read by neither v0.19 nor v0.20 (ExtractInteractionPolicy builds canLike/canReply/canAnnounce
only); v0.21-dev parses it and always *sends* canQuote.automaticApproval=[author] (internaltoas@48cbdaac @64500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
Version = Literal["0.19", "0.20"]
Permission = Literal["permitted", "approval_required", "forbidden"]
Fetched = dict[str, Any] | tuple[str, dict[str, Any]] | None  # doc, or (final URL after redirects, doc)
Fetch = Callable[[str], Fetched]

# --- Delivery facts (docs/federation/federating_with_gotosocial/access_control.md@1fa574f1,
# http_signatures.md@f882fd31, actors.md "Inbox" section) -------------------------------------------
STATUS_ACCEPTED = 202  # actors.md: validly-formed and signed inbox POST
STATUS_BAD_REQUEST = 400  # actors.md: malformed; "should not retry"; also accept.go "no id"/actor mismatch
STATUS_UNSIGNED = 401  # access_control.md: unsigned GET/POST -> 401 Unauthorized
STATUS_BLOCKED = 403  # access_control.md: keyId host domain-blocked, or a user block either way -> 403
STATUS_NOT_ACCEPTABLE = 406  # actors.md: Content-Type not activity+json / ld+json;profile=AS
STATUS_FORBIDDEN_ACCEPT = 403  # accept.go@49d99648: Accept of someone else's reply, result on other host
SIGNATURE_SCHEME = "draft-cavage-http-signatures"  # http_signatures.md: go-fed/httpsig, Cavage only
SIGNATURE_ALGORITHMS_TRIED = ("RSA_SHA256", "RSA_SHA512", "ED25519")  # in this order, first success wins
OUTGOING_SIGNED_HEADERS = {"GET": "(request-target) host date", "POST": "(request-target) host date digest"}
GTS_KEY_ID_SHAPE = "https://host/users/NAME/main-key"  # no '#'; key URL serves a stub actor

SUB_POLICIES = ("canLike", "canReply", "canAnnounce", "canQuote")


@dataclass(frozen=True)
class Rules:
    """gtsmodel.PolicyRules: values are "public", "followers", "following", "author", or a literal URI."""

    automatic: tuple[str, ...] = ()
    manual: tuple[str, ...] = ()


Policy = dict[str, Rules | None]  # None = sub-policy absent (only possible in 0.20)


def _single(value: Any) -> Any:
    """`prop == nil || prop.Len() != 1 -> nil` (extract.go extractCan*): one object, or a 1-list."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def _iris(value: Any) -> list[str]:
    """properties.go@d489dcb1 getIRIs: plain IRIs only (string or array); inlined objects ignored."""
    items = value if isinstance(value, list) else [value] if value is not None else []
    return [v for v in items if isinstance(v, str) and v]


def _first_id(value: Any) -> str:
    """properties.go extractIRIs + status_permitted extractIRI: first IRI, or id of an inlined type."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item:
            return item
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            return str(item["id"])
    return ""


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0 if value in (None, "") else 1


def _host(uri: str) -> str:
    return urlsplit(uri).netloc  # Go url.URL.Host keeps the port: host:port compared exactly


def _values(raw: Any, author: str, followers: str | None, following: str | None) -> tuple[str, ...]:
    """extract.go@dbca22a5 extractPolicyValues (@33200), same in @0e137c0f: exact string match on the
    full Public IRI (compact "as:Public" is dropped by the scheme filter), the *author's* followers /
    following URIs, the author URI; any other http(s) IRI kept literally (matches that actor only)."""
    out: list[str] = []
    for iri in _iris(raw):
        if iri == PUBLIC:
            out.append("public")
        elif followers is not None and iri == followers:
            out.append("followers")
        elif following is not None and iri == following:
            out.append("following")
        elif iri == author:
            out.append("author")
        elif urlsplit(iri).scheme in ("http", "https"):
            out.append(iri)
    return tuple(out)


def parse_policy(
    doc: dict[str, Any], version: Version, *, author_followers: str | None = None,
    author_following: str | None = None,
) -> Policy | None:
    """extract.go ExtractInteractionPolicy + extractCan* + extractPolicyRules.

    Returns None when the post has no usable interactionPolicy (absent, null, not exactly one object):
    extract.go@dbca22a5 @29500 / @0e137c0f -- callers then use defaults (see may_reply).
    0.20 (extract.go@dbca22a5 extractPolicyRules @32300): if automaticApproval OR manualApproval is
      non-empty, ONLY those two are read; otherwise always/approvalRequired. A missing/null/non-object
      sub-policy stays None ("instance doesn't know / care about canX").
    0.19 (extract.go@0e137c0f extractCanReply @29400): ONLY always/approvalRequired are read, and a missing
      sub-policy becomes empty Rules -> forbidden for everyone but author/mentioned (mastodon#36004).
    canQuote: not parsed by either version (reported as None); 0.21-dev parses it like the others.
    """
    raw = _single(doc.get("interactionPolicy"))
    if not isinstance(raw, dict):
        return None
    author = _first_id(doc.get("attributedTo"))
    policy: Policy = {"canQuote": None}
    for name in ("canLike", "canReply", "canAnnounce"):
        sub = _single(raw.get(name))
        if not isinstance(sub, dict):
            policy[name] = Rules() if version == "0.19" else None
            continue

        def vals(key: str, sub: dict[str, Any] = sub) -> tuple[str, ...]:
            return _values(sub.get(key), author, author_followers, author_following)

        if version == "0.20" and (vals("automaticApproval") or vals("manualApproval")):
            policy[name] = Rules(vals("automaticApproval"), vals("manualApproval"))
        else:
            policy[name] = Rules(vals("always"), vals("approvalRequired"))
    return policy


def default_can_reply(visibility: str) -> Rules:
    """gtsmodel/interactionpolicy.go@df4c8756 DefaultCanReplyFor: public/unlisted -> [public];
    followers-only -> [author, followers, mentioned]; direct -> [author, mentioned]."""
    if visibility in ("public", "unlisted"):
        return Rules(("public",))
    if visibility == "followers":
        return Rules(("author", "followers", "mentioned"))
    return Rules(("author", "mentioned"))


def _match(values: Iterable[str], requester: str, follows_author: bool, followed_by_author: bool,
           mentioned: bool) -> tuple[int, str | None]:
    """interactable.go@dbca22a5 matchPolicy (@12300): 0 none, 1 implicit, 2 explicit. Explicit returns
    at once; implicit keeps looping, so the LAST implicit hit is the matched value ([public, followers]
    for a follower -> "followers", i.e. matched on a collection)."""
    match, value = 0, None
    for p in values:
        if p == "public":
            match, value = 1, "public"
        elif p == "followers":
            if follows_author:
                match, value = 1, "followers"
        elif p == "following":
            if followed_by_author:
                match, value = 1, "following"
        elif p == "mentioned":
            if mentioned:
                return 2, "mentioned"
        elif p == requester:  # "author" token never equals a URI: the author is handled before
            return 2, requester
    return match, value


def check_reply(
    policy: Policy | None, requester: str, *, author: str, requester_follows_author: bool,
    author_follows_requester: bool, mentioned: bool = False, target_replies_to_requester: bool = False,
    target_pending_approval: bool = False, requester_started_thread: bool = False,
    target_is_local: bool = False, visibility: str = "public", version: Version = "0.20",
) -> tuple[Permission, str | None]:
    """interactable.go StatusReplyable + checkPolicy; returns (permission, matched-on value).

    0.20 (@dbca22a5 StatusReplyable @3900, checkPolicy @10600): target pending approval and requester did
      not start the thread -> approval_required; requester is author, is replied to, or is mentioned ->
      permitted; canReply set -> checkPolicy; no canReply and target local -> DefaultCanReplyFor;
      no canReply and target remote -> permitted (no match value).
    0.19 (@0bc6e187): author / mentioned -> permitted; policy None -> DefaultInteractionPolicyFor(visibility)
      even for remote posts; else canReply (empty when absent -> forbidden). The pending-parent rule is
      from the v0.18+ docs ("UNLESS ... itself currently pending approval"), kept for both.
    checkPolicy: explicit automatic > explicit manual > implicit automatic > implicit manual > forbidden.
    """
    if target_pending_approval and not requester_started_thread:
        return "approval_required", None
    if requester == author:
        return "permitted", "author"
    if mentioned or (target_replies_to_requester and version == "0.20"):
        return "permitted", "mentioned"
    if policy is None:
        rules: Rules | None = default_can_reply(visibility) if (version == "0.19" or target_is_local) else None
    else:
        rules = policy.get("canReply")
        if rules is None:
            rules = default_can_reply(visibility) if target_is_local else None
    if rules is None:
        return "permitted", None
    men = mentioned or target_replies_to_requester
    auto, auto_value = _match(rules.automatic, requester, requester_follows_author, author_follows_requester, men)
    manual, _ = _match(rules.manual, requester, requester_follows_author, author_follows_requester, men)
    if auto == 2:
        return "permitted", auto_value
    if manual == 2:
        return "approval_required", None
    if auto == 1:
        return "permitted", auto_value
    if manual == 1:
        return "approval_required", None
    return "forbidden", None


def may_reply(policy: Policy | None, requester: str, **kw: Any) -> Permission:
    """The permission half of check_reply (same keywords)."""
    return check_reply(policy, requester, **kw)[0]


def _approval_ok(auth: dict[str, Any], auth_id: str, version: Version, expect_actor: str,
                 expect_object: str, expect_target: str) -> str | None:
    """status_permitted.go isValidAuthorization (0.20, kaze-hk@d4521f91 @24600) / isValidApprovable
    (0.19, sss@ca12742a @25300) / isValidAcceptable (both). None = valid, else why not."""
    kind = auth.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    suffix = "Authorization" if version == "0.20" else "Approval"  # 0.20 ignores *Approval and v.v.
    if kind in (f"Like{suffix}", f"Reply{suffix}", f"Announce{suffix}"):
        if kind != f"Reply{suffix}":
            return f"authorization type {kind} cannot approve reply"
        actor_key = "attributedTo"
        obj_key, target_key = (("interactingObject", "interactionTarget") if version == "0.20"
                               else ("object", "target"))
    elif kind == "Accept":
        actor_key, obj_key, target_key = "actor", "object", "target"
    else:
        return f"{kind} not authorization or accept"
    actor = _first_id(auth.get(actor_key))
    if not actor:
        return f"missing {actor_key}"
    if _host(actor) != _host(auth_id):
        return f"{actor_key} {actor} not on the same host as {auth_id}"
    if actor != expect_actor:
        return f"{actor_key} {actor} is not the replied-to author {expect_actor}"
    obj = _first_id(auth.get(obj_key))
    if not obj:
        return f"missing {obj_key}"
    if obj != expect_object:
        return f"{obj_key} {obj} is not the reply {expect_object}"
    target = _first_id(auth.get(target_key))
    if target and target != expect_target:  # optional: only checked when present
        return f"{target_key} {target} is not the replied-to post {expect_target}"
    return None


class Verdict(NamedTuple):
    kept: bool
    pending: bool  # stored but PendingApproval (only possible when the target is local to GTS)
    reason: str


def reply_permitted(
    reply_doc: dict[str, Any], target_doc: dict[str, Any] | None, fetch: Fetch, *,
    version: Version = "0.20", author_followers: str | None = None, author_following: str | None = None,
    requester_follows_author: bool = False, author_follows_requester: bool = False,
    target_is_local: bool = False, target_pending_approval: bool = False,
    requester_started_thread: bool = False, target_replies_to_requester: bool = False,
    visibility: str = "public", previously_rejected: bool = False, parent_rejected: bool = False,
    blocked_hosts: Iterable[str] = (),
) -> Verdict:
    """status_permitted.go isPermittedReply (0.20 kaze-hk@d4521f91; 0.19 flow = sss@ca12742a @2900-9800)
    then isValidAuthURI / isValidApprovedByIRI (@18500 / @19000).

    Only `approvedBy` is read from the reply (astointernal.go@d489dcb1 @13600; replyAuthorization is
    not read even in main). Order: parent rejected -> drop; rejected before and still no approvedBy ->
    drop; target unknown -> keep; approvedBy set -> keep iff the fetched object validates (no policy
    check at all); else policy: forbidden -> drop (pre-rejected); automatic and not matched on
    followers/following -> keep; remote target -> DROP (manual approval or collection match needs
    approvedBy); local target -> keep pending (collection match: pre-approved, GTS Accepts at once).
    """
    approved_by = reply_doc.get("approvedBy")
    approved_by = approved_by if isinstance(approved_by, str) else ""
    if parent_rejected:
        return Verdict(False, False, "parent reply was rejected")
    if previously_rejected and not approved_by:
        return Verdict(False, False, "rejected before, still no approvedBy")
    if target_doc is None:
        return Verdict(not previously_rejected, False, "target not known yet")
    reply_id, author = str(reply_doc.get("id", "")), _first_id(target_doc.get("attributedTo"))
    target_id, requester = str(target_doc.get("id", "")), _first_id(reply_doc.get("attributedTo"))
    if approved_by:
        if _host(approved_by) in set(blocked_hosts):
            return Verdict(False, False, "approvedBy host is domain-blocked")
        got = fetch(approved_by)
        final, auth = (got if isinstance(got, tuple) else (approved_by, got))
        if not isinstance(auth, dict):
            return Verdict(False, False, "approvedBy could not be dereferenced")
        auth_id = str(auth.get("id", ""))
        if final != approved_by and (_host(final) != _host(approved_by) or auth_id != final):
            return Verdict(False, False, "redirected off-host, or id differs from final URL")
        why = _approval_ok(auth, auth_id, version, author, reply_id, str(reply_doc.get("inReplyTo") or ""))
        return Verdict(why is None, False, why or "approved")
    tags = target_doc.get("tag")
    mentioned = any(isinstance(t, dict) and t.get("type") == "Mention" and t.get("href") == requester
                    for t in (tags if isinstance(tags, list) else [tags]))
    policy = parse_policy(target_doc, version, author_followers=author_followers,
                          author_following=author_following)
    perm, matched = check_reply(
        policy, requester, author=author, requester_follows_author=requester_follows_author,
        author_follows_requester=author_follows_requester, mentioned=mentioned,
        target_replies_to_requester=target_replies_to_requester,
        target_pending_approval=target_pending_approval, requester_started_thread=requester_started_thread,
        target_is_local=target_is_local, visibility=visibility, version=version)
    on_collection = perm == "permitted" and matched in ("followers", "following")
    if perm == "forbidden":
        return Verdict(False, False, f"forbidden by {target_id} policy")
    if perm == "permitted" and not on_collection:
        return Verdict(True, False, "permitted")
    if not target_is_local:
        return Verdict(False, False, "needs approvedBy (manual or collection match) -- dropped")
    return Verdict(True, True, "pre-approved" if on_collection else "pending manual approval")


def accept_of_reply_ok(
    accept_doc: dict[str, Any], *, accepter_actor_id: str, reply_doc: dict[str, Any],
    target_doc: dict[str, Any], version: Version = "0.20", reply_pending: bool = True,
) -> str | None:
    """federatingdb/accept.go (0.20 kaze-hk@49d99648: Accept @1700, acceptOtherIRI @9400,
    acceptStoredStatus @11500, parseAcceptInteractionRequestable @16900, approvedByURI @25900) as
    GTS (the replier's server) handles an Accept of its own pending reply. None = reply now approved.
    0.19: same minus the ReplyRequest branch (its accept.go is not in the index; older v0.17 copy
    sss@8effc778 only took IRI objects on GTS's statuses path and used the Accept id as approvedBy).
    `target` is never read here. The signer must be the Accept's actor (requesting account).
    """
    accept_id = accept_doc.get("id")
    if not isinstance(accept_id, str) or not accept_id:
        return "400 Accept had no id property"
    actor = _first_id(accept_doc.get("actor"))
    if not actor:
        return "400 Accept had empty or invalid actor property"
    if actor != accepter_actor_id:
        return "400 Accept actor and requesting account were not the same"
    reply_id = reply_doc.get("id")
    objects = accept_doc.get("object")
    hit = False
    for obj in objects if isinstance(objects, list) else [objects]:
        if isinstance(obj, str):
            hit = hit or obj == reply_id
        elif isinstance(obj, dict):
            kind = obj.get("type")
            if kind == "ReplyRequest" and version == "0.20":
                if not obj.get("id"):
                    return "400 no id set on embedded interaction request"
                for key in ("actor", "object", "instrument"):
                    if _count(obj.get(key)) != 1:
                        return f"400 invalid or missing {key} property on embedded interaction request"
                if _count(accept_doc.get("result")) != 1:
                    return "400 invalid or missing result property on embedded interaction request"
                # v0.20 never sent a ReplyRequest, so no stored request matches its own reply:
                return "noop: Accept of ReplyRequest for a reply of ours with no stored request (bail)"
            if obj.get("id") == reply_id and kind in ("Note", "Article", "Question", "Page", "Announce"):
                hit = True  # type-hinted object {"type","id"}
    if not hit:
        return "noop: no object names the reply"
    if not reply_pending:
        return "noop: reply not pending approval"
    if _first_id(target_doc.get("attributedTo")) != accepter_actor_id:
        return "403 status reply to or boost of account and requesting account were not the same"
    result = accept_doc.get("result")
    if isinstance(result, list):
        result = result[0] if len(result) == 1 else None
    if isinstance(result, str) and _host(result) != _host(accept_id):
        return f"403 host of result {result} differed from host of Accept {accept_id}"
    return None  # approvedBy := result (IRI, same host) else the Accept id


def reply_request_example(*, request_id: str, actor: str, target_status: str, target_author: str,
                          reply_note: dict[str, Any]) -> dict[str, Any]:
    """What GTS sends to ask for reply approval: v0.21-dev only (internaltoas.go@48cbdaac
    InteractionReqToASInteractionRequestable @77400; docs interaction_controls.md qundao@b45385d5).
    Delivered to the target author's inbox only; the full reply Note is inlined as `instrument`."""
    return {"@context": ["https://gotosocial.org/ns", "https://www.w3.org/ns/activitystreams"],
            "type": "ReplyRequest", "id": request_id, "actor": actor, "to": target_author,
            "object": target_status, "instrument": reply_note}


def gts_accept_example(*, accept_id: str, author: str, author_followers: str, reply: str, replier: str,
                       target_status: str, result: str | None = None, polite_request_id: str | None = None,
                       ) -> dict[str, Any]:
    """How GTS (as post author) Accepts a reply: internaltoas.go InteractionReqToASAccept (v0.20-cycle
    sss@ca12742a @68900: object=reply, target=post, to=replier, cc=[Public, author followers]; v0.21-dev
    kaze-hk@48cbdaac @65500 adds result=authorization URI, and for a polite request object={ReplyRequest
    id, actor, object, instrument}, to=replier only, no cc). The result object GTS serves (v0.21-dev
    InteractionReqToASAuthorization @73000): {type ReplyAuthorization, id, attributedTo=author,
    interactingObject=reply, interactionTarget=post}; the v0.20 doc names it ReplyApproval."""
    doc: dict[str, Any] = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Accept",
                           "id": accept_id, "actor": author, "to": replier}
    if polite_request_id is not None:
        doc["object"] = {"type": "ReplyRequest", "id": polite_request_id, "actor": replier,
                         "object": target_status, "instrument": reply}
    else:
        doc.update(object=reply, target=target_status, cc=[PUBLIC, author_followers])
    if result is not None:
        doc["result"] = result
    return doc
