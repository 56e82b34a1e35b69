"""Keys and signature algorithms for HTTP signatures, all done with `cryptography`.

Algorithms are named by their RFC 9421 registry names; the draft-cavage module maps its own
names (rsa-sha256, hs2019, ...) onto these.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from fedblog.federation.signatures_common import Reason, fail

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | bytes
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | bytes

RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
ECDSA_P384_SHA384 = "ecdsa-p384-sha384"
ED25519 = "ed25519"
HMAC_SHA256 = "hmac-sha256"

# The IANA "HTTP Signature Algorithms" registry (RFC 9421 section 6.2.2).
RFC9421_ALGORITHMS: frozenset[str] = frozenset(
    {RSA_PSS_SHA512, RSA_V1_5_SHA256, HMAC_SHA256, ECDSA_P256_SHA256, ECDSA_P384_SHA384, ED25519}
)

_PSS_SHA512 = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_SHA512 = hashes.SHA512()
_ECDSA_P256 = ec.ECDSA(hashes.SHA256())
_ECDSA_P384 = ec.ECDSA(hashes.SHA384())
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    ECDSA_P256_SHA256: ec.SECP256R1,
    ECDSA_P384_SHA384: ec.SECP384R1,
}


# --- loading and checking keys ----------------------------------------------------------------


def load_public_key_pem(pem: str | bytes) -> PublicKey:
    """Load an SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY" PEM; raises SignatureError('bad_key')."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise fail(Reason.BAD_KEY, "the public key is not a PEM public key") from exc
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey) or (
        isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1)
    ):
        return key
    raise fail(Reason.BAD_KEY, "only RSA, Ed25519 and ECDSA P-256/P-384 keys are supported")


def load_private_key_pem(pem: str | bytes) -> PrivateKey:
    """Load an unencrypted PKCS#8 / PKCS#1 / SEC1 private key; raises SignatureError('bad_key')."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data.strip(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise fail(Reason.BAD_KEY, "the private key is not an unencrypted PEM private key") from exc
    if not isinstance(
        key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)
    ):
        raise fail(Reason.BAD_KEY, "only RSA, Ed25519 and ECDSA P-256/P-384 keys are supported")
    return key


def check_public_key(key: object, min_rsa_bits: int) -> PublicKey:
    """Narrow an untyped key to a supported verification key; raises bad_key / weak_key."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < min_rsa_bits:
            raise fail(Reason.WEAK_KEY, f"RSA keys under {min_rsa_bits} bits are refused")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1)):
            raise fail(Reason.BAD_KEY, "only P-256 and P-384 ECDSA keys are supported")
        return key
    if isinstance(key, (bytes, bytearray)):
        if not key:
            raise fail(Reason.BAD_KEY, "an empty HMAC secret is not a key")
        return bytes(key)
    raise fail(Reason.BAD_KEY, f"unsupported key object {type(key).__name__}")


def algorithm_for_key(key: PublicKey | PrivateKey) -> str:
    """The algorithm a key implies when the message names none.

    RSA means rsa-v1_5-sha256: that is what Mastodon signs and accepts. An RSA key meant for
    rsa-pss-sha512 cannot be told apart, so its algorithm must come from the key's metadata.
    """
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return RSA_V1_5_SHA256
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return ED25519
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if isinstance(key.curve, ec.SECP384R1):
            return ECDSA_P384_SHA384
        if isinstance(key.curve, ec.SECP256R1):
            return ECDSA_P256_SHA256
        raise fail(Reason.BAD_KEY, "only P-256 and P-384 ECDSA keys are supported")
    if isinstance(key, (bytes, bytearray)):
        return HMAC_SHA256
    raise fail(Reason.BAD_KEY, f"unsupported key object {type(key).__name__}")


def key_fits(algorithm: str, key: PublicKey | PrivateKey) -> bool:
    """Whether `key` is of the type `algorithm` needs (RFC 9421 section 3.3.7)."""
    if algorithm in (RSA_V1_5_SHA256, RSA_PSS_SHA512):
        return isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey))
    if algorithm == ED25519:
        return isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey))
    if algorithm in _CURVES:
        return isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) and (
            isinstance(key.curve, _CURVES[algorithm])
        )
    if algorithm == HMAC_SHA256:
        return isinstance(key, (bytes, bytearray))
    return False


# --- verifying and signing -------------------------------------------------------------------


def verify_bytes(
    algorithm: str, key: PublicKey, data: bytes, signature: bytes, *, allow_der: bool = False
) -> bool:
    """True when `signature` is `algorithm`'s signature of `data` under `key`.

    `allow_der` also accepts DER-encoded ECDSA signatures (draft-cavage peers send DER;
    RFC 9421 mandates raw r||s).
    """
    if not key_fits(algorithm, key):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm == RSA_PSS_SHA512:
                key.verify(signature, data, _PSS_SHA512, _SHA512)
            else:
                key.verify(signature, data, _PKCS1V15, _SHA256)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            der = _raw_to_der(signature, key.curve.key_size, allow_der)
            if der is None:
                return False
            key.verify(der, data, _ECDSA_P256 if algorithm == ECDSA_P256_SHA256 else _ECDSA_P384)
        elif isinstance(key, bytes):
            return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), signature)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _raw_to_der(signature: bytes, curve_bits: int, allow_der: bool) -> bytes | None:
    size = (curve_bits + 7) // 8
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        return encode_dss_signature(r, s)
    return signature if allow_der else None


def sign_bytes(algorithm: str, key: PrivateKey, data: bytes) -> bytes:
    """`algorithm`'s signature of `data`; ECDSA comes out as raw r||s (RFC 9421)."""
    if not key_fits(algorithm, key):
        raise fail(Reason.UNSUPPORTED_ALGORITHM, f"{algorithm} cannot be used with this key")
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm == RSA_PSS_SHA512:
            return key.sign(data, _PSS_SHA512, _SHA512)
        return key.sign(data, _PKCS1V15, _SHA256)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, _ECDSA_P256 if algorithm == ECDSA_P256_SHA256 else _ECDSA_P384)
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return hmac.new(bytes(key), data, hashlib.sha256).digest()
