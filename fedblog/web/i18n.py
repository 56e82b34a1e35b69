"""The languages the pages speak: labels, month names and OpenGraph locales, one JSON file per
language in templates/i18n. Posts may be in any language; the labels fall back to English."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

I18N = Path(__file__).parent / "templates" / "i18n"


@dataclass(frozen=True)
class Language:
    locale: str
    months: tuple[str, ...]
    labels: dict[str, str]


def _load_languages() -> dict[str, Language]:
    found = {}
    for path in sorted(I18N.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[path.stem] = Language(data["locale"], tuple(data["months"]), data["labels"])
    return found


LANGUAGES = _load_languages()


def page_language(*preferred: str | None) -> str:
    """The first of the languages whose labels we have."""
    for language in preferred:
        base = (language or "").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def labels(language: str) -> dict[str, str]:
    return LANGUAGES[page_language(language)].labels


def og_locale(language: str) -> str:
    """The OpenGraph locale of a post's language (sv -> sv_SE; unknown ones as written)."""
    base = language.split("-")[0].lower()
    return LANGUAGES[base].locale if base in LANGUAGES else language.replace("-", "_")
