"""Tests for fedblog.federation.vocab: real remote payloads, hostile shapes and a bounded fuzz."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedblog.federation.vocab import (
    MAX_DEPTH,
    MAX_LIST_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    PUBLIC,
    Activity,
    Actor,
    APObject,
    Hashtag,
    Mention,
    Note,
    Tombstone,
    VocabError,
    host_of,
    id_of,
    is_http_url,
    parse_activity,
    parse_actor,
    parse_authorization,
    parse_note,
    parse_object,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "remote"
LOCAL_POST_URL = "https://blog.example/2024/05/hello-fediverse/"
ALL_FIXTURES = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json"))

# The few fixtures that must NOT parse, and the field the error has to name.
EXPECTED_REJECTS = {
    "gotosocial/delete-note-no-id.json": "id: missing",  # activity without an id
    "w3c/note-inreplyto-object.json": "id: missing",  # spec example, no ids at all
    # Interaction stamps are neither posts nor activities: parse_authorization() reads them.
    "gotosocial/like-authorization.json": "type: unsupported object type 'LikeAuthorization'",
    "fep/fep-044f-quote-authorization.json": "unsupported object type 'QuoteAuthorization'",
}


def raw(name: str) -> Any:
    """A fixture as json-decoded data, with the WordPress template placeholder filled in."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text.replace("{{LOCAL_POST_URL}}", LOCAL_POST_URL))


def activity(name: str) -> Activity:
    parsed = parse_object(raw(name))
    assert isinstance(parsed, Activity)
    return parsed


def note_of(name: str) -> Note:
    parsed = parse_object(raw(name))
    note = parsed.object if isinstance(parsed, Activity) else parsed
    assert isinstance(note, Note)
    return note


def actor(name: str) -> Actor:
    parsed = parse_object(raw(name))
    assert isinstance(parsed, Actor)
    return parsed


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- every fixture -------------------------------------------------------------------------


def test_fixture_set_is_complete() -> None:
    assert len(ALL_FIXTURES) == 78
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert "## Sources" in readme and "keep this attribution" in readme
    assert set(EXPECTED_REJECTS) <= set(ALL_FIXTURES)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_parses_or_is_rejected_cleanly(name: str) -> None:
    data = raw(name)
    if name in EXPECTED_REJECTS:
        with pytest.raises(VocabError, match=EXPECTED_REJECTS[name]):
            parse_object(data)
        return
    parsed = parse_object(data)
    assert isinstance(parsed, (Note, Tombstone, Actor, Activity))
    assert hash(parsed) == hash(parse_object(copy.deepcopy(data)))  # frozen and deterministic
    assert is_http_url(parsed.id)
    if isinstance(parsed, Activity):
        assert parsed.type == data["type"]
        assert parsed.has_ld_signature == ("signature" in data or "proof" in data)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_with_unfilled_template_never_crashes(name: str) -> None:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    try:
        parse_object(data)
    except VocabError:
        pass


def test_unfilled_wordpress_template_is_rejected_on_in_reply_to() -> None:
    data = json.loads((FIXTURES / "gotosocial/create-note-reply-templated.json").read_text())
    with pytest.raises(VocabError, match=r"^object\.inReplyTo: must be an http\(s\) URL"):
        parse_object(data)


# --- Mastodon -------------------------------------------------------------------------------


def test_mastodon_create_reply() -> None:
    act = activity("mastodon/create-note-reply-signed.json")
    assert (act.type, act.actor, act.host) == (
        "Create",
        "https://diaspodon.fr/users/jaywink",
        "diaspodon.fr",
    )
    assert act.object_id == "https://diaspodon.fr/users/jaywink/statuses/102356911717767237"
    assert act.has_ld_signature
    note = act.object
    assert isinstance(note, Note)
    assert note.id == act.object_id
    assert note.in_reply_to == (
        "https://dev.jasonrobinson.me/content/653bad70-41b3-42c9-89cb-c4ee587e68e4/"
    )
    assert note.attributed_to == act.actor
    assert note.mentions == (
        Mention(
            href="https://dev.jasonrobinson.me/u/jaywink/", name="@jaywink@dev.jasonrobinson.me"
        ),
    )
    assert note.language == "en"
    assert note.content is not None and note.content.endswith("boom</p>")
    assert note.content_map == {"en": note.content}
    assert note.is_public() and act.is_public()
    assert note.summary is None and not note.sensitive
    assert note.published == utc(2019, 6, 29, 21, 8, 45)
    assert note.url == "https://diaspodon.fr/@jaywink/102356911717767237"
    assert note.conversation is not None and note.conversation.startswith("tag:diaspodon.fr")


