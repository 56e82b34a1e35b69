"""Markdown rendering and HTML sanitising for posts and remote comments.

Everything here is pure: strings in, strings out.  Parsing is left to
markdown-it-py and sanitising to nh3 (ammonia); this module only decides
*policy* (which tags, attributes and URL schemes survive) and a few small
text transformations (hashtags, plain text, excerpts).
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = [
    "ContentTooLarge",
    "RenderedPost",
    "excerpt",
    "extract_hashtags",
    "hashtag_links",
    "html_to_text",
    "render_post",
    "sanitize_remote_html",
]


class ContentTooLarge(ValueError):
    """Remote HTML exceeded the size we are willing to parse."""


@dataclass(frozen=True)
class RenderedPost:
    """A post rendered for the web page and for federation.

    ``html`` is what goes into the ActivityPub Note ``content``: the title (if
    any) as a bold leading paragraph, because Mastodon strips ``<h1>``.
    ``body_html`` lets the web page render the title as its own ``<h1>``.
    ``text`` is the plain-text rendering of the body (the title lives in its
    own field wherever excerpts/feeds/search use it).
    """

    html: str
    body_html: str
    html_with_title: str
    text: str
    hashtags: tuple[str, ...]


# --------------------------------------------------------------------------
# Sanitiser policies
# --------------------------------------------------------------------------

# Elements whose *content* must disappear with the tag: for these, keeping the
# inner text would leak code/markup as visible text.
_DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "svg",
        "math",
        "noscript",
        "noembed",
        "noframes",
        "template",
        "textarea",
        "select",
        "title",
        "xmp",
        "head",
    }
)

_WEB_SCHEMES = frozenset({"http", "https"})
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})

_POST_TAGS = frozenset(
    {
        "h1", "h2", "h3", "h4", "h5", "h6",
        "p", "br", "hr",
        "a", "img",
        "ul", "ol", "li",
        "blockquote", "pre", "code",
        "em", "strong", "del", "s", "sup", "sub",
        "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    }
)  # fmt: skip

_POST_ATTRIBUTES: dict[str, set[str]] = {
    # An explicit empty "*" entry: otherwise ammonia keeps its default
    # generic attributes (lang, title) on every element.
    "*": set(),
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "ol": {"start"},
    # markdown-it expresses table column alignment as inline style; only
    # text-align survives (see filter_style_properties below).
    "th": {"style"},
    "td": {"style"},
}

_REMOTE_TAGS = frozenset(
    {
        "p", "br", "a", "span",
        "ul", "ol", "li",
        "blockquote", "code", "pre",
        "strong", "b", "em", "i", "del", "s", "sup", "sub",
    }
)  # fmt: skip

# Mastodon's microformats/mention markup plus its URL-shortening spans.
_REMOTE_CLASSES = frozenset({"h-card", "mention", "hashtag", "u-url", "invisible", "ellipsis"})

_LANGUAGE_CLASS_RE = re.compile(r"^language-[A-Za-z0-9_+#.\-]{1,40}$")


def _url_scheme(url: str) -> str:
    scheme, sep, _ = url.strip().partition(":")
    return scheme.lower() if sep else ""


def _post_attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # allowed_classes cannot express a prefix ("language-*"), hence a filter.
    if tag == "code" and attr == "class":
        kept = [c for c in value.split() if _LANGUAGE_CLASS_RE.match(c)]
        return " ".join(kept) or None
    # url_schemes is global; images must not point at mailto: links.
    if tag == "img" and attr == "src":
        return value if _url_scheme(value) in _WEB_SCHEMES else None
    return value


_POST_CLEANER = nh3.Cleaner(
    tags=set(_POST_TAGS),
    clean_content_tags=set(_DROP_WITH_CONTENT),
    attributes=_POST_ATTRIBUTES,
    attribute_filter=_post_attribute_filter,
    link_rel="noopener",
    url_schemes=set(_LINK_SCHEMES),
    # Posts are federated: a relative URL would dangle on every other server.
    url_relative="deny",
    filter_style_properties={"text-align"},
)

_REMOTE_CLEANER = nh3.Cleaner(
    tags=set(_REMOTE_TAGS),
    clean_content_tags=set(_DROP_WITH_CONTENT),
    attributes={"*": set(), "a": {"href"}},
    allowed_classes={"span": set(_REMOTE_CLASSES), "a": set(_REMOTE_CLASSES)},
    link_rel="nofollow noopener noreferrer",
    url_schemes=set(_LINK_SCHEMES),
    # A relative href from another server would resolve against *our* origin.
    url_relative="deny",
)


def sanitize_remote_html(html: str, *, max_length: int = 100_000) -> str:
    """Reduce HTML received from another server to a small, inert subset.

    Raises :class:`ContentTooLarge` when ``html`` is longer than
    ``max_length`` characters, before any parsing happens.
    """
    if len(html) > max_length:
        raise ContentTooLarge(f"remote HTML is {len(html)} characters; limit is {max_length}")
    return _REMOTE_CLEANER.clean(html).strip()


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

# Raw HTML is enabled because the author is trusted to use it; nh3 still has
# the last word on what survives.
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def render_post(markdown: str, *, title: str | None = None) -> RenderedPost:
    """Render the author's Markdown to sanitised HTML, text and hashtags."""
    tokens = _MARKDOWN.parse(markdown)
    body_html = _POST_CLEANER.clean(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))
    body_html = body_html.strip()
    clean_title = title.strip() if title else ""
    if clean_title:
        html_with_title = f"<p><strong>{html_lib.escape(clean_title)}</strong></p>{body_html}"
    else:
        html_with_title = body_html
    hashtags = _dedupe_tags(
        [*_find_tags(clean_title), *_tags_from_tokens(tokens)],
    )
    return RenderedPost(
        html=html_with_title,
        body_html=body_html,
        html_with_title=html_with_title,
        text=html_to_text(body_html),
        hashtags=hashtags,
    )


