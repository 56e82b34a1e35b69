"""Interop with HTTP signature implementations nobody here wrote.

- bovine (draft-cavage, what its fediverse client sends and its inbox checks);
- http_message_signatures (pyauth, RFC 9421), on `requests` PreparedRequest objects.

Both check times against the wall clock, so these tests sign at time.time().
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
import requests
from bovine.clients.signed_http import legacy_digest_method, legacy_digest_method_uppercase
from bovine.clients.signed_http_methods import signed_get, signed_post
from bovine.crypto.helper import content_digest_sha256_rfc_9530
from bovine.crypto.signature_checker import SignatureChecker
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from fedblog.federation.signatures import (
    HttpRequestParts,
    PrivateKey,
    SignatureError,
    VerifyPolicy,
    parse_signature,
    sign_request_cavage,
    sign_request_rfc9421,
    verify_signature,
)

KEY_ID = "https://blog.example/users/alice#main-key"
ACTOR = "https://blog.example/users/alice"
BODY = b'{"type": "Create", "actor": "https://blog.example/users/alice"}'


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def lower_dict(request: HttpRequestParts) -> dict[str, str]:
    """Headers as the dict bovine's checker indexes (lower-case names, one value each)."""
    return {name.lower(): value for name, value in request.headers}


# --- bovine verifies what we sign (draft-cavage) ---------------------------------------------