def test_mastodon_hashtag_and_content_warning() -> None:
    note = note_of("mastodon/create-note-hashtag-cw-signed.json")
    assert note.hashtags == (Hashtag(name="moo", href="http://mastodon.example.org/tags/moo"),)
    assert [m.href for m in note.mentions] == ["http://localtesting.pleroma.lol/users/lain"]
    assert note.sensitive and note.summary == "cw"
    assert note.in_reply_to is None
    assert note.language is None  # no contentMap


def test_mastodon_note_attachment_alt_text() -> None:
    note = note_of("mastodon/note-with-attachment.json")
    (att,) = note.attachments
    assert att.type == "Document" and att.media_type == "image/jpeg"
    assert att.url.startswith("https://cdn.masto.host/floss/media_attachments/")
    assert att.name is not None and att.name.startswith("The KDE dragons")
    assert "https://lemmy.kde.social/c/kde" in note.cc


def test_mastodon_question_keeps_type() -> None:
    note = note_of("mastodon/create-question.json")
    assert note.type == "Question" and note.is_public()


def test_mastodon_actor_public_key_pem() -> None:
    person = actor("mastodon/actor-person.json")
    assert person.type == "Person" and person.preferred_username == "mastodon"
    assert person.inbox == "https://masto.qa.urbanwildlife.biz/users/mastodon/inbox"
    assert person.shared_inbox == "https://masto.qa.urbanwildlife.biz/inbox"
    assert person.followers == "https://masto.qa.urbanwildlife.biz/users/mastodon/followers"
    assert person.icon_url is not None and person.icon_url.startswith("https://")
    assert person.discoverable is False and person.manually_approves_followers is False
    assert person.host == "masto.qa.urbanwildlife.biz"
    key = person.public_key
    assert key is not None
    assert key.id == "https://masto.qa.urbanwildlife.biz/users/mastodon#main-key"
    assert key.owner == person.id
    assert key.pem.startswith("-----BEGIN PUBLIC KEY-----\nMIIBIjANBg")
    assert isinstance(load_pem_public_key(key.pem.encode()), RSAPublicKey)


def test_pem_with_spaces_is_rewrapped() -> None:
    fixture = raw("mastodon/actor-person-pem-spaces.json")
    assert "\n" not in fixture["publicKey"]["publicKeyPem"].strip()
    key = actor("mastodon/actor-person-pem-spaces.json").public_key
    assert key is not None
    assert all(len(line) <= 64 for line in key.pem.splitlines())
    assert isinstance(load_pem_public_key(key.pem.encode()), RSAPublicKey)


ACTOR_FIXTURES = [n for n in ALL_FIXTURES if n.rsplit("/", 1)[-1].startswith("actor-")]


@pytest.mark.parametrize("name", ACTOR_FIXTURES)
def test_every_actor_key_loads(name: str) -> None:
    person = actor(name)
    assert person.public_key is not None
    assert person.public_key.owner == person.id
    assert isinstance(load_pem_public_key(person.public_key.pem.encode()), RSAPublicKey)


def test_mastodon_follow_and_undo_follow_nesting() -> None:
    follow = activity("mastodon/follow.json")
    assert (follow.type, follow.object_id, follow.object) == (
        "Follow",
        "https://ds9.lemmy.ml/c/testcom",
        None,
    )
    undo = activity("mastodon/undo-follow.json")
    assert undo.type == "Undo" and isinstance(undo.object, Activity)
    assert undo.object.type == "Follow"
    assert undo.object.id == undo.object_id == follow.id
    assert undo.object.actor == undo.actor
    assert undo.object.object_id == "https://ds9.lemmy.ml/c/testcom"


def test_mastodon_accept_and_reject_follow() -> None:
    for name, kind in [
        ("mastodon/accept-follow-signed.json", "Accept"),
        ("mastodon/reject-follow-signed.json", "Reject"),
    ]:
        act = activity(name)
        assert act.type == kind and act.has_ld_signature
        assert isinstance(act.object, Activity) and act.object.type == "Follow"
        assert act.object.object_id == act.actor
        assert act.to == () and act.cc == ()


def test_mastodon_undo_of_bare_like_id() -> None:
    act = activity("mastodon/undo-like-bare-id-signed.json")
    assert act.object is None
    assert act.object_id == "http://mastodon.example.org/users/admin#likes/2"


def test_mastodon_announce_and_undo_announce() -> None:
    boost = activity("mastodon/announce-signed.json")
    assert boost.object_id == "https://mastodon.social/users/Gargron/statuses/102559779793316012"
    assert boost.object is None and boost.is_public() and boost.has_ld_signature
    undo = activity("mastodon/undo-announce-signed.json")
    assert isinstance(undo.object, Activity) and undo.object.type == "Announce"
    assert undo.object.object_id == "https://mastodon.art/users/asterii/statuses/102571181579804095"


