"""Moments as the pages, feeds and HTTP headers show them: one function per format. (The
ActivityPub documents and the JSON API use outbox/as2.py's `iso`, with milliseconds.)"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from fedblog.web.i18n import LANGUAGES, labels, page_language

UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def iso(moment: datetime) -> str:
    """2026-03-05T14:07:00Z: <time datetime>, OpenGraph, Atom."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(moment: datetime) -> str:
    """Thu, 05 Mar 2026 14:07:00 GMT: Last-Modified, and RSS's RFC 822 dates."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def long_date(moment: datetime, language: str = "en") -> str:
    """5 March 2026, in the given language."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {LANGUAGES[page_language(language)].months[utc.month - 1]} {utc.year}"


def exact_time(moment: datetime) -> str:
    """2026-03-05 14:07 UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def comment_time(moment: datetime, language: str = "en") -> str:
    """An absolute date and time (UTC): a page kept in memory must not say "2 days ago"."""
    utc = moment.astimezone(UTC)
    return f"{long_date(utc, language)}, {utc:%H:%M}"


def ago(moment: datetime, language: str = "en", now: datetime | None = None) -> str:
    """"3 days ago" up to a month, then the date: in the given language."""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    words = labels(language)
    if seconds < 60:
        return words["just_now"]
    if seconds >= 30 * 86400:
        return long_date(moment, language)
    for unit, size in UNITS:
        count = int(seconds // size)
        if count >= 1:
            return words[f"{unit}_ago" if count == 1 else f"{unit}s_ago"].format(n=count)
    return words["just_now"]
