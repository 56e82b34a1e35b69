"""HTTP signatures: the published vectors (tests/vectors) plus unit and negative cases."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedblog.federation.signatures import (
    REASON_CODES,
    SPEC_POLICY,
    HttpRequestParts,
    ParsedSignature,
    PrivateKey,
    PublicKey,
    SignatureError,
    VerifyPolicy,
    candidate_algorithms,
    check_algorithm,
    content_digest,
    digest_header,
    load_private_key_pem,
    load_public_key_pem,
    parse_signature,
    precheck_signature,
    sign_bytes,
    sign_request_cavage,
    sign_request_rfc9421,
    signed_authority,
    signing_string,
    verify_signature,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SHARED_VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
VECTOR_FILES = ("cavage.json", "rfc9421.json", "README.md")


# --- key resolution by key id, the way the inbox does it ------------------------------------


@dataclass(frozen=True)
class KeyEntry:
    file: str  # relative to the vectors dir, as the cases' `key` field spells it
    algorithm: str | None  # RFC 9421 algorithm bound to the key by its metadata, if any
    private_file: str | None


# keyId -> key, as a server's key store would hold it. The PSS key is bound to its algorithm:
# nothing in an RSA public key says "PSS", so the metadata must (RFC 9421 section 3.3.7).
KEYRING: dict[str, KeyEntry] = {
    "Test": KeyEntry("keys/cavage-appendix-c.public.pem", None, "keys/cavage-appendix-c.private.pem"),
    "https://remote.domain/users/bob#main-key": KeyEntry(
        "keys/mastodon-spec.public.pem", None, "keys/mastodon-spec.private.pem"
    ),
    "test-key-rsa": KeyEntry("keys/test-key-rsa.public.pem", None, "keys/test-key-rsa.private.pem"),
    "test-key-rsa-pss": KeyEntry(
        "keys/test-key-rsa-pss.public.pem", "rsa-pss-sha512", "keys/test-key-rsa-pss.private.pem"
    ),
    "test-key-ecc-p256": KeyEntry(
        "keys/test-key-ecc-p256.public.pem", None, "keys/test-key-ecc-p256.private.pem"
    ),
    "test-key-ed25519": KeyEntry(
        "keys/test-key-ed25519.public.pem", None, "keys/test-key-ed25519.private.pem"
    ),
    "test-shared-secret": KeyEntry("keys/test-shared-secret.b64", "hmac-sha256", None),
}
WEAK_TEST_KEY = "keys/cavage-appendix-c.public.pem"  # 1024-bit, see vectors/README.md


def load_key(file: str) -> PublicKey:
    data = (VECTORS / file).read_bytes()
    if file.endswith(".b64"):
        return base64.b64decode(b"".join(data.split()))
    return load_public_key_pem(data)


def load_private(file: str) -> PrivateKey:
    return load_private_key_pem((VECTORS / file).read_bytes())


def resolve_key(key_id: str) -> KeyEntry:
    entry = KEYRING.get(key_id)
    if entry is None:
        raise SignatureError("unknown_key", f"no key {key_id}")
    return entry


# --- the vector cases -----------------------------------------------------------------------


def load_cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return cases


CAVAGE = load_cases("cavage.json")
RFC9421 = load_cases("rfc9421.json")


def case_request(case: dict[str, Any]) -> HttpRequestParts:
    headers = [(name, value) for name, value in case["headers"]]
    if "signature_header" in case:
        host = next((v for n, v in case["headers"] if n.lower() == "host"), "example.invalid")
        url = f"https://{host}{case['path']}"
        headers.append((case["signature_header"]["name"], case["signature_header"]["value"]))
    else:
        url = case["target_uri"]
        headers.append(("Signature-Input", case["signature_input"]))
        headers.append(("Signature", case["signature"]))
    return HttpRequestParts(
        method=case["method"], url=url, headers=tuple(headers), body=case["body"].encode("utf-8")
    )


def case_policy(case: dict[str, Any], entry: KeyEntry | None) -> VerifyPolicy:
    base = VerifyPolicy() if case["profile"] == "fediverse" else SPEC_POLICY
    if entry is not None and entry.file == WEAK_TEST_KEY:
        # The draft's Appendix C key is 1024-bit; allow it for these cases only.
        return VerifyPolicy(
            max_age=base.max_age,
            max_future=base.max_future,
            require_digest_for_body=base.require_digest_for_body,
            required_covered=base.required_covered,
            min_rsa_bits=1024,
            allow_query_less_target=base.allow_query_less_target,
        )
    return base


def run_case(case: dict[str, Any], policy: VerifyPolicy | None = None) -> ParsedSignature:
    """Parse, resolve the key by id, verify: the inbox's sequence. Returns the parse."""
    request = case_request(case)
    parsed = parse_signature(request, label=case.get("label"))
    assert parsed.key_id == case["key_id"]
    entry = resolve_key(parsed.key_id)
    assert entry.file == case["key"], "keyring disagrees with the vector's key"
    verify_signature(
        parsed,
        request,
        load_key(entry.file),
        now=float(case["now_unix"]),
        policy=policy or case_policy(case, entry),
        key_algorithm=entry.algorithm,
    )
    return parsed