def test_mastodon_delete_with_tombstone() -> None:
    act = activity("mastodon/delete-note-tombstone-signed.json")
    assert act.type == "Delete" and act.has_ld_signature
    assert act.object == Tombstone(
        id="https://mastodon.madrid/users/felix/statuses/107773559874184870"
    )
    assert act.object_id == act.object.id


def test_mastodon_delete_of_actor_self() -> None:
    act = activity("mastodon/delete-actor-self.json")
    assert act.object_id == act.actor == "http://mastodon.example.org/users/admin"
    assert act.object is None  # an id-only Person stub is not a usable Actor


def test_lemmy_delete_user_bare_id() -> None:
    act = activity("lemmy/delete-user.json")
    assert act.object_id == act.actor and act.object is None


def test_mastodon_flag_with_several_objects() -> None:
    act = activity("mastodon/flag.json")
    assert act.type == "Flag"
    assert act.objects == (
        "https://example.com/users/1",
        "https://example.com/posts/380590",
        "https://example.com/posts/380591",
    )
    assert act.object_id == act.objects[0]
    assert act.content == "Please take a look at this user and their posts"
    assert act.to == ("https://example.com/users/1",)  # `to` was a bare string


def test_flags_from_lemmy_and_mbin() -> None:
    lemmy = activity("lemmy/flag-report-page.json")
    assert lemmy.objects == ("http://enterprise.lemmy.ml/post/7",)
    assert lemmy.content == "report this post"  # Lemmy's reason is in `summary`
    mbin = activity("mbin/flag.json")
    assert mbin.objects == ("https://lemmy-test/post/4", "https://lemmy-test/u/BentiGorlich")
    assert mbin.host == "mbin-test1"


def test_mastodon_block_and_move() -> None:
    block = activity("mastodon/block.json")
    assert block.object_id == "https://example.com/~mallory"
    move = activity("mastodon/move.json")
    assert move.object_id == move.actor
    assert move.target == "https://alice.com/users/109835986274379"
    assert move.to == ("https://mastodon.example/users/alice/followers",)


def test_mastodon_update_person() -> None:
    act = activity("mastodon/update-person.json")
    assert isinstance(act.object, Actor)
    assert act.object.id == act.actor and act.object.name == "gargle"
    assert act.object.shared_inbox == "http://mastodon.example.org/inbox"


# --- GoToSocial -----------------------------------------------------------------------------


def test_gotosocial_reply_with_single_tag_and_string_to() -> None:
    note = note_of("gotosocial/note-reply-interaction-policy.json")
    assert note.in_reply_to == (
        "http://localhost:8080/users/the_mighty_zork/statuses/01F8MHAMCHF6Y650WCRSCP4WMY"
    )
    assert note.to == (PUBLIC,) and note.is_public()
    assert note.mentions == (
        Mention(
            href="http://localhost:8080/users/the_mighty_zork",
            name="@the_mighty_zork@localhost:8080",
        ),
    )
    assert note.summary == "" and note.language == "en"
    assert note.host == "localhost:8080"
    assert note.published == utc(2021, 11, 20, 13, 32, 16)


def test_gotosocial_templated_reply_to_blog_post() -> None:
    act = activity("gotosocial/create-note-reply-templated.json")
    assert isinstance(act.object, Note)
    assert act.object.in_reply_to == LOCAL_POST_URL
    assert act.object.published == utc(2026, 2, 11, 14, 18, 55)  # +01:00 converted to UTC
    assert act.to == (PUBLIC,)


def test_gotosocial_actor_without_endpoints() -> None:
    person = actor("gotosocial/actor-person.json")
    assert person.shared_inbox is None
    assert person.public_key is not None
    assert person.public_key.id == "http://localhost:8080/users/the_mighty_zork/main-key"
    assert person.host == "localhost:8080"


def test_gotosocial_accept_reply_request() -> None:
    act = activity("gotosocial/accept-reply-request.json")
    assert act.result == "http://fossbros-anonymous.io/users/foss_satan/authorizations/1234"
    assert act.cc == (PUBLIC,)
    inner = act.object
    assert isinstance(inner, Activity) and inner.type == "ReplyRequest"  # unknown type, kept
    assert inner.instrument is not None and inner.instrument.endswith("01H641QSRS3TCXSVC10X4GPKW7")


def test_gotosocial_poll_votes_object_array() -> None:
    act = activity("gotosocial/create-poll-votes-object-array.json")
    assert len(act.objects) == 2 and act.object_id == act.objects[0]
    assert isinstance(act.object, Note) and act.object.name == "tissues"
    assert act.object.content is None


