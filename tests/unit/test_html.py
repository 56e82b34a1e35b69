"""Tests for fedblog.blog.html: Markdown rendering, sanitising, hashtags, text."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest

from fedblog.blog.html import (
    ContentTooLarge,
    RenderedPost,
    excerpt,
    extract_hashtags,
    hashtag_links,
    html_to_text,
    render_post,
    sanitize_remote_html,
)

# --------------------------------------------------------------------------
# Realistic Swedish content, copied verbatim from two blog posts with comment
# sections (the original seed files are not part of the repository).
# --------------------------------------------------------------------------

POST1_TITLE = "Visselblåsares öde i Umeå kommun"

POST1_PARAGRAPHS = [
    (
        "Två visselblåsande socialsekreterares öde i Umeå kommun och deras egen beskrivning av "
        "det i en skrivelse till partiernas gruppledare samt till ett antal chefer har till sist "
        "även nått mig. Skrivelsen har efter ett antal överstrykningar gjorts till en allmän och "
        "offentlig handling."
    ),
    (
        "Skrivelsen samt en mängd ytterligare information har på andra vägar också nått mig. Även "
        "om skeendet personligen inte alls berör mig, kan jag inte låta bli att engagera mig "
        "frågan. Ärendet avser i botten ett enskilt ärende, men av vad som framkommer av de båda "
        "socialsekreterarnas skrivelse, finns det all anledning befara att även andra ärenden där "
        "hjälp söks hos individ- och familjenämnden inte blir korrekt behandlade."
    ),
    (
        "Den utredning som de därefter gjorde för nämndens kännedom ändrades av enhetschef Sofia "
        "Rönnholm, utan utredarnas tillåtelse och som därför inte ville skriva under den."
    ),
]

POST1_QUOTE = (
    "”Det är skrämmande att en så stor arbetsgivare som Umeå Kommun är villig att gå så långt "
    "att man startar två arbetsrättsliga processer mot medarbetare som uppmärksammar "
    "oegentligheter genom att visselblåsa. Är det så ni som politiker och socialdirektör vill "
    "att man hanterar dessa frågor? Är det så ni vill att eran myndighet ska fungera? "
    "Socialtjänsten är ju ett ansikte utåt för kommunen och representerar även er. Ni borde "
    "starkt ifrågasätta om förtroendet verkligen finns nämnda ansvariga chefer inom "
    "myndigheten.”"
)

POST2_TITLE = (
    "Socialchefer skriver att Lundgren (S) skapar rättsosäkerhet – överlämnar samtidigt sitt "
    "ansvar för arbetsmiljön till just Lundgren! Vem ska leda soc?"
)

POST2_PARAGRAPHS = [
    (
        "Skälet till att det har uppstått en både orimlig och oacceptabel situation inom "
        "socialtjänsten är följande: Socialdirektören har, tillsammans med två andra av "
        "socialtjänstens högsta chefer, framfört en offentlig kritik riktad mot politikern Andreas "
        "Lundgren (S) – en kritik som är så fruktansvärt hård och så allvarlig att det nästan "
        "saknar motstycke. Andreas Lundgren är ordförande i Individ- och familjenämnden och därmed "
        "ytterst ansvarig för socialtjänsten i Umeå kommun."
    ),
    (
        "De tre höga cheferna har alla samma uppfattning. Jag citerar socialdirektören: "
        "”Ordförandes agerande och styrning av nämnden i enskilda ärenden under "
        "myndighetsutövning medför rättsosäker handläggning och otillbörlig påverkan. Vilket "
        "påverkar möjligheten att fullfölja socialtjänstens uppdrag…”."
    ),
    (
        "Är chefernas kritik riktig har även kommunstyrelsen, kommundirektören, kommunjuristerna, "
        "huvudskyddsombudet, m fl, känt till detta under tre år – men inte gjort någonting åt "
        "saken!"
    ),
]

# Comments as they would arrive from a remote server: one <p> per paragraph,
# <br> for line breaks.
COMMENT_LINES_BAMSE = [
    (
        "ÄNTLIGEN-ÄNTLIGEN har VI som drabbats under alla dessa år fått en röst som beskriver "
        "verkligheten och sanningen hur ILLA ställt det är inom vår fina UMEÅ KOMMUN där politiker "
        "och makthavare håller varandra om ryggen och VI drabbade blir brickor i ett spel som är "
        "helt åt HVTE !!!!!"
    ),
    (
        "VART HAR BBIC (Barnens bästa i centrum) HAMNAT?? Finns överhuvud taget INTE i förövarnas "
        "sinnen! Nu känns det K-G som att Vi över 200 drabbade kan-vågar träda fram och vittna om "
        "denna FRUKTANSVÄRDA SKANDAL!!!!"
    ),
]

COMMENT_MESSERSCHMITT = (
    "En orimlig situation. Antingen måste politikerna i IFO-nämnden avgå – eller så måste de "
    "ge sparken åt cheferna. Ofattbart att en sån här situation tillåtits att växa fram."
)

COMMENT_HAGGLUND_LINES = [
    "Svar på kommentar från Messerschmitt 11/4-22",
    (
        "Håller absolut med – med den lilla skillnaden att det räcker med att ge de tre cheferna "
        "nya arbetsuppgifter. De behöver inte sparkas. Detta naturligtvis under förutsättningen "
        "att de har fel. Vi har ju även den möjligheten att båda sidor i denna våldsamma konflikt "
        "kan ha fel."
    ),
]

SWEDISH_CHARS = "åäöÅÄÖ”–…"


def _char_counts(text: str) -> dict[str, int]:
    return {ch: text.count(ch) for ch in SWEDISH_CHARS}


# --------------------------------------------------------------------------
# Output inspection helpers: parse what we produced, never trust substrings.
# --------------------------------------------------------------------------


class _ElementCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text_parts: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _parse(html: str) -> _ElementCollector:
    collector = _ElementCollector()
    collector.feed(html)
    collector.close()
    return collector


_URL_WHITESPACE = re.compile(r"[\x00-\x20]")


def _has_scheme(url: str, schemes: set[str]) -> bool:
    # Browsers ignore ASCII whitespace/control characters inside schemes.
    compact = _URL_WHITESPACE.sub("", url).lower()
    scheme, sep, _ = compact.partition(":")
    return bool(sep) and scheme in schemes


REMOTE_ALLOWED: dict[str, set[str]] = {
    "p": set(),
    "br": set(),
    "a": {"href", "rel", "class"},
    "span": {"class"},
    "ul": set(),
    "ol": set(),
    "li": set(),
    "blockquote": set(),
    "code": set(),
    "pre": set(),
    "strong": set(),
    "b": set(),
    "em": set(),
    "i": set(),
    "del": set(),
    "s": set(),
    "sup": set(),
    "sub": set(),
}
REMOTE_CLASSES = {"h-card", "mention", "hashtag", "u-url", "invisible", "ellipsis"}
REMOTE_REL = "nofollow noopener noreferrer"

POST_ALLOWED: dict[str, set[str]] = {
    **{f"h{n}": set() for n in range(1, 7)},
    "p": set(),
    "br": set(),
    "hr": set(),
    "a": {"href", "rel", "title"},
    "img": {"src", "alt", "title"},
    "ul": set(),
    "ol": {"start"},
    "li": set(),
    "blockquote": set(),
    "pre": set(),
    "code": {"class"},
    "em": set(),
    "strong": set(),
    "del": set(),
    "s": set(),
    "sup": set(),
    "sub": set(),
    "table": set(),
    "thead": set(),
    "tbody": set(),
    "tfoot": set(),
    "tr": set(),
    "th": {"style"},
    "td": {"style"},
    "caption": set(),
}


def assert_remote_safe(html: str) -> None:
    parsed = _parse(html)
    assert not parsed.comments
    for tag, attrs in parsed.elements:
        assert tag in REMOTE_ALLOWED, f"element <{tag}> escaped the sanitiser: {html[:300]}"
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            assert name in REMOTE_ALLOWED[tag], f"attribute {name} on <{tag}>"
            assert value is not None
            if name == "href":
                assert _has_scheme(value, {"http", "https", "mailto"}), value
            if name == "class":
                assert set(value.split()) <= REMOTE_CLASSES, value
            if name == "rel":
                assert value == REMOTE_REL


def assert_post_safe(html: str) -> None:
    parsed = _parse(html)
    assert not parsed.comments
    for tag, attrs in parsed.elements:
        assert tag in POST_ALLOWED, f"element <{tag}> escaped the sanitiser"
        for name, value in attrs:
            assert not name.startswith("on")
            assert name in POST_ALLOWED[tag], f"attribute {name} on <{tag}>"
            assert value is not None
            if name == "href":
                assert _has_scheme(value, {"http", "https", "mailto"}), value
            if name == "src":
                assert _has_scheme(value, {"http", "https"}), value
            if name == "class":
                assert all(c.startswith("language-") for c in value.split()), value
            if name == "style":
                assert re.fullmatch(r"text-align:\s*(left|right|center)", value), value
            if name == "rel":
                assert value == "noopener"


# --------------------------------------------------------------------------
# render_post
# --------------------------------------------------------------------------


def _swedish_markdown() -> str:
    blocks = [
        "## Del ett",
        *POST1_PARAGRAPHS,
        "> " + POST1_QUOTE,
        "### Del två",
        *POST2_PARAGRAPHS,
    ]
    return "\n\n".join(blocks) + "\n"


def test_render_post_keeps_swedish_text_intact() -> None:
    markdown = _swedish_markdown()
    post = render_post(markdown, title=POST1_TITLE)

    for paragraph in [*POST1_PARAGRAPHS, *POST2_PARAGRAPHS]:
        assert f"<p>{paragraph}</p>" in post.body_html
        assert paragraph in post.text
    assert f"<blockquote>\n<p>{POST1_QUOTE}</p>\n</blockquote>" in post.body_html
    assert POST1_QUOTE in post.text
    assert "<h2>Del ett</h2>" in post.body_html
    assert "<h3>Del två</h3>" in post.body_html

    # Every special character survives, no more and no fewer.
    assert _char_counts(post.text) == _char_counts(markdown.replace("#", "").replace(">", ""))
    assert _char_counts(post.body_html) == _char_counts(markdown)
    # Nothing was cut off at the end.
    assert post.text.endswith(POST2_PARAGRAPHS[-1])
    assert post.body_html.endswith(f"<p>{POST2_PARAGRAPHS[-1]}</p>")


def test_render_post_title_leads_content_as_bold_paragraph() -> None:
    post = render_post(POST2_PARAGRAPHS[0], title=POST2_TITLE)

    assert isinstance(post, RenderedPost)
    assert post.html == post.html_with_title
    assert post.html_with_title == f"<p><strong>{POST2_TITLE}</strong></p>{post.body_html}"
    assert post.body_html == f"<p>{POST2_PARAGRAPHS[0]}</p>"
    assert POST2_TITLE not in post.text  # the title has its own field
    assert post.text == POST2_PARAGRAPHS[0]


def test_render_post_without_title() -> None:
    post = render_post("Hej *världen*")
    assert post.html == post.body_html == post.html_with_title == "<p>Hej <em>världen</em></p>"
    assert post.text == "Hej världen"
    assert post.hashtags == ()


def test_render_post_blank_title_is_no_title() -> None:
    post = render_post("Text", title="   ")
    assert post.html == "<p>Text</p>"


def test_render_post_title_is_escaped() -> None:
    post = render_post("Text", title='<script>alert("x")</script> & ”citat”')
    assert post.html.startswith(
        "<p><strong>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; ”citat”</strong></p>"
    )
    assert_post_safe(post.html)


def test_render_post_headings() -> None:
    post = render_post("# Ett\n\n## Två\n\n###### Sex\n\nText")
    assert post.body_html.startswith("<h1>Ett</h1>\n<h2>Två</h2>\n<h6>Sex</h6>\n<p>Text</p>")
    assert post.text == "Ett\n\nTvå\n\nSex\n\nText"
    assert post.hashtags == ()  # heading markers are not hashtags


def test_render_post_links_get_rel_noopener() -> None:
    post = render_post(
        'Se [IVO](https://www.ivo.se/ "Inspektionen") och [mejla](mailto:jan@example.se) '
        "eller <https://umea.se/kommun>."
    )
    links = [dict(attrs) for tag, attrs in _parse(post.html).elements if tag == "a"]
    assert links == [
        {"href": "https://www.ivo.se/", "title": "Inspektionen", "rel": "noopener"},
        {"href": "mailto:jan@example.se", "rel": "noopener"},
        {"href": "https://umea.se/kommun", "rel": "noopener"},
    ]
    assert_post_safe(post.html)


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x61;script:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "[x](/relative/path)",
    ],
)
def test_render_post_rejects_unsafe_or_relative_links(markdown: str) -> None:
    post = render_post(markdown)
    assert_post_safe(post.html)
    assert "script" not in "".join(str(attrs) for _, attrs in _parse(post.html).elements)


def test_render_post_code_blocks() -> None:
    markdown = (
        "Inline `#inte_en_tag` kod.\n\n"
        '```python\nprint("hej <b>å</b>")\n```\n\n'
        "    indenterad = 1\n"
    )
    post = render_post(markdown)
    assert "<code>#inte_en_tag</code>" in post.html
    assert (
        '<pre><code class="language-python">print("hej &lt;b&gt;å&lt;/b&gt;")\n</code></pre>'
    ) in post.html
    assert "<pre><code>indenterad = 1\n</code></pre>" in post.html
    assert 'print("hej <b>å</b>")' in post.text
    assert post.hashtags == ()
    assert_post_safe(post.html)


def test_render_post_code_class_only_language() -> None:
    post = render_post('<pre><code class="language-sql evil x-y">SELECT 1</code></pre>')
    assert '<code class="language-sql">' in post.html
    post = render_post('<code class="evil">x</code>')
    assert "<code>x</code>" in post.html


def test_render_post_blockquote_and_lists() -> None:
    post = render_post("> Citat – ”så här”\n\n1. ett\n2. två\n\n- a\n- b\n\n5. fem\n")
    assert "<blockquote>\n<p>Citat – ”så här”</p>\n</blockquote>" in post.html
    assert "<ol>\n<li>ett</li>\n<li>två</li>\n</ol>" in post.html
    assert "<ul>\n<li>a</li>\n<li>b</li>\n</ul>" in post.html
    assert '<ol start="5">' in post.html
    assert post.text == "Citat – ”så här”\n\nett\ntvå\n\na\nb\n\nfem"


def test_render_post_tables_strikethrough_images() -> None:
    markdown = (
        "| Parti | Mandat |\n|:------|-------:|\n| S | 20 |\n\n"
        '~~struket~~ och ![Umeå älv](https://example.se/alv.jpg "Älven")\n'
    )
    post = render_post(markdown)
    assert '<th style="text-align:left">Parti</th>' in post.html
    assert '<td style="text-align:right">20</td>' in post.html
    assert "<s>struket</s>" in post.html
    assert '<img src="https://example.se/alv.jpg" alt="Umeå älv" title="Älven">' in post.html
    assert_post_safe(post.html)


def test_render_post_raw_html_is_sanitised() -> None:
    markdown = (
        "Före\n\n"
        "<script>alert('x')</script>\n\n"
        '<div onclick="evil()" style="color:red">Behållen text <b>fet</b></div>\n\n'
        '<iframe src="https://evil.example/"></iframe>\n\n'
        '<img src="x" onerror="alert(1)"> <img src="data:image/png;base64,AAAA">'
        ' <img src="mailto:a@b.se">\n\n'
        '<td style="color:red; text-align:center; background:url(javascript:x)">c</td>\n\n'
        "<sup>1</sup> <sub>2</sub> <hr>\n\n"
        "<!-- kommentar -->Efter\n"
    )
    post = render_post(markdown)
    assert_post_safe(post.html)
    assert "alert" not in post.html
    assert "evil" not in post.html
    assert "Behållen text" in post.text
    assert "<sup>1</sup> <sub>2</sub>" in post.html
    assert "<hr>" in post.html
    assert post.text.startswith("Före")
    assert post.text.endswith("Efter")


# --------------------------------------------------------------------------
# hashtags
# --------------------------------------------------------------------------


def test_hashtags_swedish_letters_and_hyphen() -> None:
    post = render_post("Möte i #kommunfullmäktige om #Ö-vik och #Umeå. Även #ÅÄÖ_2022!")
    assert post.hashtags == ("kommunfullmäktige", "Ö-vik", "Umeå", "ÅÄÖ_2022")


def test_hashtags_deduped_case_insensitively_first_spelling_wins() -> None:
    post = render_post("#Umeå och #UMEÅ och #umeå\n\n- #Socialtjänst\n- #socialtjänst")
    assert post.hashtags == ("Umeå", "Socialtjänst")


def test_hashtags_not_in_code_links_or_urls() -> None:
    markdown = (
        "Riktig #tagg.\n\n"
        "`#kodspan` och C# och foo#bar och #1 och #2022\n\n"
        "```\n#kodblock\n```\n\n"
        "Se https://example.se/sida#avsnitt och www.example.se/#ankare\n\n"
        "[#länktext](https://example.se/) [x](https://example.se/#fragment)\n\n"
        '<https://example.se/#autolink> <a href="#rå">#råhtml</a>\n'
    )
    assert render_post(markdown).hashtags == ("tagg",)


def test_hashtags_punctuation_boundaries() -> None:
    assert extract_hashtags("(#en) #två, #tre. #fyra- ”#fem” **#sex**") == (
        "en",
        "två",
        "tre",
        "fyra",
        "fem",
        "sex",
    )


def test_hashtags_decomposed_unicode_is_normalised() -> None:
    # "ö" written as o + COMBINING DIAERESIS, as some keyboards/OSes produce.
    assert extract_hashtags("#o\u0308vik") == ("övik",)


def test_hashtags_include_title_first() -> None:
    post = render_post("Brödtext om #Umeå", title="Nytt om #IVO")
    assert post.hashtags == ("IVO", "Umeå")


# --------------------------------------------------------------------------
# hashtag_links
# --------------------------------------------------------------------------


def _tag_url(tag: str) -> str:
    return f"https://blog.example/tags/{tag.lower()}"


def test_hashtag_links_mastodon_shape() -> None:
    assert hashtag_links("<p>Hej #Umeå!</p>", _tag_url) == (
        '<p>Hej <a href="https://blog.example/tags/umeå" class="mention hashtag" rel="tag">'
        "#<span>Umeå</span></a>!</p>"
    )


def test_hashtag_links_skip_links_code_pre() -> None:
    html = (
        '<p><a href="https://x.example/">#inlänk</a> <code>#kod</code></p>'
        "<pre><code>#block</code></pre><p>#ja</p>"
    )
    out = hashtag_links(html, _tag_url)
    assert out == (
        '<p><a href="https://x.example/">#inlänk</a> <code>#kod</code></p>'
        '<pre><code>#block</code></pre><p><a href="https://blog.example/tags/ja" '
        'class="mention hashtag" rel="tag">#<span>ja</span></a></p>'
    )


def test_hashtag_links_preserve_markup_and_escaping() -> None:
    html = (
        '<p><a href="https://x.example/?a=1&amp;b=2" rel="noopener">länk</a> '
        "a &amp; b &lt;script&gt; #Ö-vik</p>"
    )
    out = hashtag_links(html, _tag_url)
    assert out.startswith(
        '<p><a href="https://x.example/?a=1&amp;b=2" rel="noopener">länk</a> '
        "a &amp; b &lt;script&gt; "
    )
    assert "#<span>Ö-vik</span></a></p>" in out
    assert "<script>" not in out


def test_hashtag_links_escape_tag_url() -> None:
    out = hashtag_links("<p>#x</p>", lambda tag: f'https://e.example/"><script>{tag}')
    parsed = _parse(out)
    assert [tag for tag, _ in parsed.elements] == ["p", "a", "span"]
    assert dict(parsed.elements[1][1])["href"] == 'https://e.example/"><script>x'


def test_hashtag_links_ignore_url_fragments() -> None:
    html = "<p>https://example.se/sida#avsnitt och #ja</p>"
    out = hashtag_links(html, _tag_url)
    assert "https://example.se/sida#avsnitt och " in out
    assert out.count("<a ") == 1


def test_hashtag_links_on_rendered_post_stay_safe() -> None:
    post = render_post("Om #kommunfullmäktige i `#kod` och [#länk](https://x.example/)")
    out = hashtag_links(post.html, _tag_url)
    assert out.count('class="mention hashtag"') == 1
    tags = {tag for tag, _ in _parse(out).elements}
    assert tags <= set(POST_ALLOWED) | {"span"}


# --------------------------------------------------------------------------
# sanitize_remote_html
# --------------------------------------------------------------------------


def test_remote_mastodon_mention_keeps_structure() -> None:
    html = (
        '<p><span class="h-card" translate="no"><a href="https://mastodon.example/@bob" '
        'class="u-url mention">@<span>bob</span></a></span> hej!</p>'
    )
    out = sanitize_remote_html(html)
    assert_remote_safe(out)
    assert [(tag, dict(attrs)) for tag, attrs in _parse(out).elements] == [
        ("p", {}),
        ("span", {"class": "h-card"}),
        (
            "a",
            {"href": "https://mastodon.example/@bob", "class": "u-url mention", "rel": REMOTE_REL},
        ),
        ("span", {}),
    ]
    assert html_to_text(out) == "@bob hej!"


def test_remote_mastodon_hashtag_and_shortened_link() -> None:
    html = (
        '<p><a href="https://m.example/tags/ume%C3%A5" class="mention hashtag" rel="tag">'
        "#<span>Umeå</span></a> "
        '<a href="https://example.se/en/lang/sokvag" target="_blank" rel="nofollow noopener" '
        'translate="no"><span class="invisible">https://</span><span class="ellipsis">'
        'example.se/en/lang/</span><span class="invisible">sokvag</span></a></p>'
    )
    out = sanitize_remote_html(html)
    assert_remote_safe(out)
    assert "target" not in out
    assert 'class="mention hashtag"' in out
    assert '<span class="invisible">https://</span>' in out
    assert html_to_text(out) == "#Umeå https://example.se/en/lang/sokvag"


def test_remote_swedish_comments_survive_unchanged() -> None:
    html = (
        "<p>" + "<br>".join(COMMENT_LINES_BAMSE) + "</p>"
        f"<p>{COMMENT_MESSERSCHMITT}</p>"
        "<blockquote><p>" + "<br />".join(COMMENT_HAGGLUND_LINES) + "</p></blockquote>"
    )
    out = sanitize_remote_html(html)
    assert_remote_safe(out)
    assert out == html.replace("<br />", "<br>")
    text = html_to_text(out)
    expected = "\n".join(
        [
            *COMMENT_LINES_BAMSE,
            "",
            COMMENT_MESSERSCHMITT,
            "",
            *COMMENT_HAGGLUND_LINES,
        ]
    )
    assert text == expected
    assert _char_counts(text) == _char_counts(html)


def test_remote_keeps_allowed_formatting() -> None:
    html = (
        "<ul><li><strong>a</strong> <b>b</b> <em>c</em> <i>d</i></li></ul>"
        "<ol><li><del>e</del> <s>f</s> x<sup>2</sup> H<sub>2</sub>O</li></ol>"
        "<pre><code>kod</code></pre>"
    )
    out = sanitize_remote_html(html)
    assert out == html
    assert_remote_safe(out)


def test_remote_drops_disallowed_structure_but_keeps_text() -> None:
    html = '<h1>Rubrik</h1><div class="h-card"><table><tr><td>cell</td></tr></table></div>'
    out = sanitize_remote_html(html)
    assert_remote_safe(out)
    assert html_to_text(out) == "Rubrikcell"


def test_remote_span_classes_filtered() -> None:
    out = sanitize_remote_html('<span class="mention evil invisible" id="x" lang="sv">t</span>')
    assert out == '<span class="mention invisible">t</span>'


HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="DaTa:text/html,<script>alert(1)</script>">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="VBScript:msgbox(1)">x</a>',
    '<a href="file:///etc/passwd">x</a>',
    '<a href="//evil.example/">x</a>',
    '<a href="/relative">x</a>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<form action="https://evil.example/"><input name="q"><button>go</button></form>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<a href="https://ok.example/" title=\'x" onmouseover="alert(1)\'>x</a>',
    '<a href="https://ok.example/"onmouseover="alert(1)">x</a>',
    "<a href='https://ok.example/\"onmouseover=\"alert(1)'>x</a>",
    '<p>"><script>alert(1)</script></p>',
    '<span class="mention" onclick="alert(1)" style="position:fixed">x</span>',
    '<a href="https://ok.example/" target="_blank" rel="opener">x</a>',
    "<!--<script>alert(1)</script>--><p>x</p>",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
    "<video src=x onerror=alert(1)></video><audio src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    '<a href="https://ok.example/" onmouseover=alert(1)>x</a>',
]


@pytest.mark.parametrize("html", HOSTILE)
def test_remote_hostile_html_is_neutralised(html: str) -> None:
    out = sanitize_remote_html(html)
    assert_remote_safe(out)
    # Whatever text survives is inert text, never markup.
    for tag, _ in _parse(out).elements:
        assert tag not in {"script", "style", "iframe", "img", "svg", "form", "input"}


def test_remote_script_and_style_content_is_removed() -> None:
    out = sanitize_remote_html("<p>före</p><script>alert(1)</script><style>p{}</style><p>efter</p>")
    assert out == "<p>före</p><p>efter</p>"


def test_remote_safe_links_survive() -> None:
    out = sanitize_remote_html(
        '<a href="https://ok.example/å?x=1&amp;y=2">a</a> <a href="http://ok.example/">b</a> '
        '<a href="mailto:jan@example.se">c</a>'
    )
    assert_remote_safe(out)
    hrefs = [dict(attrs)["href"] for tag, attrs in _parse(out).elements if tag == "a"]
    assert hrefs == ["https://ok.example/å?x=1&y=2", "http://ok.example/", "mailto:jan@example.se"]


@pytest.mark.parametrize("tag", ["div", "b", "span", "blockquote", "a", "svg", "script"])
def test_remote_deep_nesting_finishes_quickly(tag: str) -> None:
    open_tag = f'<{tag} onclick="alert(1)" href="javascript:alert(1)">'
    html = open_tag * 1000 + "djupt å" + f"</{tag}>" * 1000
    start = time.monotonic()
    out = sanitize_remote_html(html)
    assert time.monotonic() - start < 5
    assert_remote_safe(out)
    if tag not in {"svg", "script"}:
        assert "djupt å" in html_to_text(out)


def test_remote_size_limit() -> None:
    one_mb = "å" * 1_000_000
    with pytest.raises(ContentTooLarge):
        sanitize_remote_html(one_mb)
    assert issubclass(ContentTooLarge, ValueError)
    out = sanitize_remote_html(one_mb, max_length=2_000_000)
    assert out == one_mb


def test_remote_size_limit_boundary() -> None:
    assert sanitize_remote_html("x" * 10, max_length=10) == "x" * 10
    with pytest.raises(ContentTooLarge):
        sanitize_remote_html("x" * 11, max_length=10)


def test_remote_empty() -> None:
    assert sanitize_remote_html("") == ""


# --------------------------------------------------------------------------
# html_to_text
# --------------------------------------------------------------------------


def test_html_to_text_blocks_entities_whitespace() -> None:
    html = (
        "<h2>Del  fyra</h2>\n<p>Låt oss   citera\nsocialdirektören igen:<br>"
        "”Ordförandes agerande…”</p>\n"
        "<ul>\n<li>ett</li>\n<li>två</li>\n</ul>"
        "<p>&amp; &lt;tagg&gt; &quot;x&quot; &#229; &#x2013; &ouml;</p>"
    )
    assert html_to_text(html) == (
        "Del fyra\n\n"
        "Låt oss citera socialdirektören igen:\n”Ordförandes agerande…”\n\n"
        "ett\ntvå\n\n"
        '& <tagg> "x" å – ö'
    )


def test_html_to_text_preserves_preformatted_text() -> None:
    html = "<p>Kod:</p><pre><code>def f():\n    return 'å'\n</code></pre><p>Slut</p>"
    assert html_to_text(html) == "Kod:\n\ndef f():\n    return 'å'\n\nSlut"


def test_html_to_text_drops_script_and_style_content() -> None:
    assert html_to_text("<p>a</p><script>alert(1)</script><style>p{}</style><p>b</p>") == "a\n\nb"


def test_html_to_text_consecutive_breaks() -> None:
    assert html_to_text("a<br>b<br><br>c") == "a\nb\n\nc"


def test_html_to_text_plain_and_empty() -> None:
    assert html_to_text("") == ""
    assert html_to_text("  bara text  ") == "bara text"


# --------------------------------------------------------------------------
# excerpt
# --------------------------------------------------------------------------


def test_excerpt_short_text_unchanged() -> None:
    assert excerpt(COMMENT_MESSERSCHMITT) == COMMENT_MESSERSCHMITT


def test_excerpt_cuts_at_word_boundary() -> None:
    text = POST2_PARAGRAPHS[0]
    cut = excerpt(text, 100)
    assert len(cut) <= 100
    assert cut.endswith("…")
    body = cut[:-1]
    assert text.startswith(body)
    assert text[len(body)] in " ,"  # the cut fell between words
    assert cut == (
        "Skälet till att det har uppstått en både orimlig och oacceptabel situation inom "
        "socialtjänsten är…"
    )


def test_excerpt_drops_trailing_punctuation_before_ellipsis() -> None:
    assert excerpt("Hej på dig, du där borta", 12) == "Hej på dig…"


def test_excerpt_collapses_whitespace() -> None:
    assert excerpt("Första stycket.\n\nAndra   stycket.") == "Första stycket. Andra stycket."


def test_excerpt_hard_cut_for_one_long_word() -> None:
    cut = excerpt("https://example.se/" + "å" * 300, 50)
    assert len(cut) == 50
    assert cut.endswith("…")


def test_excerpt_exact_length_fits() -> None:
    assert excerpt("abc def", 7) == "abc def"
    assert excerpt("abc defg", 7) == "abc…"


def test_excerpt_rejects_nonpositive_length() -> None:
    with pytest.raises(ValueError):
        excerpt("text", 0)


def test_excerpt_of_rendered_post() -> None:
    post = render_post(_swedish_markdown(), title=POST1_TITLE)
    cut = excerpt(post.text)
    assert len(cut) <= 280
    assert cut.startswith("Del ett Två visselblåsande socialsekreterares öde i Umeå kommun")
