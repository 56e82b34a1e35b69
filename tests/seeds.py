"""Parser for the seed blog posts in ``tests/fixtures/seeds/``.

The seed files are two Swedish blog posts copied as plain text from WordPress
pages.  Their layout (every line of both files follows it)::

    <title>
    <blank>
    <post text: paragraphs separated by blank lines>
    <blank>
    N kommentarer                      <- start of the comment section
    <blank>
     1. Name                           <- top-level comment: " N. " (0-1 spaces)
    <blank>
      body line                        <- body: indented one column deeper
      body line                           than its header, blank lines
    <blank>                               between paragraphs
      • Name (inläggsförfattare)       <- an answer: "• " deeper than the
    <blank>                               header of what it answers
       body line
    ...
    Lämna ett svar                     <- end of the comment section
    <page furniture>

Numbering scheme: top-level comments keep the label the page shows ("1",
"2", ...).  The page shows no label for answers; they get a path made of the
parent's number and their 1-based position among that parent's answers:
"8.1" is the first answer to comment 8, "6.2" the second answer to comment
6, "6.2.1" the first answer to "6.2".

Nesting is decided by the indentation of the headers, not by a fixed column
per depth: the pages are not consistent about it (in blog-post-2 the answer
to "4.1" has its "•" at column 3 while the answer to "6.2" has it at column
4).  A "•" header answers the nearest preceding header that is indented
less than itself.

Anything in the comment section that fits none of these shapes raises
``ValueError`` rather than being silently dropped.

Pure Python (standard library only), so it can be used anywhere in the
test-suite without importing fedblog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AUTHOR_MARK",
    "COMMENTS_END_MARKER",
    "SEEDS_DIR",
    "SEED_NAMES",
    "SeedComment",
    "SeedPost",
    "commenters",
    "load_seed",
    "parse_seed",
]

SEEDS_DIR = Path(__file__).resolve().parent / "fixtures" / "seeds"
SEED_NAMES = ("blog-post-1", "blog-post-2")

AUTHOR_MARK = "(inläggsförfattare)"
COMMENTS_END_MARKER = "Lämna ett svar"

_COUNT_RE = re.compile(r"(?P<count>\d+) kommentar(?:er)?")
_TOP_HEADER_RE = re.compile(r" ?(?P<number>\d+)\. (?P<name>\S.*)")
_ANSWER_HEADER_RE = re.compile(r"(?P<indent> *)• (?P<name>\S.*)")
# A decorative separator in blog-post-2: "_\xa0 \xa0 _\xa0 \xa0 _".
_DIVIDER_RE = re.compile(r"[_\s]*_[_\s]*_[_\s]*_[_\s]*")
_HEADING_MAX_WORDS = 5
_HEADING_FORBIDDEN_END = ".,:;!?…”\"')"


@dataclass(frozen=True)
class SeedComment:
    """One comment or answer as the page shows it.

    ``number``: "1", "2", ... for top-level comments; "P.k" for the k-th
    answer to comment P (see the module docstring).
    ``author``: the display name exactly as on the page, without the
    "(inläggsförfattare)" mark; ``is_post_author`` records the mark.
    ``body``: paragraphs joined with "\\n\\n", lines within a paragraph with
    "\\n", the body's indentation removed, every other character as in the
    file.
    ``parent``: the number of the comment answered, None at top level.
    ``depth``: 0 for top level, 1 for an answer, 2 for an answer to an answer.

    The pages carry no dates, likes or other per-comment metadata, so there
    are no further fields.  (The blog author's answers in blog-post-2 begin
    with a line such as "Svar på kommentar från Arbetare den 10/4-22"; that
    line is part of the body text.)
    """

    number: str
    author: str
    is_post_author: bool
    body: str
    parent: str | None
    depth: int


@dataclass(frozen=True)
class SeedPost:
    """A seed post: title, Markdown body and its comment section.

    ``declared_count`` is the N of the "N kommentarer" line, as printed.  It is
    NOT the number of comments on the copied page (see the tests).
    ``comments`` is in page order, parents before their answers.
    """

    title: str
    body_markdown: str
    declared_count: int
    comments: tuple[SeedComment, ...]

    @property
    def post_author(self) -> str | None:
        """The name carried by the "(inläggsförfattare)" answers, if any."""
        names = {c.author for c in self.comments if c.is_post_author}
        if len(names) > 1:
            raise ValueError(f"several post authors: {sorted(names)}")
        return next(iter(names), None)

    def comment(self, number: str) -> SeedComment:
        """The comment with this number (KeyError if there is none)."""
        for c in self.comments:
            if c.number == number:
                return c
        raise KeyError(number)


def load_seed(name: str) -> SeedPost:
    """Parse ``tests/fixtures/seeds/<name>.txt`` ("blog-post-1" or "blog-post-2")."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"bad seed name: {name!r}")
    path = SEEDS_DIR / f"{name}.txt"
    return parse_seed(path.read_bytes().decode("utf-8"))


def commenters(post: SeedPost) -> list[str]:
    """Distinct names of commenters other than the blog author, in order of first appearance."""
    seen: dict[str, None] = {}
    for c in post.comments:
        if not c.is_post_author:
            seen.setdefault(c.author, None)
    return list(seen)


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def _is_blank(line: str) -> bool:
    # str.strip() also removes NO-BREAK SPACE: the "\xa0" spacer lines of
    # blog-post-2 count as blank.
    return not line.strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def parse_seed(text: str) -> SeedPost:
    """Parse the text of one seed file (see the module docstring for the layout)."""
    lines = text.split("\n")
    if not lines or _is_blank(lines[0]):
        raise ValueError("the first line must be the title")
    title = lines[0]

    count_at = next((i for i, line in enumerate(lines) if _COUNT_RE.fullmatch(line)), None)
    if count_at is None:
        raise ValueError('no "N kommentarer" line')
    count_match = _COUNT_RE.fullmatch(lines[count_at])
    assert count_match is not None
    declared = int(count_match["count"])

    end_at = next(
        (i for i in range(count_at + 1, len(lines)) if lines[i] == COMMENTS_END_MARKER),
        None,
    )
    if end_at is None:
        raise ValueError(f"no {COMMENTS_END_MARKER!r} line after the comment count")

    return SeedPost(
        title=title,
        body_markdown=_post_markdown(lines[1:count_at]),
        declared_count=declared,
        comments=_parse_comments(lines[count_at + 1 : end_at], first_line_no=count_at + 2),
    )