def test_authorizations_parse_separately() -> None:
    like = parse_authorization(raw("gotosocial/like-authorization.json"))
    assert like.type == "LikeAuthorization"
    assert like.attributed_to == "http://localhost:8080/users/the_mighty_zork"
    assert like.interaction_target.endswith("/statuses/01JJYCVKCXB9JTQD1XW2KB8MT3")
    quote = parse_authorization(raw("fep/fep-044f-quote-authorization.json"))
    assert quote.interacting_object == "https://example.org/users/bob/statuses/1"
    with pytest.raises(VocabError, match="is not an authorization"):
        parse_authorization(raw("mastodon/follow.json"))


# --- Misskey family -------------------------------------------------------------------------


def test_misskey_quote() -> None:
    note = note_of("misskey/note-quote.json")
    assert note.quote == "https://misskey.io/notes/8vs6wxufd0"
    assert note.in_reply_to is None


def test_fedibird_quote_url_capitalised() -> None:
    assert note_of("fedibird/note-quote.json").quote == "https://misskey.io/notes/8vsn2izjwh"


def test_fep_044f_quotes() -> None:
    for name in (
        "fep/fep-044f-note-quote-compat.json",
        "fep/fep-044f-note-with-quote-authorization.json",
    ):
        assert note_of(name).quote == "https://example.com/users/alice/statuses/1"
    request = activity("fep/fep-044f-quote-request.json")
    assert request.object_id == "https://example.com/users/alice/statuses/1"
    assert request.instrument == "https://example.com/users/bob/statuses/1"
    assert isinstance(request.instrument_object, Note)
    assert request.instrument_object.quote == request.object_id
    accept = activity("fep/fep-044f-accept-quote-request.json")
    assert isinstance(accept.object, Activity) and accept.object.type == "QuoteRequest"
    assert accept.result == "https://example.com/users/alice/stamps/1"


def test_misskey_reactions() -> None:
    custom = activity("misskey/like-custom-emoji-reaction.json")
    assert custom.content == ":hanapog:"
    (emoji,) = custom.emojis
    assert emoji.shortcode == "hanapog" and emoji.icon_url.startswith("https://misskey.local.live/")
    legacy = activity("misskey/like-reaction-no-content.json")
    assert legacy.content == "pudding"  # only `_misskey_reaction`
    react = activity("fep/fep-c0e0-emoji-react-custom.json")
    assert react.type == "EmojiReact" and react.content == ":blobwtfnotlikethis:"


def test_misskey_actor_and_sharkey_dm_reply() -> None:
    person = actor("misskey/actor-person.json")
    assert person.shared_inbox == "https://misskey.io/inbox"
    assert person.discoverable is True
    dm = note_of("sharkey/create-note-dm-reply.json")
    assert dm.in_reply_to == "https://eepy.zone/notes/9tzta92862s902tl"
    assert not dm.is_public() and dm.cc == ()


def test_sharkey_delete_tombstone_without_addressing() -> None:
    act = activity("sharkey/delete-tombstone.json")
    assert isinstance(act.object, Tombstone)
    assert act.object_id == "https://grimgreenfo.rest/notes/9wf90521y83w00p8"


def test_misskey_question_without_end_date() -> None:
    note = note_of("misskey/question-no-end-date.json")
    assert note.type == "Question" and len(note.mentions) == 1


# --- Pleroma / Akkoma -----------------------------------------------------------------------


def test_pleroma_reply_context() -> None:
    note = note_of("pleroma/create-note-reply.json")
    assert note.in_reply_to == "https://enterprise.lemmy.ml/post/55143"
    assert note.context == note.conversation
    assert note.context == "https://greenish.red/contexts/f6244742-0526-4b84-ac4f-ceadf1fb4e56"
    assert note.summary == "" and note.is_public()


def test_pleroma_emoji_and_null_sensitive() -> None:
    note = note_of("pleroma/note-custom-emoji-cw.json")
    assert note.sensitive is False  # `sensitive: null`
    assert {e.name for e in note.emojis} == {":joker_disapprove:", ":joker_smile:"}


def test_pleroma_delete_bare_id_and_follow() -> None:
    delete = activity("pleroma/delete-bare-id.json")
    assert delete.object is None and delete.object_id is not None
    follow = activity("pleroma/follow-state-pending.json")
    assert follow.object_id == "https://lemmy.ca/u/kinetix"


def test_akkoma_edited_templated_reply() -> None:
    note = note_of("akkoma/create-note-reply-edited-templated.json")
    assert note.in_reply_to == LOCAL_POST_URL
    assert note.updated == datetime(2026, 2, 5, 16, 0, 25, 855603, tzinfo=UTC)
    assert note.sensitive and note.summary == ""
    assert note.mentions[0].href == "https://example.com/?author=0"


def test_akkoma_undo_like() -> None:
    act = activity("akkoma/undo-like.json")
    assert isinstance(act.object, Activity) and act.object.type == "Like"
    assert act.object.object_id == "https://as2.blueb.me/notes/b50ef536-a063-41a7-85df-8aca36d877e1"


