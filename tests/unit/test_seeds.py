"""Tests for tests/seeds.py, the parser of the two seed blog posts.

The expectations below were checked by hand against the seed files
(tests/fixtures/seeds/blog-post-1.txt and blog-post-2.txt, byte-for-byte copies
of the originals: see test_fixture_files_are_the_pinned_copies).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter

import pytest

from fedblog.blog.html import render_post
from tests.seeds import (
    AUTHOR_MARK,
    COMMENTS_END_MARKER,
    SEED_NAMES,
    SEEDS_DIR,
    SeedPost,
    commenters,
    load_seed,
    parse_seed,
)

FIXTURE_SHA256 = {
    "blog-post-1": "862d9acaf5f3709a26439681674b430bf295bb909be322f7cd3d063550ee498e",
    "blog-post-2": "f2f9ff01492f83191680c7daf2e3c9de6673a30021dfd29f3996bbca44c8df2f",
}

# Every comment number in page order.
NUMBERS = {
    "blog-post-1": ["1", "2", "3", "4", "5", "6", "7", "8", "8.1", "9", "9.1", "10", "11", "12"],
    "blog-post-2": [
        "1", "1.1", "2", "3", "3.1", "4", "4.1", "4.1.1", "5", "5.1",
        "6", "6.1", "6.2", "6.2.1", "7", "7.1", "8", "9", "10", "10.1", "11", "12", "12.1",
    ],
}  # fmt: skip

# number -> parent, for every answer (nested comment) on the page, and nothing else.
PARENTS = {
    "blog-post-1": {"8.1": "8", "9.1": "9"},
    "blog-post-2": {
        "1.1": "1",
        "3.1": "3",
        "4.1": "4",
        "4.1.1": "4.1",  # David G answers the author's answer ("•" at column 3)
        "5.1": "5",
        "6.1": "6",
        "6.2": "6",  # the author's second answer under Umeåbo's comment 6
        "6.2.1": "6.2",  # the author answering his own answer ("•" at column 4)
        "7.1": "7",
        "10.1": "10",
        "12.1": "12",
    },
}

# The comments marked "(inläggsförfattare)", i.e. written by the blog's author.
AUTHOR_ANSWERS = {
    "blog-post-1": {"9.1"},
    "blog-post-2": {"1.1", "3.1", "4.1", "5.1", "6.1", "6.2", "6.2.1", "7.1"},
}
POST_AUTHOR = {"blog-post-1": "Karl-Gustav Sjöström", "blog-post-2": "Jan Hägglund"}

COMMENTERS = {
    "blog-post-1": [
        "Bamsepojken",
        "Maine",
        "Britta",
        "Dag Isgör",
        "Karl Bertsson",
        "socialsekreterare",
        "Stolt över visselblåsarna",
        "Kommunanställd",  # also the author of the answer 8.1
        "socialarbetare med hjärtat på rätt ställe",
        "Socialarbetare",
        "Nadja",
        "Magnus F",
    ],
    "blog-post-2": [
        "Bamsepojken",  # also answers 12
        "Bengt Dennis",
        "Arbetare",
        "David G",  # also answers 4.1
        "Observatör",
        "Umeåbo",  # also writes comment 10
        "Messerschmitt",
        "Jerker Nilsson",
        "Jan Sjöström",  # a commenter, not the blog's author (Jan Hägglund)
        "Mimmi",
        "D.A",
        "Caanita",
    ],
}

TITLES = {
    "blog-post-1": "Visselblåsares öde i Umeå kommun",
    "blog-post-2": (
        "Socialchefer skriver att Lundgren (S) skapar rättsosäkerhet – överlämnar samtidigt sitt "
        "ansvar för arbetsmiljön till just Lundgren! Vem ska leda soc?"
    ),
}

_COUNT_LINE_RE = re.compile(r"\d+ kommentarer")
_HEADER_RE = re.compile(r"(?:\d+\.|•) (?P<name>.+)")
_FURNITURE_AFTER_COMMENTS = [
    COMMENTS_END_MARKER,
    "E-postadressen publiceras inte med automatik.",
    "Ägaren av bloggen kan dock se ditt IP-nummer samt den epost-adress du anger.",
]


def _raw_lines(name: str) -> list[str]:
    return (SEEDS_DIR / f"{name}.txt").read_bytes().decode("utf-8").split("\n")


def _comment_section(name: str) -> list[str]:
    """The raw lines strictly between "N kommentarer" and "Lämna ett svar"."""
    lines = _raw_lines(name)
    start = next(i for i, line in enumerate(lines) if _COUNT_LINE_RE.fullmatch(line))
    end = lines.index(COMMENTS_END_MARKER)
    assert start < end
    return lines[start + 1 : end]


@pytest.fixture(scope="module")
def posts() -> dict[str, SeedPost]:
    return {name: load_seed(name) for name in SEED_NAMES}


@pytest.fixture(scope="module")
def post1(posts: dict[str, SeedPost]) -> SeedPost:
    return posts["blog-post-1"]


@pytest.fixture(scope="module")
def post2(posts: dict[str, SeedPost]) -> SeedPost:
    return posts["blog-post-2"]


# --------------------------------------------------------------------------
# The fixture files themselves
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_NAMES)
def test_fixture_files_are_the_pinned_copies(name: str) -> None:
    data = (SEEDS_DIR / f"{name}.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == FIXTURE_SHA256[name]
    assert b"\r" not in data and b"\t" not in data


@pytest.mark.parametrize("name", SEED_NAMES)
def test_page_layout_markers(name: str) -> None:
    lines = _raw_lines(name)
    assert sum(1 for line in lines if _COUNT_LINE_RE.fullmatch(line)) == 1
    assert lines.count(COMMENTS_END_MARKER) == 1
    # After the comments there is only the reply form's furniture.
    tail = [line for line in lines[lines.index(COMMENTS_END_MARKER) :] if line.strip()]
    assert tail == _FURNITURE_AFTER_COMMENTS


# --------------------------------------------------------------------------
# Counts and shape
# --------------------------------------------------------------------------


def test_counts_post1(post1: SeedPost) -> None:
    # "16 kommentarer" counts neither what the page shows at top level (12) nor
    # everything it shows (12 top-level + 2 answers = 14): two comments included
    # in the count are not on the copied page (held back or removed).
    assert post1.declared_count == 16
    assert len(post1.comments) == 14
    assert sum(1 for c in post1.comments if c.depth == 0) == 12


def test_counts_post2(post2: SeedPost) -> None:
    # "26 kommentarer", but the page shows 12 top-level comments + 11 answers = 23.
    # Three counted comments are not on the page; at least some are held back
    # by moderation: answer 6.2 says "Jag har i detta läge inte publicerat någon
    # kommentar" in reply to an Observatör comment that is not on the page, and
    # 6.2.1 answers another one ("Svar på kommentar från Observatör den 11/4-22").
    assert post2.declared_count == 26
    assert len(post2.comments) == 23
    assert sum(1 for c in post2.comments if c.depth == 0) == 12


@pytest.mark.parametrize("name", SEED_NAMES)
def test_declared_count_exceeds_comments_on_page(posts: dict[str, SeedPost], name: str) -> None:
    post = posts[name]
    assert post.declared_count > len(post.comments)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_numbers_in_page_order(posts: dict[str, SeedPost], name: str) -> None:
    assert [c.number for c in posts[name].comments] == NUMBERS[name]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_exact_nesting(posts: dict[str, SeedPost], name: str) -> None:
    comments = posts[name].comments
    nested = {c.number: c.parent for c in comments if c.parent is not None}
    assert nested == PARENTS[name]
    by_number = {c.number: c for c in comments}
    for c in comments:
        if c.parent is None:
            assert c.depth == 0
            assert "." not in c.number
        else:
            assert c.depth == by_number[c.parent].depth + 1
            assert c.number.startswith(c.parent + ".")
            assert c.depth == c.number.count(".")


def test_depths(post1: SeedPost, post2: SeedPost) -> None:
    assert max(c.depth for c in post1.comments) == 1
    assert max(c.depth for c in post2.comments) == 2
    assert [c.number for c in post2.comments if c.depth == 2] == ["4.1.1", "6.2.1"]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_parents_come_before_their_answers(posts: dict[str, SeedPost], name: str) -> None:
    seen: set[str] = set()
    for c in posts[name].comments:
        assert c.parent is None or c.parent in seen
        seen.add(c.number)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_author_answers_are_exactly_the_marked_ones(posts: dict[str, SeedPost], name: str) -> None:
    post = posts[name]
    assert {c.number for c in post.comments if c.is_post_author} == AUTHOR_ANSWERS[name]
    assert post.post_author == POST_AUTHOR[name]
    # As many as the raw page marks, and none of them is top-level.
    marked = [line for line in _comment_section(name) if line.endswith(" " + AUTHOR_MARK)]
    assert len(marked) == len(AUTHOR_ANSWERS[name])
    assert all(line.lstrip(" ").startswith("• ") for line in marked)
    for c in post.comments:
        assert AUTHOR_MARK not in c.author
        assert c.author == c.author.strip()


@pytest.mark.parametrize("name", SEED_NAMES)
def test_commenters(posts: dict[str, SeedPost], name: str) -> None:
    assert commenters(posts[name]) == COMMENTERS[name]
    assert POST_AUTHOR[name] not in commenters(posts[name])


# --------------------------------------------------------------------------
# Nothing lost, nothing invented
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_comment_line_is_accounted_for(posts: dict[str, SeedPost], name: str) -> None:
    """Every non-empty line of the comment section is a header or a body line, exactly once.

    Computed from the raw text, independently of the parser: header lines
    (" 1. Name", "• Name (inläggsförfattare)") must match the authors, every
    other line must appear, once per occurrence, as a line of some body.
    """
    headers: list[str] = []
    body_lines: list[str] = []
    for line in _comment_section(name):
        if not line.strip():
            continue
        text = line.lstrip(" ")
        match = _HEADER_RE.fullmatch(text)
        if match:
            headers.append(match["name"])
        else:
            body_lines.append(text)

    comments = posts[name].comments
    assert len(headers) == len(comments)
    assert headers == [c.author + (" " + AUTHOR_MARK if c.is_post_author else "") for c in comments]
    parsed_lines = [line for c in comments for line in c.body.split("\n") if line]
    assert Counter(parsed_lines) == Counter(body_lines)
    # And in the same order.
    assert parsed_lines == body_lines


@pytest.mark.parametrize("name", SEED_NAMES)
def test_body_normalisation(posts: dict[str, SeedPost], name: str) -> None:
    for c in posts[name].comments:
        assert c.body
        assert c.body == c.body.strip()
        assert "\n\n\n" not in c.body
        for line in c.body.split("\n"):
            assert line == line.strip(" ")


@pytest.mark.parametrize("name", SEED_NAMES)
def test_special_characters_survive(posts: dict[str, SeedPost], name: str) -> None:
    section = "\n".join(_comment_section(name))
    parsed = "\n".join(
        c.author + (" " + AUTHOR_MARK if c.is_post_author else "") + "\n" + c.body
        for c in posts[name].comments
    )
    for ch in "åäöÅÄÖ”’–…\xa0":
        assert parsed.count(ch) == section.count(ch), repr(ch)


# --------------------------------------------------------------------------
# Verbatim bodies
# --------------------------------------------------------------------------


def test_first_and_last_comments_are_whole(post1: SeedPost, post2: SeedPost) -> None:
    first1, last1 = post1.comments[0], post1.comments[-1]
    assert (first1.number, first1.author) == ("1", "Bamsepojken")
    assert first1.body.startswith("ÄNTLIGEN-ÄNTLIGEN har VI som drabbats")
    assert first1.body.endswith("med samma gärningsmän vid rodret!! STORT TACK FÖR DIN INSATS")
    assert (last1.number, last1.author) == ("12", "Magnus F")
    assert last1.body.endswith(
        "\nKan någon begära ut den tidigare IVO kritiken mot Sofia Rönnholm? Den är offentlig."
    )

    first2, last2 = post2.comments[0], post2.comments[-1]
    assert (first2.number, first2.author) == ("1", "Bamsepojken")
    assert first2.body.startswith("Hej igen Jan!\nMycket BRA sammanfattat!")
    assert first2.body.endswith("\nVäljare istället för att ducka och gömma sig???")
    # The last comment in page order is an answer (to Caanita's comment 12).
    assert (last2.number, last2.author, last2.parent) == ("12.1", "Bamsepojken", "12")
    assert last2.body.endswith("\nabsolut INTE är bra för Umeå Kommuns image ju längre detta pågår")
    assert post2.comment("12").body.endswith(
        "granskningen som nu går via media torde väl knappast vara lyckosamt för någon part."
    )


def test_post1_bodies_verbatim(post1: SeedPost) -> None:
    # å/ä/ö/Å, two lines in one paragraph.
    assert post1.comment("8.1").body == (
        "Kan inte annat än instämma att hela ledningen bör bytas ut! Som dom förstört "
        "socialsekreterares liv under ÅR är rent ut sagt förjävligt och att ingen tagit itu med "
        "detta trots kunskap om vad som försiggår är skamligt!\n"
        "Vi måste få ett forum där vi kan vara öppna med vad vi ser och blivit och fortfarande "
        "blir utsatta för av våra chefer, någonstans där vi vågar vara ärliga och behandlas med "
        "respekt utan repressalier"
    )
    assert post1.comment("8.1").author == "Kommunanställd"
    # ” quotes and a NO-BREAK SPACE kept as in the file (a mangled e-mail address).
    assert post1.comment("9.1").body == (
        "Jag anser mig inte direkt ha tagit ställning i den ”korruption” som många anser råder. "
        "Därtill är allt för komplicerat. Varför använder du en mailadress "
        "[email\xa0protected], som inte finns, förresten?"
    )
    assert post1.comment("2").body == (
        "Blir inte förvånad. Som tidigare drabbad av Umeå Socialtjänst så förvånar det inte att "
        "de mörkar och sopar under mattan! Tar inte IVOs kritik på allvar och vill bara att allt "
        "faller i glömska.Men vi som haft med socialtjänsten att göra förstår hur dåligt den "
        "fungerar!"
    )


def test_post1_long_comment_with_many_paragraphs(post1: SeedPost) -> None:
    paragraphs = post1.comment("4").body.split("\n\n")
    assert len(paragraphs) == 21
    assert (
        paragraphs[0]
        == "Hej.\nTill att börja med, tack för ditt engagemang i detta. Mycket viktigt!"
    )
    # A paragraph of its own that starts with ”.
    assert paragraphs[2] == "”https://www.bokus.com/bok/9789147051717/kritisk-utredningsmetodik/"
    # The comment is cut off mid-word in the source page itself ("fr").
    assert paragraphs[-1] == "Det handlar även om rättssäkerhet!\nUndersök ochvställ er fr"


def test_post2_bodies_verbatim(post2: SeedPost) -> None:
    assert post2.comment("7").body == (
        "En orimlig situation. Antingen måste politikerna i IFO-nämnden avgå – eller så måste de "
        "ge sparken åt cheferna. Ofattbart att en sån här situation tillåtits att växa fram."
    )
    assert post2.comment("7.1").body == (
        "Svar på kommentar från Messerschmitt 11/4-22\n"
        "Håller absolut med – med den lilla skillnaden att det räcker med att ge de tre cheferna "
        "nya arbetsuppgifter. De behöver inte sparkas. Detta naturligtvis under förutsättningen "
        "att de har fel. Vi har ju även den möjligheten att båda sidor i denna våldsamma konflikt "
        "kan ha fel."
    )
    assert post2.comment("6.2.1").body == (
        "Svar på kommentar från Observatör den 11/4-22\n"
        "Jag kommer att stänga av dig helt om du fortsätter att skriva på det sätt som du skrev i "
        "det tidigare inlägget."
    )
    # Depth 2, two paragraphs.
    assert post2.comment("4.1.1").body == (
        "Du har helt rätt. Vi lämnar österländska ledare utanför.\n"
        "Problemen man upplever som person som drabbas av besluten som politikerna tar, med den "
        "inställning som du också sätter fingret på, innebär att individen tappar förtroendet för "
        "myndigheten och de politiker som styr. Transparensen saknas. Beslutsunderlaget kan och "
        "får inte granskas. Konsekvensen kan inte överklagas, eller när man försöker så ger det "
        "bara mer bensin på elden mot individen som blir utsatt av övergrepp från myndigheten. "
        "Rättssäkerheten blir satt ur spel, det är otroligt allvarligt.\n\n"
        "Tyvärr drabbar det inte bara personer med en lag- och etik-vidrig agenda. Det drabbar "
        "fullt fungerande familjer som vill och avser väl. När sånt händer måste man backa och "
        "ta om från myndighetshåll. Och framför allt, det får aldrig bli en prestige-fråga för "
        "en individ i styrande position. Uppstår sådana situationer så är man som politiker ute "
        "på väldigt tunn is."
    )
    # Lines starting with ” and with …, inside one paragraph.
    assert "\n”Men är chefernas kritik felaktig…\n… då drabbas de tre cheferna av sina egna " in (
        post2.comment("6").body
    )
    assert post2.comment("10.1").body == (
        "Såg också det!!\n"
        "Noterade även att du har en av de VKs mest lästa bloggar! Du gör så klockrena analyser "
        "av komplicerade situationer"
    )


def test_post2_hard_wrapped_comment(post2: SeedPost) -> None:
    # Jan Sjöström's comment is hard-wrapped: the lines stay lines.
    paragraphs = post2.comment("9").body.split("\n\n")
    assert len(paragraphs) == 12
    assert paragraphs[0] == "Hej!"
    assert paragraphs[1] == (
        "Svensk förvaltning har att acceptera demokratins förutsättning,\n"
        "d v s det regelverk vi (folket) ser skäl i. All myndighetsutövning\n"
        "i en demokrati utgår från stöd i dessa regelverk."
    )
    assert paragraphs[-2].endswith(
        "ansvar i offentlig tjänst skapar nödvändig trygghet i att ”stå emot”\n"
        "när en ”alternativ agenda” upplevs störa lagtexts intentioner."
    )
    assert paragraphs[-1] == "/ Jan Sjöström"


def test_author_answers_start_with_their_svar_line(post2: SeedPost) -> None:
    # In post 2 each of the author's answers opens with "Svar på kommentar från <name> ...".
    for c in post2.comments:
        if c.is_post_author:
            assert c.body.startswith("Svar på kommentar från "), c.number
    # 6.2 sits under Umeåbo's comment 6 but answers an Observatör comment that
    # is not on the page; the parent is where the page puts it.
    answer = post2.comment("6.2")
    assert answer.parent == "6"
    assert answer.body.startswith(
        "Svar på kommentar från Observatör 11/4-22\n"
        "Jag har i detta läge inte publicerat någon kommentar."
    )


# --------------------------------------------------------------------------
# Title and post body
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_NAMES)
def test_title(posts: dict[str, SeedPost], name: str) -> None:
    assert posts[name].title == TITLES[name]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_post_body_keeps_every_line(posts: dict[str, SeedPost], name: str) -> None:
    """Every non-blank line between the title and "N kommentarer" is in the Markdown."""
    lines = _raw_lines(name)
    count_at = next(i for i, line in enumerate(lines) if _COUNT_LINE_RE.fullmatch(line))
    md_lines = posts[name].body_markdown.split("\n")
    for line in lines[1:count_at]:
        if not line.strip() or set(line) <= {"_", " ", "\xa0"}:
            continue  # blank / NBSP spacer / "_ _ _" separator
        assert line in md_lines or "## " + line in md_lines, line
    assert COMMENTS_END_MARKER not in posts[name].body_markdown
    assert not re.search(r"\d+ kommentarer", posts[name].body_markdown)


def test_post1_markdown(post1: SeedPost) -> None:
    paragraphs = post1.body_markdown.split("\n\n")
    assert len(paragraphs) == 10
    assert paragraphs[0].startswith("Två visselblåsande socialsekreterares öde i Umeå kommun")
    assert paragraphs[8].startswith("”Det är skrämmande att en så stor arbetsgivare som Umeå")
    assert paragraphs[8].endswith("nämnda ansvariga chefer inom myndigheten.”")
    assert paragraphs[-1] == (
        "Den IVO-anmälan, som av för mig okänd anledning, överfördes från Umeå till IVO i "
        "Stockholm, visar sig inte finnas och handläggas där."
    )


def test_post2_markdown(post2: SeedPost) -> None:
    blocks = post2.body_markdown.split("\n\n")
    headings = [b for b in blocks if b.startswith("## ")]
    assert headings == [
        "## Försvara yttrande- och tryckfriheten",
        "## Ingress",
        "## Del ett",
        "## Del två",
        "## Del tre",
        "## Del fyra",
        "## Avslutning",
    ]
    assert blocks.count("---") == 1
    assert blocks[0] == (
        "De åsikter som jag framför har två syften. Dels vill jag göra\n"
        "Arbetarpartiets (AP) ståndpunkter kända i Umeå, dels\n"
        "vill jag bidra till en höjd politisk allmänbildning."
    )
    assert blocks[blocks.index("## Del ett") + 1].startswith(
        "Skälet till att det har uppstått en både orimlig"
    )
    assert blocks[-1].endswith("med att de frånsade sig sitt\xa0\narbetsmiljöansvar.")
    # The "\xa0" spacer lines are gone.
    assert all(b.strip() for b in blocks)


@pytest.mark.parametrize(
    ("name", "paragraphs", "headings", "rules"),
    [("blog-post-1", 10, 0, 0), ("blog-post-2", 19, 7, 1)],
)
def test_post_markdown_renders_as_plain_paragraphs(
    posts: dict[str, SeedPost], name: str, paragraphs: int, headings: int, rules: int
) -> None:
    # Nothing in the text is mistaken for Markdown syntax (lists, emphasis, code...).
    html = render_post(posts[name].body_markdown, title=posts[name].title).body_html
    assert set(re.findall(r"<(\w+)", html)) <= {"p", "h2", "hr"}
    assert html.count("<p>") == paragraphs
    assert html.count("<h2>") == headings
    assert html.count("<hr") == rules


# --------------------------------------------------------------------------
# The parser on small inputs
# --------------------------------------------------------------------------

_MINI = (
    "Titel\n\nText.\n\n2 kommentarer\n\n"
    " 1. Anna\n\n  Hej.\n\n  • Bo (inläggsförfattare)\n\n   Svar.\n\n"
    "    • Anna\n\n     Tack.\n\n  • Cilla\n\n   Jag med.\n\n"
    " 2. Bo\n\n  Rad ett\n  rad två\n\n  Stycke två.\n\n"
    "Lämna ett svar\n\nsomething\n"
)


def test_parse_small_page() -> None:
    post = parse_seed(_MINI)
    assert post.title == "Titel"
    assert post.body_markdown == "Text."
    assert post.declared_count == 2
    assert [(c.number, c.author, c.parent, c.depth, c.is_post_author) for c in post.comments] == [
        ("1", "Anna", None, 0, False),
        ("1.1", "Bo", "1", 1, True),
        ("1.1.1", "Anna", "1.1", 2, False),
        ("1.2", "Cilla", "1", 1, False),
        ("2", "Bo", None, 0, False),
    ]
    assert post.comment("2").body == "Rad ett\nrad två\n\nStycke två."
    assert commenters(post) == ["Anna", "Cilla", "Bo"]
    assert post.post_author == "Bo"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("2 kommentarer", "2 svar"),  # no count line
        ("Lämna ett svar", "Skriv något"),  # no end of the comment section
        (" 2. Bo", " 3. Bo"),  # a gap in the numbering
        ("  Stycke två.", "Stycke två."),  # an unindented stray line
        ("   Svar.", "  Svar."),  # a body not indented under its header
        ("\n\n  Hej.\n", "\n"),  # a comment without a body
    ],
)
def test_parse_rejects_malformed_pages(old: str, new: str) -> None:
    assert old in _MINI
    with pytest.raises(ValueError):
        parse_seed(_MINI.replace(old, new, 1))


def test_records_are_frozen(post1: SeedPost) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        post1.comments[0].body = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        post1.title = "x"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["../blog-post-1", "blog-post-1.txt", "", "Blog/x"])
def test_load_seed_rejects_odd_names(bad: str) -> None:
    with pytest.raises(ValueError):
        load_seed(bad)
