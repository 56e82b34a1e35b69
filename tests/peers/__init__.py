"""An independent fediverse peer (bovine + http_message_signatures) for end-to-end tests."""

from .peer import (
    AS_PUBLIC,
    FetchRecord,
    KeyFetch,
    Peer,
    PeerActor,
    Received,
)

__all__ = ["AS_PUBLIC", "FetchRecord", "KeyFetch", "Peer", "PeerActor", "Received"]
