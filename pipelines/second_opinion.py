"""A second opinion on where the article is: readability's answer for the same page.

trafilatura's own cascade asks readability (its bundled port of readability-lxml) on every page
and throws the answer away unless it replaces trafilatura's. The project runs trafilatura
without that cascade (``fast``) and asks readability once, here, so that one answer serves twice:

- **fallback** (:func:`prefer_second`): trafilatura's own rule for taking readability's text
  instead: trafilatura found nothing, or readability found more than twice as much (and not a
  JSON blob), or trafilatura's result is a table dump with no paragraph while readability found
  prose. Without it the fast mode would lose the pages the cascade rescues.
- **agreement** (:func:`trim_to_agreement`, the ``agreement`` rule of ``pipelines.article``):
  two extractors built on different ideas (trafilatura: rules over the cleaned tree; readability:
  the best-scoring block and its siblings) seldom agree on boilerplate. When readability's article
  covers most of trafilatura's text, they saw the same article; what trafilatura printed *after*
  the last paragraph the two share is what its wider net pulled in below the article: teaser
  lists, footers, reader comments, a layout table's other cells. That tail is dropped. The head
  is left alone: readability often misses a standfirst or a headline the body starts with.
  When readability's article covers less than half, it chose another block (a sidebar, a
  fragment), its opinion is not taken.

Paragraphs are compared by their 4-word shingles (case-folded ``\\w+`` runs), so a paragraph
counts as shared when most of its word sequences are in readability's text, whatever the markup
did to spacing or punctuation. Reads no settings; pure functions, no Scrapy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from typing import NamedTuple

from lxml import html as lxml_html
from trafilatura.external import try_readability

from pipelines.cleaning import normalize_text

logger = logging.getLogger(__name__)

_WORDS = re.compile(r"\w+")
_SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\u00bb]*$")
_SHINGLE = 4
_BLOCKS = (
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "td", "th", "dd",
    "dt", "tr", "br", "section", "article", "figure", "figcaption", "ul", "ol", "table",
)  # fmt: skip
SHARED_MIN = 0.5  # a paragraph is shared when more than this share of its shingles is
COVER_MIN = 0.5  # readability saw the same article when it shares this share of the text
MUCH_LONGER = 2  # trafilatura's fallback rule: the other text this many times as long wins
PROSE_MIN = 500  # ...or this long, where trafilatura's result is a table dump
INSIDE_MIN = 0.9  # readability's article lies inside trafilatura's text: this share of it...
PART_MIN = 0.25  # ...is at least this part of trafilatura's text...
PROSE_SHARE = 0.7  # ...and less of the rest than this is in lines ending as sentences end


def readability_paragraphs(tree: lxml_html.HtmlElement) -> list[str]:
    """readability's article for the page, as paragraphs. It mutates the tree (as readability
    does): call it last."""
    article = try_readability(tree)
    if article is None or len(article) == 0:
        return []
    # every block on lines of its own, then all of its text (loose text in a <div> too)
    for el in article.iter(*_BLOCKS):
        el.text = "\n" + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    lines = (normalize_text(t) for t in article.text_content().split("\n"))
    return [line for line in lines if line]


def prefer_second(paragraphs: Sequence[str], body: object, second: Sequence[str]) -> bool:
    """trafilatura's own rule (``external._prefer_readability``) for taking readability's
    text: `body` is trafilatura's result tree (``Document.body``) or None."""
    mine, theirs = sum(map(len, paragraphs)), sum(map(len, second))
    if not theirs or theirs == mine:
        return False
    if mine == 0:
        return True
    if mine > MUCH_LONGER * theirs:
        return False
    if theirs > MUCH_LONGER * mine and not second[0].startswith("{"):
        return True
    if theirs > PROSE_MIN and isinstance(body, lxml_html.etree._Element):
        paras = len(body.findall(".//p"))
        return not body.xpath(".//p//text()") or len(body.findall(".//table")) > paras
    return False


def shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.casefold())
    if len(words) < _SHINGLE:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def closeness(paragraphs: Sequence[str], reference: str) -> float:
    """F1 of `paragraphs` against a `reference` text by shared shingles (0 when either is empty)."""
    mine = set().union(*(shingles(p) for p in paragraphs)) if paragraphs else set()
    theirs = shingles(reference)
    shared = len(mine & theirs)
    return 2 * shared / (len(mine) + len(theirs)) if shared else 0.0


class Agreement(NamedTuple):
    """How readability's article lies against trafilatura's paragraphs."""

    covered: float  # share of trafilatura's characters in paragraphs readability shares
    start: int  # index of the first shared paragraph (0 if none)
    end: int  # index after the last shared paragraph (0 if none)
    inside: float  # share of readability's shingles that trafilatura's text has too
    extra_prose: float  # share of the characters of trafilatura's paragraphs readability does
    # not share that are in lines ending as sentences end


def agreement(paragraphs: Sequence[str], second: Sequence[str]) -> Agreement:
    """Where readability's article (`second`) and trafilatura's paragraphs agree."""
    if not paragraphs or not second:
        return Agreement(0.0, 0, 0, 0.0, 0.0)
    theirs: set[tuple[str, ...]] = set().union(*(shingles(p) for p in second))
    mine: set[tuple[str, ...]] = set()
    covered, start, end, extra, prose = 0, -1, 0, 0, 0
    for i, para in enumerate(paragraphs):
        own = shingles(para)
        mine |= own
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
        inside=len(theirs & mine) / max(len(theirs), 1),
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
    story. Other paragraphs before it stay (a standfirst, a byline, the headline the body
    starts with: readability often leaves those out)."""
    return [
        p
        for i, p in enumerate(paragraphs[:end])
        if i >= start or not (i in cells or p.startswith("|"))
    ]