# --- Lemmy, WordPress, Friendica, Mitra, Pixelfed and odd senders ---------------------------


def test_lemmy_comment_and_page_like() -> None:
    act = activity("lemmy/create-comment-note.json")
    assert isinstance(act.object, Note)
    assert act.object.in_reply_to == "http://ds9.lemmy.ml/post/1"
    assert act.object.content == "hello"
    like = activity("lemmy/like-note.json")
    assert like.object_id == "http://ds9.lemmy.ml/comment/1"


def test_lemmy_group_actor() -> None:
    group = actor("lemmy/actor-group.json")
    assert group.type == "Group" and group.preferred_username == "tenforward"


def test_wordpress_actors_and_comment() -> None:
    blog = actor("wordpress/actor-blog-group.json")
    assert blog.id == "https://dbzer0.com/?author=0" and blog.type == "Group"
    assert "https://dbzer0.com/" in blog.also_known_as
    person = actor("wordpress/actor-person.json")
    assert person.id == "https://pfefferle.org/author/pfefferle/"
    comment = note_of("wordpress/note-comment-reply.json")
    assert comment.id == "https://pfefferle.org?c=148"
    assert comment.host == "pfefferle.org"


def test_wordpress_announce_of_update_article() -> None:
    act = activity("wordpress/announce-update-article.json")
    update = act.object
    assert isinstance(update, Activity) and update.type == "Update"
    article = update.object
    assert isinstance(article, Note)
    assert article.type == "Article" and article.name == "Lemmy (Part 4)"
    assert article.language == "en"


def test_friendica_reply_and_edit() -> None:
    create = activity("friendica/create-note-reply-signed.json")
    assert create.instrument is None  # an id-less Service object
    assert create.instrument_object is None
    assert isinstance(create.object, Note) and create.object.language == "de"
    assert create.object.content != create.object.content_map["de"]
    update = activity("friendica/update-note-signed.json")
    assert isinstance(update.object, Note)
    assert update.object.updated == utc(2022, 3, 24, 21, 37, 34)
    assert update.is_public()  # Public is in cc


def test_fep_8b32_signed_create_verifies_with_multikey() -> None:
    signed = raw("fep/fep-8b32-signed-create.json")
    act = parse_activity(signed)
    assert act.has_ld_signature
    person = actor("fep/fep-8b32-actor-multikey.json")
    assert person.public_key is None
    (key,) = person.multikeys
    assert key.id == "https://server.example/users/alice#ed25519-key" and len(key.public_key) == 32
    # eddsa-jcs-2022: sign sha256(JCS(proof config)) + sha256(JCS(document)).  Python's sorted
    # compact json is JCS for this document (no floats that print differently in ES6).
    proof = dict(signed.pop("proof"))
    signature = _b58decode(proof.pop("proofValue")[1:])
    digest = hashlib.sha256(_jcs(proof)).digest() + hashlib.sha256(_jcs(signed)).digest()
    key.ed25519().verify(signature, digest)  # raises InvalidSignature on mismatch


