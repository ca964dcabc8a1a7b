"""A second opinion on where the article is: readability's answer for the same page.

trafilatura's own cascade asks readability (its bundled port of readability-lxml) on most pages
and throws the answer away unless it replaces trafilatura's. The project runs trafilatura
without that cascade (``fast``) and asks readability itself, so that one answer serves several
decisions of ``pipelines.article``:

- **they agree** (readability's article holds at least COVER_MIN of trafilatura's text): the
  same article. What trafilatura printed *after* the last paragraph the two share is what its
  wider net pulled in below the article (teaser lists, footers, reader comments, the next
  story) and goes, and so do tables above the first shared one (:func:`trim_to_agreement`, the
  ``agreement`` rule). Where readability found more than twice as much of it, its text is taken
  (:func:`prefer_second`, trafilatura's own rule, without which the fast mode would lose the
  pages its cascade rescues).
- **they disagree**: readability's article is taken when it lies inside trafilatura's text and
  what trafilatura has beyond it is mostly not sentences (:func:`found_inside`: a table-laid
  page taken whole); ``pipelines.article`` settles the other cases.

Two extractors built on different ideas (trafilatura: rules over the cleaned tree; readability:
the best-scoring block and its siblings) seldom agree on boilerplate, which is why their
agreement is a better end marker than either alone. readability reads the page as the project
pruned it, without the extra prunes trafilatura's cascade gives it (appended-article and comment
containers): measured on the dev set, they change nothing.

Texts are compared by 4-word shingles (case-folded ``\\w+`` runs), so a paragraph counts as
shared when most of its word sequences are in readability's text, whatever the markup did to
spacing, punctuation or table cells. Unspaced scripts (Chinese, Japanese) make a whole clause one
"word": there a paragraph matches whole or not at all. Reads no settings; pure functions, no
Scrapy. Relies on two trafilatura internals, ``external.try_readability`` and the structure of
its result tree (``p``, ``table``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import NamedTuple

from lxml import etree
from lxml import html as lxml_html
from trafilatura.external import try_readability

from pipelines.cleaning import normalize_text, word_shingles

_WORDS = re.compile(r"\w+")
# a line that ends as a sentence ends, closing quotes and brackets after the mark allowed
_SENTENCE_END = re.compile(
    "[.!?\u2026\u3002\uff01\uff1f\u0964\u061f][\"'\u201d\u2019)\u00bb\u300d]*$"
)
_SHINGLE = 4
_BLOCKS = (
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "td", "th", "dd",
    "dt", "tr", "br", "section", "article", "figure", "figcaption", "ul", "ol", "table",
)  # fmt: skip
SHARED_MIN = 0.5  # a paragraph is shared when more than this share of its shingles is
COVER_MIN = 0.5  # readability saw the same article when it shares this share of the text
MUCH_LONGER = 2  # trafilatura's fallback rule: the other text this many times as long wins
RECALL_LONGER = 1.5  # ...and in its recall mode this many times
PROSE_MIN = 500  # ...or this long, where trafilatura's result is a table dump
INSIDE_MIN = 0.9  # readability's article lies inside trafilatura's text: this share of it...
PART_MIN = 0.25  # ...is at least this part of trafilatura's text...
PROSE_SHARE = 0.7  # ...and less of the rest than this is in lines ending as sentences end


def readability_paragraphs(tree: lxml_html.HtmlElement) -> list[str]:
    """readability's article for the page, as paragraphs. readability rewrites the tree it is
    given: pass a copy if the tree is needed afterwards."""
    article = try_readability(tree)
    if article is None or len(article) == 0:
        return []
    # every block on lines of its own, then all of its text (loose text in a <div> too)
    for el in article.iter(*_BLOCKS):
        el.text = "\n" + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    lines = (normalize_text(t) for t in article.text_content().split("\n"))
    return [line for line in lines if line]


def table_dump(body: etree._Element | None) -> bool:
    """trafilatura's result is "structurally deficient" by its own measure: no paragraph text,
    or more tables than paragraphs. Ask before its layout tables are unwrapped."""
    if body is None:
        return False
    return not body.xpath(".//p//text()") or len(body.findall(".//table")) > len(
        body.findall(".//p")
    )


def prefer_second(
    paragraphs: Sequence[str], second: Sequence[str], *, dump: bool = False, recall: bool = False
) -> bool:
    """trafilatura's own rule (``external._prefer_readability``) for taking readability's text
    instead of its own: its own is empty, or readability's is more than twice as long (1.5
    times in `recall` mode) and not a JSON blob, or its own is a table `dump`
    (:func:`table_dump`) while readability found prose."""
    mine, theirs = sum(map(len, paragraphs)), sum(map(len, second))
    if not theirs or theirs == mine:
        return False
    if mine == 0:
        return True
    if mine > MUCH_LONGER * theirs:
        return False
    longer = RECALL_LONGER if recall else MUCH_LONGER
    if theirs > longer * mine and not second[0].startswith("{"):
        return True
    return theirs > PROSE_MIN and dump


def shingles(text: str) -> frozenset[str]:
    """The text's runs of four case-folded words (the whole text, if it has fewer)."""
    return word_shingles(_WORDS.findall(text.casefold()), _SHINGLE)