async def bovine_verifies(request: HttpRequestParts, public_key: object) -> str | None:
    async def retrieve(key_id: str) -> CryptographicIdentifier | None:
        if key_id != KEY_ID:
            return None
        assert isinstance(public_key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey))
        return CryptographicIdentifier(controller=ACTOR, public_key=public_key)

    async def body() -> bytes:
        return request.body

    checker = SignatureChecker(retrieve)
    result: str | None = await checker.validate_signature(
        request.method.lower(), request.url, lower_dict(request), body
    )
    return result


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
async def test_bovine_verifies_our_cavage_signature(
    method: str, kind: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = rsa_key if kind == "rsa" else ed_key
    # bovine rebuilds (request-target) from the path alone, so no query here.
    request = HttpRequestParts(
        method=method,
        url="https://remote.example:8443/users/bob/inbox",
        headers=(("Content-Type", "application/activity+json"),),
        body=BODY if method == "POST" else b"",
    )
    signed = sign_request_cavage(request, key_id=KEY_ID, private_key=private, now=time.time())
    assert await bovine_verifies(signed, private.public_key()) == ACTOR
    # And bovine notices tampering, so the positive result means something.
    tampered = HttpRequestParts(signed.method, signed.url.replace("bob", "eve"), signed.headers,
                                signed.body)
    assert await bovine_verifies(tampered, private.public_key()) is None


# --- we verify what bovine signs (draft-cavage) ----------------------------------------------


class CapturingSession:
    """Stands in for aiohttp.ClientSession: records what bovine would have sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], bytes]] = []

    async def post(self, url: str, *, data: str, headers: dict[str, str]) -> None:
        self.sent.append(("POST", url, headers, data.encode("utf-8")))

    async def get(self, url: str, *, headers: dict[str, str], allow_redirects: bool) -> None:
        self.sent.append(("GET", url, headers, b""))


def as_parts(sent: tuple[str, str, dict[str, str], bytes]) -> HttpRequestParts:
    method, url, headers, body = sent
    return HttpRequestParts(method=method, url=url, headers=tuple(headers.items()), body=body)


@pytest.mark.parametrize(
    "digest_method",
    [legacy_digest_method, legacy_digest_method_uppercase, content_digest_sha256_rfc_9530],
    ids=["digest-lower", "digest-upper", "content-digest"],
)
async def test_we_verify_bovine_signed_post(digest_method: Any, rsa_key: rsa.RSAPrivateKey) -> None:
    session = CapturingSession()
    secret = CryptographicSecret(KEY_ID, rsa_key)
    url = "https://blog.example:8443/users/alice/inbox"
    await signed_post(session, secret, url, BODY.decode(), digest_method)  # type: ignore[arg-type]
    request = as_parts(session.sent[0])
    parsed = parse_signature(request)
    assert parsed.key_id == KEY_ID and parsed.algorithm == "rsa-sha256"
    verify_signature(parsed, request, rsa_key.public_key(), now=time.time())
    tampered = HttpRequestParts(request.method, request.url, request.headers, BODY + b"!")
    with pytest.raises(SignatureError) as caught:
        verify_signature(parsed, tampered, rsa_key.public_key(), now=time.time())
    assert caught.value.code == "digest_mismatch"


async def test_we_verify_bovine_signed_get_with_query(rsa_key: rsa.RSAPrivateKey) -> None:
    session = CapturingSession()
    secret = CryptographicSecret(KEY_ID, rsa_key)
    await signed_get(session, secret, "https://blog.example/outbox?page=2")  # type: ignore[arg-type]
    request = as_parts(session.sent[0])
    verify_signature(parse_signature(request), request, rsa_key.public_key(), now=time.time())


async def test_bovine_ed25519_draft_signatures_are_refused(
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    # bovine signs Ed25519 with algorithm="rsa-sha256" and a multibase (not base64) value:
    # nobody else accepts that, and neither do we.
    session = CapturingSession()
    secret = CryptographicSecret(KEY_ID, ed_key)
    await signed_get(session, secret, "https://blog.example/outbox")  # type: ignore[arg-type]
    request = as_parts(session.sent[0])
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_signature(request), request, ed_key.public_key(), now=time.time())
    assert caught.value.code in {"unsupported_algorithm", "malformed_signature"}


# --- http_message_signatures (pyauth) and RFC 9421 -------------------------------------------

_PYAUTH_ALGORITHMS: dict[str, Any] = {
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "ed25519": algorithms.ED25519,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "hmac-sha256": algorithms.HMAC_SHA256,
}


def make_key(alg: str) -> tuple[PrivateKey, object]:
    if alg in ("rsa-v1_5-sha256", "rsa-pss-sha512"):
        private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return private_rsa, private_rsa.public_key()
    if alg == "ed25519":
        private_ed = ed25519.Ed25519PrivateKey.generate()
        return private_ed, private_ed.public_key()
    if alg == "ecdsa-p256-sha256":
        private_ec = ec.generate_private_key(ec.SECP256R1())
        return private_ec, private_ec.public_key()
    secret = b"a shared secret of thirty-two by"
    return secret, secret


def prepared(request: HttpRequestParts) -> requests.PreparedRequest:
    ready = requests.Request(request.method, request.url, data=request.body or None).prepare()
    for name, value in request.headers:
        ready.headers[name] = value
    return ready


def from_prepared(ready: requests.PreparedRequest) -> HttpRequestParts:
    body = ready.body if isinstance(ready.body, bytes) else str(ready.body or "").encode()
    assert ready.method is not None and ready.url is not None
    headers = tuple((name, str(value)) for name, value in ready.headers.items())
    return HttpRequestParts(method=ready.method, url=ready.url, headers=headers, body=body)


@pytest.mark.parametrize("alg", sorted(_PYAUTH_ALGORITHMS))
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_pyauth_verifies_our_rfc9421_signature(alg: str, method: str) -> None:
    private, public = make_key(alg)
    request = HttpRequestParts(
        method=method,
        url="https://remote.example:8443/users/bob/inbox?page=1",
        headers=(("Content-Type", "application/activity+json"),),
        body=BODY if method == "POST" else b"",
    )
    signed = sign_request_rfc9421(request, key_id=KEY_ID, private_key=private, now=time.time(),
                                  expires_in=300, algorithm=alg)
    verifier = HTTPMessageVerifier(
        signature_algorithm=_PYAUTH_ALGORITHMS[alg],
        key_resolver=MappingKeyResolver(public_keys={KEY_ID: public}, private_keys={}),  # type: ignore[dict-item]
    )
    results = verifier.verify(prepared(signed), body=signed.body if method == "POST" else None)
    assert len(results) == 1
    assert list(results[0].covered_components)[:2] == ['"@method"', '"@target-uri"']
    if method == "POST":
        assert results[0].body == BODY
    # And pyauth notices tampering.
    moved = HttpRequestParts(signed.method, signed.url.replace("bob", "eve"), signed.headers,
                             signed.body)
    with pytest.raises(InvalidSignature):
        verifier.verify(prepared(moved))


@pytest.mark.parametrize("alg", sorted(_PYAUTH_ALGORITHMS))
def test_we_verify_pyauth_signed_request(alg: str) -> None:
    private, public = make_key(alg)
    ready = prepared(HttpRequestParts(
        method="POST",
        url="https://blog.example:8443/users/alice/inbox?x=1&Pet=dog",
        headers=(("Content-Type", "application/activity+json"),
                 ("Date", "Wed, 20 Dec 2023 10:00:00 GMT")),
        body=BODY,
    ))
    signer = HTTPMessageSigner(
        signature_algorithm=_PYAUTH_ALGORITHMS[alg],
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: private}),
    )
    signer.sign(
        ready,
        key_id=KEY_ID,
        label="pyhms",
        created=datetime.datetime.now(datetime.UTC),
        expires=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5),
        nonce="n-0123",
        tag="fedblog-test",
        covered_component_ids=(
            "@method", "@authority", "@target-uri", "@path", "@query", "@request-target",
            "@scheme", '"@query-param";name="Pet"', "content-type", '"content-digest";sf',
            "date",
        ),
        body=BODY,
    )
    request = from_prepared(ready)
    parsed = parse_signature(request)
    assert parsed.scheme == "rfc9421" and parsed.label == "pyhms"
    assert parsed.algorithm == alg  # pyauth sends alg by default
    assert parsed.nonce == "n-0123" and parsed.tag == "fedblog-test"
    key_algorithm = "rsa-pss-sha512" if alg == "rsa-pss-sha512" else None
    verify_signature(parsed, request, public, now=time.time(), key_algorithm=key_algorithm)
    tampered = HttpRequestParts(request.method, request.url, request.headers, BODY + b" ")
    with pytest.raises(SignatureError) as caught:
        verify_signature(parsed, tampered, public, now=time.time(), key_algorithm=key_algorithm)
    assert caught.value.code == "digest_mismatch"


def test_pyauth_signature_over_minimal_components_is_held_to_the_fediverse_profile() -> None:
    private, public = make_key("ed25519")
    ready = prepared(HttpRequestParts(method="POST", url="https://blog.example/inbox",
                                      headers=(), body=BODY))
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: private}),
    )
    # Covers the body but not the method: fine for the RFC, not for an inbox.
    signer.sign(ready, key_id=KEY_ID, covered_component_ids=("@target-uri",), body=BODY)
    request = from_prepared(ready)
    parsed = parse_signature(request)
    with pytest.raises(SignatureError) as caught:
        verify_signature(parsed, request, public, now=time.time())
    assert caught.value.code == "missing_required_component"
    verify_signature(parsed, request, public, now=time.time(),
                     policy=VerifyPolicy(required_covered=False))
