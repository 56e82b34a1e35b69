"""Key pairs for signing: generated once, loaded once, kept as objects."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class SigningKey:
    """A local actor's private key with the keyId remote servers resolve it by."""

    key_id: str
    private_key: rsa.RSAPrivateKey
    public_key_pem: str


def generate_rsa_pem(bits: int = 2048) -> tuple[str, str]:
    """A new RSA key pair as (private PKCS#8 PEM, public SPKI PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def load_signing_key(key_id: str, private_pem: str, public_pem: str) -> SigningKey:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("local signing keys are RSA keys")
    return SigningKey(key_id=key_id, private_key=key, public_key_pem=public_pem)
