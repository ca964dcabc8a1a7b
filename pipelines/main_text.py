"""The article's paragraphs: trafilatura (fast) and readability's second opinion, reconciled.

:func:`main_text` runs trafilatura without its readability/justext cascade (``fast``), prints
its result tree with layout tables unwrapped (:mod:`pipelines.body_text`), asks readability once
(:mod:`pipelines.second_opinion`) and decides between them: the same article trimmed to where
they agree, readability's where it found much more or where trafilatura's is the page around
it, the page's JSON-LD ``articleBody`` where they disagree. trafilatura's whole cascade runs
instead where its fast result is weak by its own measures, or a menu nobody vouches for. Reads
no settings; trafilatura's options are built once per process and bias.
"""

from __future__ import annotations

from copy import deepcopy

import trafilatura
from lxml import html as lxml_html
from trafilatura.external import SANITIZED_XPATH
from trafilatura.settings import Document, Extractor

from pipelines import cleaning, second_opinion
from pipelines.body_text import body_lines

_OPTIONS: dict[tuple[str, bool], Extractor] = {}
# trafilatura's own measure of a weak result, as its core module has it (ESCALATION_MAX_LENGTH,
# ESCALATION_PAGE_SHARE, MIN_EXTRACTED_SIZE): copied, as they are not public
_WEAK_CHARS = 3000  # shorter than this...
_WEAK_SHARE = 0.2  # ...and than this share of the page's visible text
_MIN_CHARS = 250  # or shorter than this
_DUMP_LINE = 40  # a result whose paragraphs are this short on average is a menu, not prose


def _trafilatura(work: lxml_html.HtmlElement, url: str, favor: str, fast: bool) -> Document | None:
    doc = trafilatura.bare_extraction(work, options=_options(url, favor, fast))
    return doc if isinstance(doc, Document) else None


def _lines(found: Document | None, off: frozenset[str]) -> tuple[list[str], set[int]]:
    """The result's paragraphs, and the indexes of those that stood in a layout table's cell."""
    if found is None:
        return [], set()
    if "layout_tables" in off:
        return cleaning.normalize_paragraphs((found.text or "").splitlines()), set()
    paragraphs: list[str] = []
    cells: set[int] = set()
    for line, in_cell in body_lines(found.body):
        for para in cleaning.normalize_paragraphs((line,)):
            if in_cell:
                cells.add(len(paragraphs))
            paragraphs.append(para)
    return paragraphs, cells


def _weak(paragraphs: list[str], page: str) -> bool:
    """trafilatura's own measure of a short result, which makes its cascade look further:
    below its minimum, or short and covering little of the page (`page` and the paragraphs
    both measured compacted, :func:`cleaning.compact`)."""
    if sum(map(len, paragraphs)) < _MIN_CHARS:
        return True
    chars = sum(len(cleaning.compact(p)) for p in paragraphs)
    return chars < _WEAK_CHARS and chars < _WEAK_SHARE * len(page)


def main_text(
    work: lxml_html.HtmlElement,
    url: str,
    favor: str,
    off: frozenset[str],
    page: str,
    article_body: str,
    min_chars: int,
) -> list[str]:
    """The article's paragraphs, from trafilatura (fast) and readability's second opinion
    (:mod:`pipelines.second_opinion`), or trafilatura's whole cascade where its fast result is
    weak, unclean, or a menu nobody vouches for."""
    found = _trafilatura(work, url, favor, fast=True)
    # trafilatura's own structural doubts, asked of its tree before layout tables are unwrapped
    body = found.body if found is not None else None
    dump = second_opinion.table_dump(body)
    unclean = body is not None and bool(body.xpath(SANITIZED_XPATH))
    paragraphs, cells = _lines(found, off)
    full = unclean or _weak(paragraphs, page)
    if not full:
        second = cleaning.normalize_paragraphs(
            second_opinion.readability_paragraphs(deepcopy(work))  # it rewrites its input
        )
        seen = second_opinion.agreement(paragraphs, second)
        if seen.covered >= second_opinion.COVER_MIN:  # the same article
            if second_opinion.prefer_second(
                paragraphs, second, dump=dump, recall=favor == "recall"
            ):
                return second  # readability found much more of it
            if "agreement" not in off:
                return second_opinion.trim_to_agreement(paragraphs, seen.start, seen.end, cells)
            return paragraphs
        if len(article_body) >= min_chars:  # different articles: the page's own account says
            theirs = second_opinion.coverage(second, article_body)
            if theirs > second_opinion.coverage(paragraphs, article_body):
                return second
            return paragraphs
        if "agreement" not in off and second_opinion.found_inside(paragraphs, second, seen):
            return second  # trafilatura's is the page around readability's article
        # no word from the page: trafilatura's stands, unless it is a dump of short lines
        # (menus, link lists: text density below a prose line's); then its cascade decides
        full = sum(map(len, paragraphs)) < _DUMP_LINE * len(paragraphs)
    if full:  # trafilatura's whole cascade (readability, justext, its recall retry)
        return _lines(_trafilatura(work, url, favor, fast=False), off)[0]
    return paragraphs


def _options(url: str, favor: str, fast: bool = True) -> Extractor:
    """trafilatura's options, built once per process and bias: its defaults but comments, links
    and images (the text file is the article's prose) and metadata (:mod:`pipelines.metadata`
    reads it faster). Tables stay on, as trafilatura has them: many pages still lay their
    story out in table cells, and with tables off trafilatura loses the whole article there.
    ``fast``: without trafilatura's readability/justext cascade, whose readability answer
    :mod:`pipelines.second_opinion` asks for itself; the cascade runs only where the fast
    result is weak. Only the URL changes between pages."""
    options = _OPTIONS.get((favor, fast))
    if options is None:
        options = _OPTIONS[favor, fast] = Extractor(
            output_format="python", comments=False, tables=True, links=False, images=False,
            formatting=False, with_metadata=False, precision=favor == "precision",
            recall=favor == "recall", fast=fast,
        )  # fmt: skip
    options.url = url
    return options
