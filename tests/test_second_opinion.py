"""readability as a second opinion, and layout tables: what each rule removes, what it must keep.

Synthetic pages through extract_article (with the rule on and switched off, as the ablation of
``make eval-extraction`` does), and the pure functions. All article text here is invented.
"""

from __future__ import annotations

from lxml import etree

from pipelines import second_opinion
from pipelines.article import extract_article
from pipelines.body_text import body_lines
from tests.test_article import BODY, SECOND_STORY, TITLE, URL, page, paras

OFF = {"agreement": frozenset({"agreement"}), "layout_tables": frozenset({"layout_tables"})}


def extract(html: str, disabled: frozenset[str] = frozenset()) -> tuple[str, ...]:
    body = html.encode()
    return extract_article(body, URL, "text/html; charset=utf-8", disabled=disabled).paragraphs


# ---------------------------------------------------------------- agreement
def test_a_second_story_below_the_article_is_not_the_article() -> None:
    html = page(
        f"<div class='content'><div id='story-main'><h1>{TITLE}</h1><div class='body'>"
        f"{paras(BODY)}</div></div><div><h2>Bus route to close</h2>{paras(SECOND_STORY)}</div>"
        "</div>"
    )
    assert extract(html) == tuple(BODY)
    # what the rule removes: trafilatura alone keeps the next story as if it were this one's end
    assert SECOND_STORY[0] in extract(html, OFF["agreement"])


def test_the_articles_own_later_sections_stay() -> None:
    """A subheading and the paragraphs under it are the same article: both extractors say so."""
    html = page(
        f"<article><h1>{TITLE}</h1><div class='body'>{paras(BODY)}<h2>What happens next</h2>"
        f"{paras(SECOND_STORY)}</div></article>"
    )
    assert extract(html) == (*BODY, "What happens next", *SECOND_STORY)


def test_agreement_measures() -> None:
    mine = [*BODY, "Bus route to close", *SECOND_STORY]
    seen = second_opinion.agreement(mine, BODY)
    assert (seen.start, seen.end, seen.inside) == (0, len(BODY), 1.0)
    assert seen.covered == sum(map(len, BODY)) / sum(map(len, mine))
    # the rest: a headline (no full stop) and two sentences
    rest = ["Bus route to close", *SECOND_STORY]
    assert seen.extra_prose == sum(map(len, SECOND_STORY)) / sum(map(len, rest))
    other = second_opinion.agreement(mine, ["Something else entirely, in other words."])
    assert (other.covered, other.end, other.inside) == (0, 0, 0)
    assert second_opinion.agreement([], BODY).covered == 0


MENU = [
    f"{section} {what}"
    for section in ("News", "Sport", "Arts", "Weather", "Opinion", "Property", "Jobs")
    for what in ("today", "latest headlines", "in pictures", "video", "most read", "archive")
]
STEPS = [
    "Measure the shelf and cut the board two centimetres shorter.",
    "Sand both ends until they are smooth.",
    "Drill two holes at each end for the brackets.",
    "Screw the brackets to the wall.",
    "Lay the board on the brackets and fix it from below.",
    "Check it is level before you load it with books.",
]


def test_readability_inside_a_page_of_menus_is_the_article() -> None:
    mine = [*MENU[:20], *BODY, *MENU[20:]]  # trafilatura took the whole page of a layout
    seen = second_opinion.agreement(mine, BODY)
    assert seen.covered < second_opinion.COVER_MIN  # they disagree...
    assert second_opinion.found_inside(mine, BODY, seen)  # ...and readability's is the article


def test_a_how_to_whose_steps_readability_cut_short_stays_whole() -> None:
    mine = [BODY[0], *STEPS]
    seen = second_opinion.agreement(mine, [BODY[0]])
    assert seen.covered < second_opinion.COVER_MIN and seen.inside == 1.0
    assert len(BODY[0]) >= second_opinion.PART_MIN * sum(map(len, mine))
    assert not second_opinion.found_inside(mine, [BODY[0]], seen)  # the steps are sentences


def test_trim_keeps_a_byline_above_but_drops_table_rows_and_cells() -> None:
    mine = ["| Home | News | Sport |", "Menu of the site", "By Priya Lane", *BODY, "Most read"]
    # "Menu of the site" stood in a layout table's cell (index 1); the byline did not
    kept = second_opinion.trim_to_agreement(mine, 3, 3 + len(BODY), cells={1})
    assert kept == ["By Priya Lane", *BODY]


