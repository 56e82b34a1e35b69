"""Remote actors for the inbox benchmarks, and their signed Create(Note) replies, pre-built.

Signing is done here with `cryptography` directly (draft-cavage rsa-sha256 over
"(request-target) host date digest", as Mastodon signs), independently of fedblog's own code,
and before the timed window, in a process pool: during the window the generator only sends
bytes. A signature stays valid for 12 hours.

RSA key generation is slow (~50 ms a key), so the actors share a few key pairs: each actor
still has its own keyId and actor document, fetched and cached by the blog one by one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import random
from concurrent.futures import ProcessPoolExecutor
from email.utils import formatdate
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench.loadgen import build_request

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
KEY_PAIRS = 16


def make_keys(n: int = KEY_PAIRS) -> list[str]:
    """Private keys as PKCS#8 PEM."""
    keys = []
    for _ in range(n):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys.append(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode())
    return keys


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def make_actors(n: int, ports: list[int], keys: list[str]) -> list[dict[str, Any]]:
    """`n` actors spread over the `ports` (hosts); each with its own id, keyId and document."""
    publics = [_public_pem(k) for k in keys]
    actors = []
    for i in range(n):
        port = ports[i % len(ports)]
        base = f"http://127.0.0.1:{port}"
        actor_id = f"{base}/users/a{i}"
        doc = {
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": actor_id, "type": "Person", "preferredUsername": f"a{i}",
            "name": f"Bench Actor {i}", "inbox": f"{actor_id}/inbox",
            "outbox": f"{actor_id}/outbox", "followers": f"{actor_id}/followers",
            "following": f"{actor_id}/following", "url": f"{base}/@a{i}",
            "endpoints": {"sharedInbox": f"{base}/inbox"},
            "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id,
                          "publicKeyPem": publics[i % len(keys)]},
        }
        actors.append({"id": actor_id, "port": port, "key": i % len(keys), "doc": doc,
                       "path": f"/users/a{i}"})
    return actors


def actor_docs_file(actors: list[dict[str, Any]], path: str) -> str:
    with open(path, "w") as fh:
        json.dump([{"port": a["port"], "path": a["path"], "doc": a["doc"]} for a in actors], fh)
    return path


def create_note(actor_id: str, uid: str, in_reply_to: str, blog_actor: str, n: int) -> bytes:
    note_id = f"{actor_id}/statuses/{uid}"
    published = "2025-11-23T12:00:00Z"
    content = (f'<p><span class="h-card"><a href="{blog_actor}" class="u-url mention">@<span>blog'
               f'</span></a></span> Reply {n}: a heated thread needs heated words, and this one has '
               f'<a href="https://example.org/some/link">a link</a> and <em>some</em> markup.</p>')
    note = {
        "id": note_id, "type": "Note", "summary": None, "inReplyTo": in_reply_to,
        "published": published, "url": note_id, "attributedTo": actor_id,
        "to": [PUBLIC], "cc": [f"{actor_id}/followers", blog_actor], "sensitive": False,
        "atomUri": note_id, "inReplyToAtomUri": in_reply_to, "content": content,
        "contentMap": {"en": content}, "attachment": [],
        "tag": [{"type": "Mention", "href": blog_actor, "name": "@blog"}],
        "replies": {"id": f"{note_id}/replies", "type": "Collection",
                    "first": {"type": "CollectionPage", "next": f"{note_id}/replies?page=true",
                              "partOf": f"{note_id}/replies", "items": []}},
    }
    activity = {"@context": AS, "id": f"{note_id}/activity", "type": "Create", "actor": actor_id,
                "published": published, "to": note["to"], "cc": note["cc"], "object": note}
    return json.dumps(activity).encode()


def signed_post(private_key: Any, key_id: str, host: str, path: str, body: bytes, date: str) -> bytes:
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    text = f"(request-target): post {path}\nhost: {host}\ndate: {date}\ndigest: {digest}"
    signature = base64.b64encode(private_key.sign(text.encode(), padding.PKCS1v15(),
                                                  hashes.SHA256())).decode()
    header = (f'keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date digest",'
              f'signature="{signature}"')
    return build_request("POST", host, path, [
        ("Date", date), ("Digest", digest), ("Signature", header),
        ("Content-Type", 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'),
        ("User-Agent", "fedblog-bench"),
    ], body)


def _chunk(args: tuple[Any, ...]) -> str:
    (keys, actors, host, path, targets, blog_actor, start, count, dup_share, nonce, seed,
     out) = args
    loaded = [serialization.load_pem_private_key(k.encode(), password=None) for k in keys]
    rng = random.Random(seed)
    date = formatdate(usegmt=True)
    requests: list[bytes] = []
    for i in range(start, start + count):
        if requests and rng.random() < dup_share:
            requests.append(requests[rng.randrange(max(0, len(requests) - 500), len(requests))])
            continue
        actor = actors[i % len(actors)]
        body = create_note(actor[0], f"{nonce}-{i}", targets[i % len(targets)], blog_actor, i)
        requests.append(signed_post(loaded[actor[1]], f"{actor[0]}#main-key", host, path, body, date))
    with open(out, "wb") as fh:
        pickle.dump(requests, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def presign(*, keys: list[str], actors: list[dict[str, Any]], host: str, path: str,
            targets: list[str], blog_actor: str, count: int, dup_share: float, workdir: str,
            name: str, processes: int = 2) -> list[str]:
    """Write `count` signed requests (a `dup_share` of them resends) to pickle files, one per
    process; returns the file names."""
    slim = [(a["id"], a["key"]) for a in actors]
    nonce = os.urandom(4).hex()
    per = -(-count // processes)
    jobs = [(keys, slim, host, path, targets, blog_actor, p * per, min(per, count - p * per),
             dup_share, nonce, p, f"{workdir}/{name}-{p}.pkl") for p in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(_chunk, jobs))