def expected_codes(case: dict[str, Any]) -> set[str]:
    return {case["reason_code"], *case.get("also_fails", [])}


ALL_CASES = [pytest.param(c, id=f"cavage:{c['name']}") for c in CAVAGE] + [
    pytest.param(c, id=f"rfc9421:{c['name']}") for c in RFC9421
]


@pytest.mark.parametrize("case", ALL_CASES)
def test_vector(case: dict[str, Any]) -> None:
    if case["expected"] == "valid":
        run_case(case)
        return
    assert case["reason_code"] in REASON_CODES
    with pytest.raises(SignatureError) as caught:
        run_case(case)
    assert caught.value.code in expected_codes(case), caught.value.message


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c["name"]) for c in CAVAGE if c.get("signing_string") is not None],
)
def test_vector_signing_string(case: dict[str, Any]) -> None:
    request = case_request(case)
    parsed = parse_signature(request)
    assert signing_string(parsed, request) == case["signing_string"]
    if case.get("signing_string_quirk") is not None:
        assert signing_string(parsed, request, include_query=False) == case["signing_string_quirk"]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c["name"]) for c in RFC9421 if c.get("signature_base") is not None],
)
def test_vector_signature_base(case: dict[str, Any]) -> None:
    request = case_request(case)
    parsed = parse_signature(request, label=case["label"])
    assert signing_string(parsed, request) == case["signature_base"]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c["name"]) for c in RFC9421 if c["expected"] == "valid"],
)
def test_vector_algorithm(case: dict[str, Any]) -> None:
    request = case_request(case)
    parsed = parse_signature(request, label=case["label"])
    entry = resolve_key(parsed.key_id)
    algorithms = candidate_algorithms(
        parsed, load_key(entry.file), key_algorithm=entry.algorithm
    )
    assert algorithms == (case["alg"],)
    assert (parsed.algorithm is not None) == (case["alg_from"] == "signature-params")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["name"])
        for c in RFC9421
        if c["deterministic"] and c["expected"] == "valid" and KEYRING[c["key_id"]].private_file
    ],
)
def test_vector_deterministic_resign(case: dict[str, Any]) -> None:
    request = case_request(case)
    parsed = parse_signature(request, label=case["label"])
    entry = resolve_key(parsed.key_id)
    assert entry.private_file is not None
    base = signing_string(parsed, request).encode("ascii")
    assert sign_bytes(case["alg"], load_private(entry.private_file), base) == parsed.signature


def test_vector_hmac_resign() -> None:
    (case,) = [c for c in RFC9421 if c["alg"] == "hmac-sha256"]
    request = case_request(case)
    parsed = parse_signature(request, label=case["label"])
    secret = load_key(KEYRING[parsed.key_id].file)
    assert isinstance(secret, bytes)
    base = signing_string(parsed, request).encode("ascii")
    assert sign_bytes("hmac-sha256", secret, base) == parsed.signature


def test_quirk_case_is_refused_by_a_strict_verifier() -> None:
    (case,) = [c for c in CAVAGE if c.get("quirk") == "query-less-request-target"]
    run_case(case)  # the default policy imitates Mastodon
    strict = VerifyPolicy(allow_query_less_target=False)
    with pytest.raises(SignatureError) as caught:
        run_case(case, strict)
    assert caught.value.code == "signature_mismatch"


def test_weak_vector_key_refused_under_default_policy() -> None:
    (case,) = [c for c in CAVAGE if c["name"] == "cavage-c2-basic-authorization"]
    with pytest.raises(SignatureError) as caught:
        run_case(case, VerifyPolicy(required_covered=False, require_digest_for_body=False))
    assert caught.value.code == "weak_key"


def test_vectors_cover_every_case_count() -> None:
    assert len(CAVAGE) == 23 and len(RFC9421) == 33


@pytest.mark.skipif(not SHARED_VECTORS.is_dir(), reason="no shared vectors outside the repo")
def test_vendored_vectors_match_shared_copy() -> None:
    for name in VECTOR_FILES:
        assert (VECTORS / name).read_bytes() == (SHARED_VECTORS / name).read_bytes(), name
    shared_keys = sorted(p.name for p in (SHARED_VECTORS / "keys").iterdir())
    assert sorted(p.name for p in (VECTORS / "keys").iterdir()) == shared_keys
    for name in shared_keys:
        assert (VECTORS / "keys" / name).read_bytes() == (SHARED_VECTORS / "keys" / name).read_bytes()


# --- helpers for our own round trips -------------------------------------------------------

