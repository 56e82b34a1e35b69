"""fedblog: a blog that lives in the fediverse."""

from __future__ import annotations

__version__ = "0.1.0"