# --------------------------------------------------------------------------
# Hashtags
# --------------------------------------------------------------------------

# Python's \w is Unicode-aware (å, ä, ö ...) but excludes combining marks,
# which decomposed (NFD) input uses for the same letters.
_TAG_CHAR = r"[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
# Like Mastodon: a '#' glued to a word, a path, a query value or a ')' is not
# a hashtag.  Unlike Mastodon, inner hyphens are kept (#Ö-vik).
_HASHTAG_RE = re.compile(rf"(?<![\w/=)&#])#(?P<tag>{_TAG_CHAR}+(?:-{_TAG_CHAR}+)*)")
# Bare URLs stay plain text (no linkify), so their #fragments need masking.
_URL_RE = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.\-]*://|\bwww\.|\bmailto:)\S+")


def _hashtag_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, tag) for each hashtag in plain text."""
    masked = _URL_RE.sub(lambda m: " " * len(m.group(0)), text)
    for match in _HASHTAG_RE.finditer(masked):
        tag = match.group("tag")
        if any(ch.isalpha() for ch in tag):  # "#1" is a number, not a tag
            yield match.start(), match.end(), tag


def _find_tags(text: str) -> list[str]:
    return [tag for _, _, tag in _hashtag_spans(text)]


def _dedupe_tags(tags: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for tag in tags:
        normal = unicodedata.normalize("NFC", tag)
        seen.setdefault(normal.casefold(), normal)
    return tuple(seen.values())


def extract_hashtags(markdown: str) -> tuple[str, ...]:
    """Hashtags in Markdown prose, ignoring code, links and URLs."""
    return _dedupe_tags(_tags_from_tokens(_MARKDOWN.parse(markdown)))


def _tags_from_tokens(tokens: Sequence[Token]) -> list[str]:
    found: list[str] = []
    for token in tokens:
        if token.type == "inline" and token.children:
            found.extend(_tags_from_inline(token.children))
    return found


_RAW_OPEN_RE = re.compile(r"^<(a|code|pre)(?:[\s/>]|$)", re.IGNORECASE)
_RAW_CLOSE_RE = re.compile(r"^</(a|code|pre)\s*>", re.IGNORECASE)


def _tags_from_inline(children: Sequence[Token]) -> list[str]:
    found: list[str] = []
    skip_depth = 0  # inside a Markdown link or a raw-HTML <a>/<code>/<pre>
    for child in children:
        if child.type == "link_open":
            skip_depth += 1
        elif child.type == "link_close":
            skip_depth = max(0, skip_depth - 1)
        elif child.type == "html_inline":
            if _RAW_OPEN_RE.match(child.content):
                skip_depth += 1
            elif _RAW_CLOSE_RE.match(child.content):
                skip_depth = max(0, skip_depth - 1)
        elif child.type == "text" and skip_depth == 0:
            found.extend(_find_tags(child.content))
    return found


_NO_HASHTAG_ELEMENTS = frozenset({"a", "code", "pre", "script", "style"})


class _HashtagLinker(HTMLParser):
    """Re-emits HTML verbatim except for hashtags in ordinary text.

    Markup is copied from the source untouched; only text runs are rebuilt,
    and they are rebuilt from decoded text that is escaped again, so nothing
    in the input can turn into markup.
    """

    def __init__(self, tag_url: Callable[[str], str]) -> None:
        super().__init__(convert_charrefs=True)
        self._tag_url = tag_url
        self._out: list[str] = []
        self._pending: list[str] = []
        self._skip_depth = 0

    def result(self) -> str:
        self._flush()
        return "".join(self._out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self._out.append(self.get_starttag_text() or "")
        if tag in _NO_HASHTAG_ELEMENTS:
            self._skip_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self._out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        self._out.append(f"</{tag}>")
        if tag in _NO_HASHTAG_ELEMENTS and self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        self._pending.append(data)

    def _flush(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        if self._skip_depth:
            self._out.append(html_lib.escape(text, quote=False))
        else:
            self._out.append(self._link_text(text))

    def _link_text(self, text: str) -> str:
        parts: list[str] = []
        position = 0
        for start, end, tag in _hashtag_spans(text):
            parts.append(html_lib.escape(text[position:start], quote=False))
            parts.append(self._anchor(tag))
            position = end
        parts.append(html_lib.escape(text[position:], quote=False))
        return "".join(parts)

    def _anchor(self, tag: str) -> str:
        href = html_lib.escape(self._tag_url(tag), quote=True)
        label = html_lib.escape(tag, quote=False)
        return f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{label}</span></a>'


def hashtag_links(html: str, tag_url: Callable[[str], str]) -> str:
    """Link ``#tag`` text in *sanitised* HTML the way Mastodon renders it.

    Text inside ``<a>``, ``<code>`` and ``<pre>`` is left alone.  Comments and
    doctypes are dropped; sanitised HTML has none.
    """
    linker = _HashtagLinker(tag_url)
    linker.feed(html)
    linker.close()
    return linker.result()


# --------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------

_PARAGRAPH_ELEMENTS = frozenset(
    {
        "p", "div", "blockquote", "pre", "ul", "ol", "table", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6",
        "section", "article", "header", "footer", "figure",
    }
)  # fmt: skip
_LINE_ELEMENTS = frozenset({"li", "tr", "dt", "dd", "caption"})
_CELL_ELEMENTS = frozenset({"td", "th"})
_INVISIBLE_ELEMENTS = frozenset({"script", "style", "template", "head", "title"})
_HSPACE_RE = re.compile(r"[ \t\r\f\v\n]+")


class _TextExtractor(HTMLParser):
    """Collects text with paragraph/line breaks derived from block elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._pre_depth = 0
        self._hidden_depth = 0

    def text(self) -> str:
        return "".join(self._out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_ELEMENTS:
            self._hidden_depth += 1
            return
        self._break_for(tag)
        if tag == "pre":
            self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break_for(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_ELEMENTS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag in _CELL_ELEMENTS:
            self._append(" ")
        elif tag != "br":  # "</br>" is not a second line break
            self._break_for(tag)

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._pre_depth:
            self._out.append(data)
            return
        collapsed = _HSPACE_RE.sub(" ", data)
        if self._last_char() in ("", "\n", " "):
            collapsed = collapsed.lstrip(" ")
        self._append(collapsed)

    def _append(self, text: str) -> None:
        if text:
            self._out.append(text)

    def _last_char(self) -> str:
        for chunk in reversed(self._out):
            if chunk:
                return chunk[-1]
        return ""

    def _trailing_newlines(self) -> int:
        count = 0
        for chunk in reversed(self._out):
            stripped = chunk.rstrip("\n")
            count += len(chunk) - len(stripped)
            if stripped:
                break
        return count

    def _break_for(self, tag: str) -> None:
        if tag == "br":  # every <br> counts, unlike nested block boundaries
            self._trim_trailing_spaces()
            self._out.append("\n")
        elif tag in _PARAGRAPH_ELEMENTS:
            self._newline(2)
        elif tag in _LINE_ELEMENTS:
            self._newline(1)

    def _newline(self, count: int) -> None:
        # Adjacent block boundaries (</p><p>, </li><li>) share one break.
        self._trim_trailing_spaces()
        missing = count - self._trailing_newlines()
        if missing > 0:
            self._out.append("\n" * missing)

    def _trim_trailing_spaces(self) -> None:
        # Spaces before a line break are layout noise, except inside <pre>.
        if self._pre_depth:
            return
        while self._out and self._out[-1].endswith((" ", "\t")):
            self._out[-1] = self._out[-1].rstrip(" \t")
            if self._out[-1]:
                break
            self._out.pop()


_MANY_NEWLINES_RE = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Plain-text fallback: block elements become line breaks, tags vanish."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = _MANY_NEWLINES_RE.sub("\n\n", extractor.text())
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")).strip()


_TRAILING_JUNK = " \t\n,;:–—-"


def excerpt(text: str, length: int = 280) -> str:
    """At most ``length`` characters of ``text`` on one line, cut between words.

    Whitespace (including paragraph breaks) collapses to single spaces, since
    excerpts end up in one-line contexts (summaries, link previews).
    """
    if length < 1:
        raise ValueError("excerpt length must be positive")
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    budget = length - 1  # room for the ellipsis
    cut = flat[:budget]
    if flat[budget] != " ":
        boundary = cut.rfind(" ")
        # A single giant "word" (a URL, say) gets a hard cut instead of nothing.
        if boundary > 0:
            cut = cut[:boundary]
    return cut.rstrip(_TRAILING_JUNK) + "…"