NOW = 1_703_066_400.0
INBOX = "https://blog.example:8443/inbox?x=1"
BODY = b'{"type": "Follow"}'


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def post(url: str = INBOX, body: bytes = BODY, headers: tuple[tuple[str, str], ...] = ()) -> (
    HttpRequestParts
):
    base = (("Content-Type", "application/activity+json"),)
    return HttpRequestParts(method="POST", url=url, headers=base + headers, body=body)


def get(url: str = "https://blog.example/users/alice") -> HttpRequestParts:
    return HttpRequestParts(
        method="GET", url=url, headers=(("Accept", "application/activity+json"),), body=b""
    )


def verify(request: HttpRequestParts, key: object, *, now: float = NOW, **policy: Any) -> None:
    verify_signature(
        parse_signature(request), request, key, now=now, policy=VerifyPolicy(**policy)
    )


def code_of(request: HttpRequestParts, key: object, *, now: float = NOW, **policy: Any) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(request, key, now=now, **policy)
    assert caught.value.code in REASON_CODES
    return caught.value.code


def replace_header(request: HttpRequestParts, name: str, value: str) -> HttpRequestParts:
    return request.with_fields(((name, value),))


# --- digests --------------------------------------------------------------------------------


def test_digest_helpers() -> None:
    sha = base64.b64encode(hashlib.sha256(b"Hello world").digest()).decode()
    assert digest_header(b"Hello world") == f"SHA-256={sha}"
    assert content_digest(b"Hello world") == f"sha-256=:{sha}:"
    assert sha == "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="


# --- signing with cavage --------------------------------------------------------------------


def test_cavage_sign_adds_fields_and_round_trips(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="https://blog.example/a#main-key",
                                 private_key=rsa_key, now=NOW)
    names = [n for n, _ in signed.headers]
    assert names.count("Host") == 1 and names.count("Signature") == 1
    assert signed.field_value("host") == "blog.example:8443"  # the port is kept
    assert signed.field_value("date") == "Wed, 20 Dec 2023 10:00:00 GMT"
    assert signed.field_value("digest") == digest_header(BODY)
    parsed = parse_signature(signed)
    assert parsed.algorithm == "rsa-sha256"
    assert parsed.covered == ("(request-target)", "host", "date", "digest")
    assert signing_string(parsed, signed).startswith("(request-target): post /inbox?x=1\n")
    verify(signed, rsa_key.public_key())