def coverage(paragraphs: Sequence[str], reference: str) -> float:
    """The share of `reference`'s shingles that `paragraphs` hold (0 when either is empty):
    how much of the page's own account of its text (JSON-LD ``articleBody``) a candidate
    has. A short or truncated ``articleBody`` (a teaser) is held by both, a tie."""
    theirs = shingles(reference)
    mine = shingles("\n".join(paragraphs))
    return len(mine & theirs) / len(theirs) if theirs else 0.0


class Agreement(NamedTuple):
    """How readability's article lies against trafilatura's paragraphs."""

    covered: float  # share of trafilatura's characters in paragraphs readability shares
    start: int  # index of the first shared paragraph (0 if none)
    end: int  # index after the last shared paragraph (0 if none)
    inside: float  # share of readability's text (its shingles) that trafilatura's has too
    extra_prose: float  # share of the characters of trafilatura's paragraphs readability does
    # not share that are in lines ending as sentences end


def agreement(paragraphs: Sequence[str], second: Sequence[str]) -> Agreement:
    """Where readability's article (`second`) and trafilatura's paragraphs agree. Both are
    taken as one text each, so word runs across lines match too: readability prints a table
    cell per line where trafilatura prints a row per line."""
    if not paragraphs or not second:
        return Agreement(0.0, 0, 0, 0.0, 0.0)
    theirs = shingles("\n".join(second))
    covered, start, end, extra, prose = 0, -1, 0, 0, 0
    for i, para in enumerate(paragraphs):
        own = shingles(para)
        if own and len(own & theirs) > SHARED_MIN * len(own):
            covered, end = covered + len(para), i + 1
            start = i if start < 0 else start
        else:
            extra += len(para)
            prose += len(para) if _SENTENCE_END.search(para) else 0
    return Agreement(
        covered=covered / max(sum(map(len, paragraphs)), 1),
        start=max(start, 0),
        end=end,
        inside=len(theirs & shingles("\n".join(paragraphs))) / max(len(theirs), 1),
        extra_prose=prose / max(extra, 1),
    )


def found_inside(paragraphs: Sequence[str], second: Sequence[str], seen: Agreement) -> bool:
    """Readability's article is the article although the two disagree (it covers less than
    COVER_MIN of trafilatura's text): it lies inside trafilatura's text (INSIDE_MIN of it), is
    a good part of it (PART_MIN), and what trafilatura has beyond it is mostly not sentences
    (under PROSE_SHARE of its text in lines ending as sentences end: menus, teasers,
    headlines, datelines), not the paragraphs of a story or the steps of a how-to that
    readability cut short."""
    mine, theirs = sum(map(len, paragraphs)), sum(map(len, second))
    return (
        seen.inside >= INSIDE_MIN and theirs >= PART_MIN * mine and seen.extra_prose < PROSE_SHARE
    )


def trim_to_agreement(
    paragraphs: Sequence[str], start: int, end: int, cells: Collection[int] = ()
) -> list[str]:
    """The article as the two extractors agree on it (`start`, `end` from :func:`agreement`):
    nothing after the last shared paragraph, and before the first one nothing from a table:
    neither a row (trafilatura prints one as "| cell | cell |") nor a layout table's cell
    (`cells`: their indexes), the navigation and teasers a table-laid page puts above its
    story; a byline in a cell of its own goes with them (the author is in the metadata; a
    standfirst the page marks comes back with the ``lead`` rule). Other paragraphs before it
    stay (a standfirst, a byline, the headline the body starts with: readability often
    leaves those out)."""
    return [
        p
        for i, p in enumerate(paragraphs[:end])
        if i >= start or not (i in cells or p.startswith("|"))
    ]