def test_prefer_second_is_trafilaturas_rule() -> None:
    short = [BODY[0]]
    assert second_opinion.prefer_second(short, BODY)  # readability found much more
    assert not second_opinion.prefer_second(BODY, short)
    assert second_opinion.prefer_second([], BODY)
    assert not second_opinion.prefer_second(short, ['{"articleBody": "' + BODY[1] * 3])
    assert not second_opinion.prefer_second(short, [])
    # 1.6 times as long: only in recall mode; a table dump gives way to any prose past 500 chars
    more = [BODY[0], BODY[1][: len(BODY[0]) * 6 // 10]]
    assert not second_opinion.prefer_second(short, more)
    assert second_opinion.prefer_second(short, more, recall=True)
    assert second_opinion.prefer_second(BODY[:3], BODY, dump=True)
    assert not second_opinion.prefer_second(BODY[:3], BODY)


def test_table_dump_is_asked_of_trafilaturas_tree() -> None:
    tree = etree.fromstring(
        "<body><table><row><cell>a</cell></row></table><table><row><cell>b</cell></row>"
        "</table><p>One paragraph.</p></body>"
    )
    assert second_opinion.table_dump(tree)
    assert not second_opinion.table_dump(etree.fromstring("<body><p>Text.</p></body>"))
    assert not second_opinion.table_dump(None)


def test_coverage_of_the_pages_own_article_body() -> None:
    body = " ".join(BODY)
    assert second_opinion.coverage(BODY, body) == 1.0
    assert second_opinion.coverage(SECOND_STORY, body) == 0.0
    assert 0 < second_opinion.coverage(BODY[:2], body) < 1
    # a teaser-length articleBody is held by both candidates alike: no reason to switch
    teaser = BODY[0]
    assert second_opinion.coverage(BODY, teaser) == second_opinion.coverage(BODY[:1], teaser)


def test_a_table_row_is_shared_with_readabilitys_cell_per_line() -> None:
    row = "| Valley Alliance | 12 | +3 |"
    seen = second_opinion.agreement([*BODY, row], [*BODY, "Valley Alliance", "12", "+3"])
    assert seen.end == len(BODY) + 1  # the results table that ends the story stays


# ------------------------------------------------------------ layout tables
NAV_CELLS = "".join(
    f"<td><a href='/s{i}'>Section {i} news and more from the valley today</a> | "
    f"<a href='/x{i}'>More local stories from the villages</a></td>"
    for i in range(3)
)
LAYOUT = (
    f"<table><tr>{NAV_CELLS}</tr><tr><td colspan='3'><h1>{TITLE}</h1>{paras(BODY)}</td></tr>"
    "</table>"
)


def test_a_story_laid_out_in_a_table_cell_keeps_its_paragraphs() -> None:
    assert extract(page(LAYOUT)) == tuple(BODY)  # its paragraphs, not the menu cells above
    # what the rule removes: one line per table row, the whole story glued into one of them
    glued = extract(page(LAYOUT), OFF["layout_tables"] | OFF["agreement"])
    assert any(p.startswith("|") and BODY[0] in p and BODY[-1] in p for p in glued)


def test_a_data_table_in_the_story_stays_a_table() -> None:
    table = (
        "<table><tr><th>Branch</th><th>Opening hours</th></tr>"
        "<tr><td>Central library</td><td>9 am to 8 pm</td></tr>"
        "<tr><td>Mill Lane branch</td><td>10 am to 4 pm</td></tr></table>"
    )
    html = page(f"<article><h1>{TITLE}</h1>{paras(BODY[:2])}{table}{paras(BODY[2:])}</article>")
    assert extract(html) == (
        *BODY[:2],
        "| Branch | Opening hours |",
        "| Central library | 9 am to 8 pm |",
        "| Mill Lane branch | 10 am to 4 pm |",
        *BODY[2:],
    )


def test_data_cells_with_a_line_break_or_a_paragraph_stay_a_table() -> None:
    table = (
        "<table><tr><th>Branch</th><th>Address</th></tr>"
        "<tr><td>Central library</td><td>4 Mill Lane<br>Marrow Valley</td></tr>"
        "<tr><td><p>Mill Lane branch</p></td><td>12 Quay Street</td></tr></table>"
    )
    html = page(f"<article><h1>{TITLE}</h1>{paras(BODY[:2])}{table}{paras(BODY[2:])}</article>")
    lines = extract(html)
    assert any(line.startswith("| Central library |") for line in lines)
    assert "Marrow Valley" not in lines  # not a paragraph of its own
    assert all(p in lines for p in BODY)


def test_unwrapping_keeps_every_piece_of_text_once() -> None:
    body = etree.fromstring(
        "<body><p>Before.</p><table><row><cell>Menu one</cell><cell>Menu two</cell></row>"
        "<row><cell>Lead in.<head>The story</head><p>First paragraph of the story, long enough"
        " to be one.</p>after it<p>Second paragraph of the story, which goes on for a while "
        "more, as stories do, with more words than a data cell would ever hold.</p></cell>"
        "</row></table>tail of the table</body>"
    )
    lines = [line for line, _ in body_lines(body)]
    assert lines == [
        "Before.", "Menu one", "Menu two", "Lead in.", "The story",
        "First paragraph of the story, long enough to be one.", "after it",
        "Second paragraph of the story, which goes on for a while more, as stories do, with "
        "more words than a data cell would ever hold.",
        "tail of the table",
    ]  # fmt: skip
    again = [line for line, _ in body_lines(etree.fromstring(etree.tostring(body)))]
    assert again == lines  # the unwrapped tree prints the same


def test_a_nested_layout_table_is_unwrapped_from_the_inside_out() -> None:
    story = "".join(
        f"<p>Paragraph {i} of the story, with enough words to be prose.</p>" for i in range(5)
    )
    body = etree.fromstring(
        f"<body><table><row><cell><table><row><cell>Menu</cell><cell>{story}</cell></row>"
        "</table></cell></row></table></body>"
    )
    lines = [line for line, _ in body_lines(body)]
    assert lines == [
        "Menu",
        *(f"Paragraph {i} of the story, with enough words to be prose." for i in range(5)),
    ]