def test_cavage_sign_default_port_and_get(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(get("https://Blog.Example:443/u?page=2"), key_id="k",
                                 private_key=rsa_key, now=NOW)
    assert signed.field_value("host") == "blog.example"
    assert not signed.has_field("digest")
    assert parse_signature(signed).covered == ("(request-target)", "host", "date")
    verify(signed, rsa_key.public_key())


def test_cavage_sign_replaces_existing_fields(rsa_key: rsa.RSAPrivateKey) -> None:
    stale = post(headers=(("host", "old"), ("date", "old"), ("signature", "old"),
                          ("Signature-Input", "sig1=()")))
    signed = sign_request_cavage(stale, key_id="k", private_key=rsa_key, now=NOW)
    lower = [n.lower() for n, _ in signed.headers]
    assert lower.count("host") == lower.count("date") == lower.count("signature") == 1
    assert "signature-input" not in lower
    verify(signed, rsa_key.public_key())


def test_cavage_sign_ed25519_uses_hs2019(ed_key: ed25519.Ed25519PrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="k", private_key=ed_key, now=NOW)
    assert parse_signature(signed).algorithm == "hs2019"
    verify(signed, ed_key.public_key())


def test_cavage_hs2019_rsa_accepts_pss(rsa_key: rsa.RSAPrivateKey) -> None:
    request = post(headers=(("Host", "blog.example:8443"),
                            ("Date", "Wed, 20 Dec 2023 10:00:00 GMT"),
                            ("Digest", digest_header(BODY))))
    unsigned = ParsedSignature(scheme="cavage", key_id="k", algorithm="hs2019",
                               covered=("(request-target)", "host", "date", "digest"),
                               created=None, expires=None, signature=b"")
    sig = sign_bytes("rsa-pss-sha512", rsa_key, signing_string(unsigned, request).encode())
    value = ('keyId="k",algorithm="hs2019",headers="(request-target) host date digest",'
             f'signature="{base64.b64encode(sig).decode()}"')
    verify(replace_header(request, "Signature", value), rsa_key.public_key())


def test_cavage_created_and_expires_with_hs2019(ed_key: ed25519.Ed25519PrivateKey) -> None:
    request = post(headers=(("Host", "blog.example:8443"), ("Digest", digest_header(BODY))))
    covered = ("(request-target)", "(created)", "(expires)", "host", "digest")
    unsigned = ParsedSignature(scheme="cavage", key_id="k", algorithm="hs2019", covered=covered,
                               created=int(NOW), expires=int(NOW) + 300, signature=b"")
    text = signing_string(unsigned, request)
    assert "(created): 1703066400\n(expires): 1703066700" in text
    sig = base64.b64encode(ed_key.sign(text.encode())).decode()
    value = (f'keyId="k",algorithm="hs2019",created={int(NOW)},expires={int(NOW) + 300},'
             f'headers="{" ".join(covered)}",signature="{sig}"')
    signed = replace_header(request, "Signature", value)
    verify(signed, ed_key.public_key())  # no Date: (created) stands in for it
    # Mastodon (app/lib/signed_request.rb) allows 1 h of clock skew after `expires`
    verify(signed, ed_key.public_key(), now=NOW + 300 + 3600)
    assert code_of(signed, ed_key.public_key(), now=NOW + 300 + 3601) == "expired"


# --- signing with RFC 9421 ------------------------------------------------------------------


def test_rfc9421_sign_round_trip(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_rfc9421(post(), key_id="https://blog.example/a#main-key",
                                  private_key=rsa_key, now=NOW)
    assert signed.field_value("content-digest") == content_digest(BODY)
    assert signed.field_value("signature-input") == (
        'sig1=("@method" "@target-uri" "content-digest");created=1703066400;'
        'keyid="https://blog.example/a#main-key"'
    )
    parsed = parse_signature(signed)
    assert parsed.scheme == "rfc9421" and parsed.algorithm is None
    assert parsed.covered == ('"@method"', '"@target-uri"', '"content-digest"')
    assert signing_string(parsed, signed).splitlines()[1] == f'"@target-uri": {INBOX}'
    verify(signed, rsa_key.public_key())


@pytest.mark.parametrize("kind", ["ed25519", "p256", "hmac", "pss"])
def test_rfc9421_sign_other_algorithms(kind: str) -> None:
    private: PrivateKey
    public: object
    algorithm = None
    if kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key()
    elif kind == "p256":
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key()
    elif kind == "hmac":
        private = public = b"\x01" * 32
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = private.public_key()
        algorithm = "rsa-pss-sha512"
    signed = sign_request_rfc9421(get(), key_id="k", private_key=private, now=NOW,
                                  expires_in=60, algorithm=algorithm, include_alg=True)
    parsed = parse_signature(signed)
    assert parsed.expires == int(NOW) + 60 and parsed.algorithm is not None
    verify_signature(parsed, signed, public, now=NOW)
    verify_signature(parsed, signed, public, now=NOW + 61)        # the clock-skew margin
    with pytest.raises(SignatureError) as caught:
        verify_signature(parsed, signed, public, now=NOW + 60 + 3601)
    assert caught.value.code == "expired"


def test_rfc9421_sign_replaces_existing_signature(ed_key: ed25519.Ed25519PrivateKey) -> None:
    once = sign_request_rfc9421(post(), key_id="k", private_key=ed_key, now=NOW, label="a")
    twice = sign_request_rfc9421(once, key_id="k", private_key=ed_key, now=NOW + 1, label="b")
    assert [n.lower() for n, _ in twice.headers].count("signature-input") == 1
    assert parse_signature(twice).label == "b"
    verify(twice, ed_key.public_key())


def test_rfc9421_label_selection(ed_key: ed25519.Ed25519PrivateKey) -> None:
    signed = sign_request_rfc9421(get(), key_id="k", private_key=ed_key, now=NOW)
    assert parse_signature(signed, label="sig1").label == "sig1"
    with pytest.raises(SignatureError) as caught:
        parse_signature(signed, label="other")
    assert caught.value.code == "missing_signature"


# --- negative cases -------------------------------------------------------------------------


def test_missing_signature() -> None:
    with pytest.raises(SignatureError) as caught:
        parse_signature(post(headers=(("Authorization", "Bearer abc"),)))
    assert caught.value.code == "missing_signature"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Signature", "garbage"),
        ("Signature", 'keyId="k"'),
        ("Signature", 'keyId="k",signature="not base64!"'),
        ("Signature", 'keyId="k",keyId="j",signature="AAAA"'),
        ("Signature", 'keyId="k",headers="",signature="AAAA"'),
        ("Signature", 'keyId="k",headers="(bogus)",signature="AAAA"'),
        ("Signature", 'keyId="k",signature="AAAA" trailing'),
        ("Authorization", "Signature "),
        ("Signature-Input", "sig1=("),
        ("Signature-Input", 'sig1=("@method");created=1'),
        ("Signature-Input", 'sig1=("@method");keyid="k";created=?1'),
        ("Signature-Input", 'sig1=("@Method");keyid="k"'),
        ("Signature-Input", 'sig1=("@unknown");keyid="k"'),
        ("Signature-Input", 'sig1=("@method" "@method");keyid="k"'),
        ("Signature-Input", 'sig1=(@method);keyid="k"'),
        ("Signature-Input", 'sig1="@method";keyid="k"'),
        ("Signature-Input", 'sig1=("date";req);keyid="k"'),
    ],
)
def test_garbage_headers_are_malformed(name: str, value: str) -> None:
    headers: tuple[tuple[str, str], ...] = ((name, value),)
    if name == "Signature-Input":
        headers += (("Signature", "sig1=:AAAA:"),)
    with pytest.raises(SignatureError) as caught:
        parse_signature(post(headers=headers))
    assert caught.value.code == "malformed_signature", caught.value.message