def _jcs(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for ch in text:
        number = number * 58 + alphabet.index(ch)
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def test_mitra_keeps_only_own_ed25519_multikey() -> None:
    person = actor("mitra/actor-multikey.json")
    assert [k.id for k in person.multikeys] == ["https://wizard.casa/users/hongminhee#ed25519-key"]
    assert person.public_key is not None and person.manually_approves_followers
    assert activity("mitra/create-note-proof.json").has_ld_signature


def test_foreign_controller_multikey_is_ignored() -> None:
    data = raw("fep/fep-8b32-actor-multikey.json")
    data["assertionMethod"][0]["controller"] = "https://evil.example/users/mallory"
    assert parse_actor(data).multikeys == ()


def test_pixelfed_reply_photo_and_odd_date() -> None:
    reply = note_of("pixelfed/create-note-reply.json")
    assert reply.in_reply_to == "https://gram.social/p/Alice/650350850687790456"
    assert [m.name for m in reply.mentions] == ["@Alice@gram.social"]  # single tag object
    photo = note_of("pixelfed/create-note-photo-location.json")
    assert [h.name for h in photo.hashtags] == ["streetphotography", "colorphotography"]
    assert photo.attachments[0].type == "Image"
    boost = activity("pixelfed/announce-odd-date.json")
    assert boost.published == utc(2023, 10, 30, 12, 44, 35)  # "+0000"


def test_smithereen_mention_without_name() -> None:
    note = note_of("smithereen/create-note-reply-signed.json")
    assert note.mentions == (Mention(href="https://ds9.lemmy.ml/u/nutomic", name=None),)


def test_kroeg_inline_actor_and_single_emoji_tag() -> None:
    act = activity("kroeg/create-note-inline-actor.json")
    assert act.actor == "https://puckipedia.com/"
    assert act.to == (PUBLIC,) and act.cc == ("https://puckipedia.com/followers",)
    assert isinstance(act.object, Note) and len(act.object.emojis) == 1


def test_prismo_actor_array_and_link_url() -> None:
    act = activity("prismo/create-article-actor-array.json")
    assert act.actor == "https://prismo.news/@mxb"
    assert isinstance(act.object, Note)
    assert act.object.attributed_to == "https://prismo.news/@mxb"
    assert act.object.url == "https://prismo.news/posts/83"
    assert [h.name for h in act.object.hashtags] == ["prismo", "prismodev", "meta"]


def test_unknown_activity_type_parses() -> None:
    bite = activity("other/bite-unknown-type.json")
    assert bite.type == "Bite" and bite.object_id is None
    assert bite.target == "https://as2.blueb.me/users/690d0271-4147-4302-ac50-7806f3ad8f87"
    assert bite.to == ()  # the bare non-URI recipient is dropped


# --- tolerated shapes -----------------------------------------------------------------------

ACTOR_ID = "https://remote.example/users/alice"


def make_note(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "https://remote.example/notes/1",
        "type": "Note",
        "attributedTo": ACTOR_ID,
        "content": "<p>hi</p>",
    }
    return {**base, **fields}


def make_create(obj: Any = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "https://remote.example/activities/1",
        "type": "Create",
        "actor": ACTOR_ID,
        "object": make_note() if obj is None else obj,
    }
    return {**base, **fields}


def make_actor(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": ACTOR_ID, "type": "Person", "inbox": f"{ACTOR_ID}/inbox"}
    return {**base, **fields}


def test_public_aliases_are_normalised() -> None:
    note = parse_note(make_note(to="as:Public", cc=["Public", PUBLIC, f"{ACTOR_ID}/followers"]))
    assert note.to == (PUBLIC,) and note.cc == (PUBLIC, f"{ACTOR_ID}/followers")


def test_content_map_without_content() -> None:
    note = parse_note(make_note(content=None, contentMap={"fr": "<p>salut</p>"}))
    assert note.content == "<p>salut</p>" and note.language == "fr"
    several = parse_note(make_note(contentMap={"en": "a", "de": "b"}))
    assert several.language is None and several.content == "<p>hi</p>"
    assert parse_note(make_note(contentMap={"und": "x"})).language is None


def test_attributed_to_list_prefers_person() -> None:
    peertube = [
        {"type": "Group", "id": "https://remote.example/video-channels/c"},
        {"type": "Person", "id": ACTOR_ID},
    ]
    assert parse_note(make_note(attributedTo=peertube)).attributed_to == ACTOR_ID
    ids = ["https://remote.example/users/bob", ACTOR_ID]
    assert parse_note(make_note(attributedTo=ids)).attributed_to == ids[0]


def test_type_as_array_and_context_ignored() -> None:
    person = parse_object(make_actor(type=["Person"], **{"@context": 5}))
    assert isinstance(person, Actor) and person.type == "Person"
    assert isinstance(parse_object(make_note(type=["Object", "Note"])), Note)


def test_embedded_ids_and_extra_fields() -> None:
    act = parse_activity(
        make_create(
            actor={"id": ACTOR_ID, "type": "Person"},
            to=[{"id": PUBLIC}],
            extra={"anything": [1, 2, 3]},
            object=make_note(inReplyTo={"id": "https://blog.example/p/1", "type": "Article"}),
        )
    )
    assert act.actor == ACTOR_ID and act.to == (PUBLIC,)
    assert isinstance(act.object, Note) and act.object.in_reply_to == "https://blog.example/p/1"


def test_malformed_tags_and_attachments_are_skipped() -> None:
    note = parse_note(
        make_note(
            tag=[
                1,
                "x",
                None,
                {"type": "Mention"},
                {"type": "Hashtag", "name": 5},
                {"type": "Mention", "href": "javascript:alert(1)"},
                {"type": "Hashtag", "name": "#ok"},
            ],
            attachment=[{"type": "Document"}, 3, {"type": "Image", "url": [{"href": "ftp://x"}]}],
        )
    )
    assert note.mentions == () and note.hashtags == (Hashtag(name="ok"),)
    assert note.attachments == ()


def test_dates() -> None:
    note = parse_note(make_note(published="yesterday", updated="2024-01-02T03:04:05"))
    assert note.published is None
    assert note.updated == utc(2024, 1, 2, 3, 4, 5)  # naive is taken as UTC
    odd = parse_note(make_note(published="0001-01-01T00:00:00+05:00", updated=12))
    assert odd.published is None and odd.updated is None


def test_id_of_and_host_of() -> None:
    assert id_of("https://a.example/x") == "https://a.example/x"
    assert id_of({"id": "https://a.example/x"}) == "https://a.example/x"
    assert id_of({"type": "Link", "href": "https://a.example/h"}) == "https://a.example/h"
    assert id_of([{"id": "https://a.example/1"}, "https://a.example/2"]) == "https://a.example/1"
    assert id_of({"type": "Note"}) is None and id_of(5) is None and id_of([]) is None
    assert host_of("https://Example.COM:8443/x?y") == "example.com:8443"
    assert host_of("http://localhost:8080/users/a") == "localhost:8080"
    assert host_of("https://[2001:db8::1]:443/") == "[2001:db8::1]"  # the default port dropped
    with pytest.raises(VocabError):
        host_of("not a url")
    with pytest.raises(VocabError):
        host_of("http://[::1/")


# --- hostile shapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "document"),
        ("https://remote.example/notes/1", "document"),
        (None, "document"),
        (make_note(id=None), "id: missing"),
        (make_note(id=12345), "id: expected an id"),
        (make_note(id=["https://a.example/1"]), None),  # tolerated: single-element array
        (make_note(id="ftp://remote.example/1"), "id: must be an http"),
        (make_note(id="javascript:alert(1)"), "id: must be an http"),
        (make_note(id="urn:uuid:1234"), "id: must be an http"),
        (make_note(id="https://user:pw@remote.example/1"), "id: URL must not contain credentials"),
        (make_note(id="https://remote.example/\x00"), "id: URL contains whitespace"),
        (make_note(id="https://remote.example/a b"), "id: URL contains whitespace"),
        (make_note(id="https:///nohost"), "id: URL has no host"),
        (make_note(id="https://remote.example:99999/"), "id: not a valid URL"),
        (make_note(id="https://" + "a" * MAX_URL_LENGTH), "id: URL longer than"),
        (make_note(type=None), "type: missing"),
        (make_note(type=7), "type: expected a string"),
        (make_note(type=[]), "type: empty"),
        (make_note(content=42), "content: expected a string, got number"),
        (make_note(content={"html": "x"}), "content: expected a string, got object"),
        (make_note(content="a\x00b"), "content: contains a NUL byte"),
        (make_note(content="\ud800"), "content: contains invalid unicode"),
        (make_note(content="x" * (MAX_TEXT_LENGTH + 1)), "content: longer than"),
        (make_note(contentMap=["en", "x"]), "contentMap: expected an object"),
        (make_note(contentMap={"en": 5}), r"contentMap\.en: expected a string"),
        (make_note(inReplyTo={"type": "Note"}), "inReplyTo: expected an id"),
        (make_note(inReplyTo=[[]]), "inReplyTo: expected an id"),
        (make_note(attributedTo=[{"type": "Person"}]), "attributedTo: expected an id"),
        (make_note(to=[1]), r"to\[0\]: expected an id"),
        (make_note(to=[f"{ACTOR_ID}/{i}" for i in range(20_000)]), "to: more than 10000"),
        (make_note(tag=[{}] * (MAX_LIST_LENGTH + 1)), "tag: more than"),
        (make_create(actor=None), "actor: missing"),
        (make_create(actor={"type": "Person"}), "actor: expected an id"),
        (make_create(actor=[[ACTOR_ID]]), "actor: expected an id"),
        (make_create(id=None), "id: missing"),
        (make_create(object=None), "object: missing"),
        (make_create(object=[[1]]), r"object\[0\]: expected an id"),
        (make_create(object={"type": "Note", "content": "no id"}), "object: expected an id"),
        (make_create(object=make_note(content=1)), r"object\.content: expected a string"),
        ({**make_create(), "type": "Move"}, "target: missing"),
        ({**make_create(), "type": "Follow", "object": 5}, "object: expected an id"),
        (make_actor(inbox=None), "inbox: missing"),
        (make_actor(inbox="mailto:a@b"), "inbox: must be an http"),
        (make_actor(publicKey={"id": "x", "publicKeyPem": "pem"}), r"publicKey\.id"),
        (
            make_actor(publicKey={"id": f"{ACTOR_ID}#k", "publicKeyPem": "not pem"}),
            r"publicKey\.publicKeyPem: not a PEM block",
        ),
        ({"type": "Collection", "id": "https://a.example/c"}, "unsupported object type"),
    ],
)
def test_hostile_shapes(data: Any, field: str | None) -> None:
    if field is None:
        assert parse_object(data)
        return
    with pytest.raises(VocabError, match=field):
        parse_object(data)


