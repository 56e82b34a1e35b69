"""The author's JSON API under /api/v1, documented at /api/openapi.json."""