def test_signature_input_without_signature_is_malformed() -> None:
    with pytest.raises(SignatureError) as caught:
        parse_signature(post(headers=(("Signature-Input", 'sig1=("@method");keyid="k"'),)))
    assert caught.value.code == "malformed_signature"


@pytest.mark.parametrize(
    "headers",
    [
        (("Signature", 'keyId="k",algorithm="rsa-sha1",signature="AAAA"'),),
        (("Signature", 'keyId="k",algorithm="dsa-sha256",signature="AAAA"'),),
        (("Signature-Input", 'sig1=("@method");keyid="k";alg="hs2019"'),
         ("Signature", "sig1=:AAAA:")),
        (("Signature-Input", 'sig1=("@method");keyid="k";alg="rsa-sha256"'),
         ("Signature", "sig1=:AAAA:")),
    ],
)
def test_unknown_algorithm(headers: tuple[tuple[str, str], ...],
                           rsa_key: rsa.RSAPrivateKey) -> None:
    request = post(headers=headers)
    parsed = parse_signature(request)
    with pytest.raises(SignatureError) as caught:
        check_algorithm(parsed)
    assert caught.value.code == "unsupported_algorithm"
    with pytest.raises(SignatureError) as caught:
        verify_signature(parsed, request, rsa_key.public_key(), now=NOW)
    assert caught.value.code == "unsupported_algorithm"