# -- comments ---------------------------------------------------------------


@dataclass
class _Open:
    """A comment being read."""

    number: str
    author: str
    is_post_author: bool
    parent: str | None
    depth: int
    header_indent: int
    body_indent: int | None = None
    answers: int = 0


def _split_name(raw: str) -> tuple[str, bool]:
    if raw.endswith(" " + AUTHOR_MARK):
        return raw[: -len(AUTHOR_MARK) - 1], True
    if AUTHOR_MARK in raw:
        raise ValueError(f"author mark in an unexpected place: {raw!r}")
    return raw, False


def _parse_comments(lines: list[str], *, first_line_no: int) -> tuple[SeedComment, ...]:
    done: list[SeedComment] = []
    stack: list[_Open] = []  # the current comment and its ancestors
    body: list[list[str]] = []  # paragraphs of the current comment
    top_level = 0

    def close_current() -> None:
        if not stack:
            return
        cur = stack[-1]
        paragraphs = [p for p in body if p]
        if not paragraphs:
            raise ValueError(f"comment {cur.number} ({cur.author!r}) has no body")
        done.append(
            SeedComment(
                number=cur.number,
                author=cur.author,
                is_post_author=cur.is_post_author,
                body="\n\n".join("\n".join(p) for p in paragraphs),
                parent=cur.parent,
                depth=cur.depth,
            )
        )
        body.clear()

    for offset, line in enumerate(lines):
        line_no = first_line_no + offset
        if _is_blank(line):
            if body and body[-1]:
                body.append([])
            continue

        top = _TOP_HEADER_RE.fullmatch(line)
        answer = _ANSWER_HEADER_RE.fullmatch(line)
        if top is not None and (not stack or _indent(line) < (stack[-1].body_indent or 0)):
            close_current()
            top_level += 1
            if int(top["number"]) != top_level:
                raise ValueError(
                    f"line {line_no}: comment {top['number']} where {top_level} was expected"
                )
            author, is_post_author = _split_name(top["name"])
            stack[:] = [
                _Open(
                    number=str(top_level),
                    author=author,
                    is_post_author=is_post_author,
                    parent=None,
                    depth=0,
                    header_indent=_indent(line),
                )
            ]
        elif answer is not None:
            if not stack:
                raise ValueError(f"line {line_no}: an answer before any comment")
            close_current()
            indent = len(answer["indent"])
            while stack and stack[-1].header_indent >= indent:
                stack.pop()
            if not stack:
                raise ValueError(f"line {line_no}: answer indented like a top-level comment")
            parent = stack[-1]
            parent.answers += 1
            author, is_post_author = _split_name(answer["name"])
            stack.append(
                _Open(
                    number=f"{parent.number}.{parent.answers}",
                    author=author,
                    is_post_author=is_post_author,
                    parent=parent.number,
                    depth=parent.depth + 1,
                    header_indent=indent,
                )
            )
        else:
            if not stack:
                raise ValueError(f"line {line_no}: text before the first comment: {line!r}")
            cur = stack[-1]
            indent = _indent(line)
            if cur.body_indent is None:
                if indent <= cur.header_indent:
                    raise ValueError(
                        f"line {line_no}: body not indented under its header: {line!r}"
                    )
                cur.body_indent = indent
            elif indent < cur.body_indent:
                raise ValueError(f"line {line_no}: line outside any comment body: {line!r}")
            if not body:
                body.append([])
            body[-1].append(line[cur.body_indent :])

    close_current()
    return tuple(done)


# -- post body --------------------------------------------------------------


def _is_heading(line: str) -> bool:
    """A short section label such as "Ingress", "Del ett", "Avslutning"."""
    stripped = line.strip()
    return (
        0 < len(stripped.split()) <= _HEADING_MAX_WORDS
        and stripped[0].isupper()
        and stripped[-1] not in _HEADING_FORBIDDEN_END
    )


def _post_markdown(lines: list[str]) -> str:
    """The post text as Markdown.

    * Paragraphs are the blank-line separated blocks of the file; the lines
      of a block stay as they are, joined with "\\n" (Markdown soft breaks).
    * Lines holding only (no-break) spaces are spacers and are dropped.
    * A block of two or more lines whose first line is a short label with
      no closing punctuation ("Ingress", "Del ett", ...) starts with a
      section heading: that line becomes "## label".
    * A line of underscores and spaces ("_ _ _") is a separator: "---".
    """
    blocks: list[list[str]] = [[]]
    for line in lines:
        if _is_blank(line):
            if blocks[-1]:
                blocks.append([])
        else:
            blocks[-1].append(line)
    out: list[str] = []
    for block in blocks:
        if not block:
            continue
        if len(block) > 1 and _is_heading(block[0]):
            out.append("## " + block[0].strip())
            block = block[1:]
        text: list[str] = []
        for line in block:
            if _DIVIDER_RE.fullmatch(line):
                if text:
                    out.append("\n".join(text))
                    text = []
                out.append("---")
            else:
                text.append(line)
        if text:
            out.append("\n".join(text))
    return "\n\n".join(out)