def _nested_undo(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = make_create()
    for level in range(depth):
        doc = {
            "id": f"https://remote.example/undo/{level}",
            "type": "Undo",
            "actor": ACTOR_ID,
            "object": doc,
        }
    return doc


def test_nesting_depth_limit() -> None:
    parsed = parse_activity(_nested_undo(MAX_DEPTH))  # MAX_DEPTH levels below the top one
    levels = 0
    while isinstance(parsed.object, Activity):
        parsed, levels = parsed.object, levels + 1
    assert levels == MAX_DEPTH and isinstance(parsed.object, Note)
    with pytest.raises(VocabError, match="nested deeper than"):
        parse_activity(_nested_undo(MAX_DEPTH + 1))
    with pytest.raises(VocabError, match="nested deeper than"):
        parse_activity(_nested_undo(100))


def test_auxiliary_instrument_never_rejects() -> None:
    broken = {"type": "Note", "id": "https://remote.example/n", "content": 5}
    act = parse_activity(make_create(instrument=broken))
    assert act.instrument == "https://remote.example/n" and act.instrument_object is None


def test_recipient_cap_is_inclusive() -> None:
    many = [f"{ACTOR_ID}/{i}" for i in range(MAX_LIST_LENGTH)]
    assert len(parse_note(make_note(cc=many)).cc) == MAX_LIST_LENGTH


def test_parse_functions_check_kind() -> None:
    with pytest.raises(VocabError, match="not an activity"):
        parse_activity(make_note())
    with pytest.raises(VocabError, match="not an actor type"):
        parse_actor(make_note())
    with pytest.raises(VocabError, match="not a post type"):
        parse_note(make_actor())


# --- bounded fuzz ---------------------------------------------------------------------------

KEYS = [
    "id", "type", "actor", "object", "to", "cc", "inbox", "outbox", "attributedTo", "inReplyTo",
    "content", "contentMap", "summary", "name", "tag", "attachment", "url", "icon", "href",
    "publicKey", "publicKeyPem", "owner", "assertionMethod", "publicKeyMultibase", "controller",
    "endpoints", "sharedInbox", "published", "updated", "target", "result", "instrument",
    "signature", "proof", "quote", "_misskey_quote", "context", "conversation", "mediaType",
]  # fmt: skip
TYPES = [
    "Create", "Update", "Delete", "Follow", "Accept", "Undo", "Like", "Announce", "Flag",
    "Move", "Note", "Article", "Question", "Person", "Group", "Tombstone", "Mention",
    "Hashtag", "Emoji", "Multikey", "Bite", "Collection",
]  # fmt: skip
STRINGS = [
    "https://remote.example/users/alice", "http://localhost:8080/x", PUBLIC, "as:Public",
    "ftp://remote.example/x", "https://u:p@remote.example/", "https://remote.example/\x00",
    "", "#tag", ":emoji:", "2024-01-01T00:00:00Z", "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "\ud800",
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(STRINGS + TYPES)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=30,
)
# A plausible skeleton of the given type with random fields laid over it, so that the fuzz
# reaches the success paths of every parser, not just the first required-field check.
SKELETON = {
    "id": "https://remote.example/things/1",
    "actor": ACTOR_ID,
    "attributedTo": ACTOR_ID,
    "inbox": f"{ACTOR_ID}/inbox",
    "object": "https://remote.example/notes/1",
    "target": "https://remote.example/collections/1",
}
typed_docs = st.builds(
    lambda fields, kind: {**SKELETON, **fields, "type": kind},
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6),
    st.sampled_from(TYPES) | json_values,
)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_invariants(parsed: APObject) -> None:
    """Whatever parses has http(s) ids and clean recipients, all the way down."""
    assert is_http_url(parsed.id)
    hash(parsed)
    if isinstance(parsed, Activity):
        assert is_http_url(parsed.actor)
        assert all(is_http_url(o) for o in parsed.objects)
        assert parsed.object_id == (parsed.objects[0] if parsed.objects else None)
        if parsed.object is not None:
            _check_invariants(parsed.object)
    if isinstance(parsed, (Activity, Note)):
        assert all(r == PUBLIC or is_http_url(r) for r in parsed.to + parsed.cc)


def _parse_or_vocab_error(data: Any) -> None:
    try:
        parsed = parse_object(data)
    except VocabError:
        return
    _check_invariants(parsed)


@FUZZ
@given(json_values)
def test_fuzz_any_json(data: Any) -> None:
    _parse_or_vocab_error(data)


@FUZZ
@given(typed_docs)
def test_fuzz_typed_documents(data: dict[str, Any]) -> None:
    _parse_or_vocab_error(data)
    _parse_or_vocab_error(make_create(object=data))
    _parse_or_vocab_error({**make_create(), "type": "Undo", "object": make_create(object=data)})


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


VALID_FIXTURES = [n for n in ALL_FIXTURES if n not in EXPECTED_REJECTS]


@FUZZ
@given(st.sampled_from(VALID_FIXTURES), st.data())
def test_fuzz_mutated_fixtures(name: str, data: st.DataObject) -> None:
    doc = raw(name)
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = data.draw(json_values)
    _parse_or_vocab_error(doc)