def test_algorithm_that_does_not_fit_the_key(rsa_key: rsa.RSAPrivateKey,
                                             ed_key: ed25519.Ed25519PrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    assert code_of(signed, ed_key.public_key()) == "unsupported_algorithm"
    signed = sign_request_rfc9421(post(), key_id="k", private_key=ed_key, now=NOW,
                                  include_alg=True)
    assert code_of(signed, rsa_key.public_key()) == "unsupported_algorithm"


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_body_changed_after_signing(scheme: str, rsa_key: rsa.RSAPrivateKey) -> None:
    sign = sign_request_cavage if scheme == "cavage" else sign_request_rfc9421
    signed = sign(post(), key_id="k", private_key=rsa_key, now=NOW)
    tampered = HttpRequestParts(signed.method, signed.url, signed.headers, BODY + b" ")
    assert code_of(tampered, rsa_key.public_key()) == "digest_mismatch"


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_wrong_key_and_changed_url(scheme: str, rsa_key: rsa.RSAPrivateKey) -> None:
    sign = sign_request_cavage if scheme == "cavage" else sign_request_rfc9421
    signed = sign(post(), key_id="k", private_key=rsa_key, now=NOW)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    assert code_of(signed, other) == "signature_mismatch"
    moved = HttpRequestParts(signed.method, INBOX.replace("inbox", "outbox"), signed.headers,
                             signed.body)
    assert code_of(moved, rsa_key.public_key()) == "signature_mismatch"


def test_stale_and_future_date(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    public = rsa_key.public_key()
    # Mastodon's window (app/lib/signed_request.rb L259-270): no `expires`, so the signature
    # lives 5 minutes after its Date plus CLOCK_SKEW_MARGIN (1 h); 1 h ahead at most
    verify(signed, public, now=NOW + 3900)
    assert code_of(signed, public, now=NOW + 3901) == "date_outside_window"
    assert code_of(signed, public, now=NOW + 3 * 3600) == "date_outside_window"
    assert code_of(signed, public, now=NOW + 12 * 3600 + 1) == "date_outside_window"
    verify(signed, public, now=NOW - 3600)
    assert code_of(signed, public, now=NOW - 3601) == "date_outside_window"
    assert code_of(signed, public, now=NOW + 301, max_age=300) == "date_outside_window"


def test_unparsable_date(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    parsed = parse_signature(signed)
    bad = replace_header(signed, "Date", "Wed, 20 Dec 2023 10:00:00")
    text = signing_string(parsed, bad)
    resigned = replace_header(bad, "Signature", (
        'keyId="k",algorithm="rsa-sha256",headers="(request-target) host date digest",'
        f'signature="{base64.b64encode(sign_bytes("rsa-v1_5-sha256", rsa_key, text.encode())).decode()}"'
    ))
    assert code_of(resigned, rsa_key.public_key()) == "date_unparsable"


def test_rfc9421_created_window_and_expiry(ed_key: ed25519.Ed25519PrivateKey) -> None:
    signed = sign_request_rfc9421(post(), key_id="k", private_key=ed_key, now=NOW,
                                  expires_in=30)
    public = ed_key.public_key()
    verify(signed, public, now=NOW + 30 + 3600)
    assert code_of(signed, public, now=NOW + 30 + 3601) == "expired"
    assert code_of(signed, public, now=NOW - 3601) == "created_outside_window"
    fresh = sign_request_rfc9421(post(), key_id="k", private_key=ed_key, now=NOW)
    assert code_of(fresh, public, now=NOW + 12 * 3600 + 1) == "created_outside_window"


def _cavage_signed(
    key: rsa.RSAPrivateKey, request: HttpRequestParts, covered: tuple[str, ...]
) -> HttpRequestParts:
    unsigned = ParsedSignature(scheme="cavage", key_id="k", algorithm="rsa-sha256",
                               covered=covered, created=None, expires=None, signature=b"")
    sig = sign_bytes("rsa-v1_5-sha256", key, signing_string(unsigned, request).encode())
    return replace_header(request, "Signature", (
        f'keyId="k",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
        f'signature="{base64.b64encode(sig).decode()}"'
    ))


@pytest.mark.parametrize(
    "covered",
    [
        ("host", "date", "digest"),  # no (request-target)
        ("(request-target)", "date", "digest"),  # no host
        ("(request-target)", "host", "digest"),  # no date
    ],
)
def test_fediverse_profile_requires_core_headers(covered: tuple[str, ...],
                                                 rsa_key: rsa.RSAPrivateKey) -> None:
    request = post(headers=(("Host", "blog.example:8443"),
                            ("Date", "Wed, 20 Dec 2023 10:00:00 GMT"),
                            ("Digest", digest_header(BODY))))
    signed = _cavage_signed(rsa_key, request, covered)
    assert code_of(signed, rsa_key.public_key()) == "missing_required_component"
    # The spec profile does not ask for them.
    verify(signed, rsa_key.public_key(), required_covered=False)


def test_fediverse_profile_requires_digest(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = (("Host", "blog.example:8443"), ("Date", "Wed, 20 Dec 2023 10:00:00 GMT"))
    no_digest = _cavage_signed(rsa_key, post(headers=headers),
                               ("(request-target)", "host", "date"))
    assert code_of(no_digest, rsa_key.public_key()) == "missing_required_component"
    unsigned = _cavage_signed(rsa_key, post(headers=headers + (("Digest", digest_header(BODY)),)),
                              ("(request-target)", "host", "date"))
    assert code_of(unsigned, rsa_key.public_key()) == "digest_not_signed"
    verify(unsigned, rsa_key.public_key(), require_digest_for_body=False)


def test_rfc9421_fediverse_profile_rules(ed_key: ed25519.Ed25519PrivateKey) -> None:
    public = ed_key.public_key()
    signed = sign_request_rfc9421(post(), key_id="k", private_key=ed_key, now=NOW)
    no_digest = signed.without_fields(("content-digest",))
    # Content-Digest is covered, so removing it breaks the base first.
    assert code_of(no_digest, public) == "missing_covered_component"

    def resign(inner: str, request: HttpRequestParts) -> HttpRequestParts:
        staged = request.with_fields((("Signature-Input", f"sig1={inner}"),
                                      ("Signature", "sig1=:AAAA:")))
        base = signing_string(parse_signature(staged), staged).encode()
        sig = base64.b64encode(ed_key.sign(base)).decode()
        return staged.with_fields((("Signature", f"sig1=:{sig}:"),))

    with_digest = post(headers=(("Content-Digest", content_digest(BODY)),))
    only_method = resign('("@method" "content-digest");created=1703066400;keyid="k"', with_digest)
    assert code_of(only_method, public) == "missing_required_component"
    verify(only_method, public, required_covered=False)
    no_created = resign('("@method" "@target-uri" "content-digest");keyid="k"', with_digest)
    assert code_of(no_created, public) == "missing_required_component"
    uncovered = resign('("@method" "@target-uri");created=1703066400;keyid="k"', with_digest)
    assert code_of(uncovered, public) == "content_digest_not_covered"
    split = resign('("@method" "@authority" "@path" "@query" "content-digest");'
                   'created=1703066400;keyid="k"', with_digest)
    verify(split, public)
    missing = resign('("@method" "@target-uri");created=1703066400;keyid="k"', post())
    assert code_of(missing, public) == "missing_required_component"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_rfc9421_field_parameters(ed_key: ed25519.Ed25519PrivateKey) -> None:
    request = HttpRequestParts(
        method="GET",
        url="https://example.com/p?a=1&b=x%20y&Pet=dog&c=~",
        headers=(("Example-Dict", " a=1,    b=2;x=1;y=2, c=(a   b   c)"),
                 ("X-Multi", "one"), ("X-Multi", "two "),
                 ("Content-Digest", content_digest(b""))),
        body=b"",
    )
    inner = ('("example-dict";sf "example-dict";key="b" "x-multi";bs "x-multi" '
             '"@query-param";name="b" "@query-param";name="Pet" "@query-param";name="c" '
             '"@query" "@request-target" "@scheme" "content-digest";key="sha-256")'
             ';created=1703066400;keyid="k"')
    staged = request.with_fields((("Signature-Input", f"sig1={inner}"),
                                  ("Signature", "sig1=:AAAA:")))
    lines = signing_string(parse_signature(staged), staged).splitlines()
    assert lines[:10] == [
        '"example-dict";sf: a=1, b=2;x=1;y=2, c=(a b c)',
        '"example-dict";key="b": 2;x=1;y=2',
        f'"x-multi";bs: :{b64(b"one")}:, :{b64(b"two")}:',
        '"x-multi": one, two',
        '"@query-param";name="b": x%20y',
        '"@query-param";name="Pet": dog',
        '"@query-param";name="c": %7E',
        '"@query": ?a=1&b=x%20y&Pet=dog&c=~',
        '"@request-target": /p?a=1&b=x%20y&Pet=dog&c=~',
        '"@scheme": https',
    ]
    absent = ('("@query-param";name="zzz");created=1703066400;keyid="k"')
    staged = request.with_fields((("Signature-Input", f"sig1={absent}"),
                                  ("Signature", "sig1=:AAAA:")))
    with pytest.raises(SignatureError) as caught:
        signing_string(parse_signature(staged), staged)
    assert caught.value.code == "missing_covered_component"


def test_malformed_content_digest_detected(ed_key: ed25519.Ed25519PrivateKey) -> None:
    signed = sign_request_rfc9421(post(), key_id="k", private_key=ed_key, now=NOW)
    # Content-Digest is covered, so a changed value breaks the signature before the digest.
    broken = replace_header(signed, "Content-Digest", "SHA-256=:AAAA:")
    assert code_of(broken, ed_key.public_key()) == "signature_mismatch"
    # Not covered and unparsable: found by the digest check.
    cavage = sign_request_cavage(post(), key_id="k", private_key=ed_key, now=NOW)
    extra = cavage.with_fields((("Content-Digest", "SHA-256=:AAAA:"),))
    assert code_of(extra, ed_key.public_key()) == "malformed_content_digest"


def test_missing_signed_header(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    assert code_of(signed.without_fields(("digest",)), rsa_key.public_key()) == (
        "missing_signed_header")


def test_host_falls_back_to_url_authority(rsa_key: rsa.RSAPrivateKey) -> None:
    # HTTP/2 requests carry :authority, not Host; the URL was built from it.
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    verify(signed.without_fields(("host",)), rsa_key.public_key())


def test_weak_key_refused_by_default() -> None:
    weak = load_key(WEAK_TEST_KEY)
    private = load_private("keys/cavage-appendix-c.private.pem")
    signed = sign_request_cavage(post(), key_id="Test", private_key=private, now=NOW)
    assert code_of(signed, weak) == "weak_key"
    verify(signed, weak, min_rsa_bits=1024)


def test_bad_keys() -> None:
    for pem in ("", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", b"\xff"):
        with pytest.raises(SignatureError) as caught:
            load_public_key_pem(pem)
        assert caught.value.code == "bad_key"
    request = sign_request_rfc9421(get(), key_id="k", private_key=b"secret", now=NOW)
    assert code_of(request, "not a key") == "bad_key"
    assert code_of(request, b"") == "bad_key"
    p192 = ec.generate_private_key(ec.SECP192R1()).public_key()
    assert code_of(request, p192) == "bad_key"
    p192_pem = p192.public_bytes(serialization.Encoding.PEM,
                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(SignatureError) as caught:
        load_public_key_pem(p192_pem)
    assert caught.value.code == "bad_key"


def test_signature_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(SignatureError("expired", "the signature has expired")))
    assert (error.code, error.message) == ("expired", "the signature has expired")
    assert str(error) == "expired: the signature has expired"


def test_load_public_key_pem_formats() -> None:
    pkcs1 = load_public_key_pem((VECTORS / "keys/test-key-rsa.public.pem").read_text())
    spki = load_public_key_pem((VECTORS / "keys/mastodon-spec.public.pem").read_bytes())
    assert isinstance(pkcs1, rsa.RSAPublicKey) and pkcs1.key_size == 2048
    assert isinstance(spki, rsa.RSAPublicKey)
    assert isinstance(load_public_key_pem((VECTORS / "keys/test-key-ed25519.public.pem")
                                          .read_text()), ed25519.Ed25519PublicKey)


def test_authorization_form_and_quoted_params(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id='https://x.example/a#"key"', private_key=rsa_key,
                                 now=NOW)
    value = signed.field_value("signature")
    assert value is not None
    as_auth = signed.without_fields(("signature",)).with_fields(
        (("Authorization", f"Signature {value}"),))
    parsed = parse_signature(as_auth)
    assert parsed.source == "authorization" and parsed.key_id == 'https://x.example/a#"key"'
    verify(as_auth, rsa_key.public_key())


def test_rfc9421_preferred_over_cavage(rsa_key: rsa.RSAPrivateKey) -> None:
    cavage = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    both = sign_request_rfc9421(cavage, key_id="k", private_key=rsa_key, now=NOW)
    assert parse_signature(both).scheme == "rfc9421"
    verify(both, rsa_key.public_key())


# --- fuzz: parse_signature only ever raises SignatureError ----------------------------------

_FIELD_NAMES = st.sampled_from(["Signature", "Signature-Input", "Authorization"])
_FRAGMENTS = st.sampled_from([
    'keyId="k"', "algorithm=", '"hs2019"', '"rsa-sha256"', 'headers="(request-target) date"',
    'signature="AAAA"', "created=1", "expires=x", "sig1=", '("@method" "@target-uri")',
    ";keyid=\"k\"", ";created=1", ";alg=\"ed25519\"", ":AAAA:", ",", " ", "(", ")", ";", "=",
    '"', "\\", "Signature ", '"@query-param";name="a"', "?1", "1.5", "%\"x\"", "@1",
])
_VALUES = st.one_of(
    st.text(max_size=80),
    st.lists(_FRAGMENTS, max_size=12).map("".join),
)


_FUZZ_KEY = ed25519.Ed25519PrivateKey.generate().public_key()


@settings(
    max_examples=300,
    deadline=None,
    database=None,  # no example database left behind in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)
@given(fields=st.lists(st.tuples(_FIELD_NAMES, _VALUES), min_size=1, max_size=3))
def test_fuzz_parse_signature_only_raises_signature_error(
    fields: list[tuple[str, str]],
) -> None:
    request = HttpRequestParts(method="POST", url=INBOX, headers=tuple(fields), body=BODY)
    try:
        parsed = parse_signature(request)
    except SignatureError as exc:
        assert exc.code in REASON_CODES
        return
    # Whatever parses must also be safe to rebuild and verify.
    for step in (
        lambda: signing_string(parsed, request),
        lambda: verify_signature(parsed, request, _FUZZ_KEY, now=NOW, policy=SPEC_POLICY),
    ):
        try:
            step()
        except SignatureError as exc:
            assert exc.code in REASON_CODES


# --- what needs no key (issue 14) -----------------------------------------------------------


def _precheck_code(request: HttpRequestParts, *, now: float = NOW) -> str | None:
    try:
        precheck_signature(parse_signature(request), request, now=now, policy=VerifyPolicy())
    except SignatureError as exc:
        return exc.code
    return None


def test_precheck_refuses_without_a_key_what_verify_would(rsa_key: rsa.RSAPrivateKey) -> None:
    """Date window, Digest and signed-header set are judged before any key is fetched, with
    the codes verify_signature gives: no key object is passed at all."""
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    assert _precheck_code(signed) is None
    assert _precheck_code(signed, now=NOW + 3 * 3600) == "date_outside_window"
    tampered = HttpRequestParts(signed.method, signed.url, signed.headers, b'{"type": "Undo"}')
    assert _precheck_code(tampered) == "digest_mismatch"
    assert _precheck_code(signed.without_fields(("digest",))) == "missing_signed_header"
    value = signed.field_value("signature") or ""
    half = replace_header(signed, "Signature",
                          value.replace('headers="(request-target) host date digest"',
                                        'headers="(request-target) date digest"'))
    assert _precheck_code(half) == "missing_required_component"
    rfc = sign_request_rfc9421(post(), key_id="k", private_key=rsa_key, now=NOW)
    assert _precheck_code(rfc) is None
    assert _precheck_code(rfc, now=NOW + 3 * 3600) == "created_outside_window"


def test_signed_authority_is_the_signed_host(rsa_key: rsa.RSAPrivateKey) -> None:
    signed = sign_request_cavage(post(), key_id="k", private_key=rsa_key, now=NOW)
    assert signed_authority(parse_signature(signed), signed) == "blog.example:8443"
    # A request signed for another host keeps that host: the inbox compares it with its own.
    elsewhere = sign_request_cavage(post("https://follower.example/inbox?x=1"), key_id="k",
                                    private_key=rsa_key, now=NOW)
    replayed = HttpRequestParts("POST", INBOX, elsewhere.headers, elsewhere.body)
    assert signed_authority(parse_signature(replayed), replayed) == "follower.example"
    # Host not signed: no authority to trust.
    value = signed.field_value("signature") or ""
    unsigned_host = replace_header(signed, "Signature",
                                   value.replace(" host date", " date"))
    assert signed_authority(parse_signature(unsigned_host), unsigned_host) is None
    # RFC 9421: the covered @target-uri is the request's own URL.
    rfc = sign_request_rfc9421(post(), key_id="k", private_key=rsa_key, now=NOW)
    assert signed_authority(parse_signature(rfc), rfc) == "blog.example:8443"
