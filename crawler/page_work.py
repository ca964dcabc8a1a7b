"""What a page worker makes of one HTML page: every per-page decision, on one parse.

:func:`analyse_page` runs in a worker process (:class:`~pipelines.worker_pool.WorkerPool`) on a
:class:`PageJob` (the body's bytes, the charset the crawl chose, what the spider knows of the
page) and returns a small picklable :class:`PageResult`. The page is decoded and parsed once
(:func:`pipelines.article.parse_html`) and that one tree is read, in this order, by:

1. the soft-failure judge (:func:`crawler.soft_failures.judge`), with the outlet's not-found
   fingerprint: an error, block or challenge page ends here;
2. the article signal (:func:`crawler.discovery.article_signal`), when the outlet's ``allow``
   rules do not decide by the URL;
3. link extraction (Scrapy's ``LinkExtractor``, over the same tree), kept to the outlet's hosts
   and outside its ``deny`` rules;
4. the page requisites (:func:`crawler.requisite_links.requisites_in`);
5. last, since it changes the tree, the article text
   (:func:`pipelines.article.extract_from_tree`), for an article page only.

A user's ``EXTRACT_FUNCTION`` (not the project's) is called with the page's bytes, as its
signature says, after the decisions above. :func:`probe_fingerprint` reads a probe's answer
(:mod:`crawler.probes`) the same way. Pure functions of their arguments; no Scrapy engine, no
settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import html as lxml_html
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.selector import Selector

from crawler.discovery import article_signal
from crawler.outlets import OutletConfig
from crawler.requisite_links import Requisite, requisites_in
from crawler.soft_failures import KEEP, NotFoundFingerprint, Verdict, judge
from pipelines.article import ArticleText, NoArticle, extract_from_tree, parse_html

ALL = "all"  # PageJob.requisites: read the requisites of any page
ARTICLES = "articles"  # ... of article pages only

_links: LinkExtractor | None = None  # built once per worker process


@dataclass(frozen=True)
class PageJob:
    url: str  # the URL that answered with the page
    body: bytes
    content_type: str | None
    encoding: str | None  # the charset the crawl decoded the page in (CharsetMiddleware)
    urls: tuple[str, ...] = ()  # asked for, each redirect, answered: the soft-failure judge's
    judge: bool = False  # judge soft failures (the retry middleware asks)
    hub: bool = False  # a start page (the judge treats the probe's landing page apart)
    fingerprint: NotFoundFingerprint | None = None
    article_by_url: bool | None = None  # the outlet's allow rules on the URL; None: undecided
    feed_entry: bool = False  # a feed listed it: an article when the page does not say no
    extract: bool = True  # read an article page's text
    scope: OutletConfig | None = None  # follow links inside this outlet; None: no links
    requisites: str | None = None  # ALL, ARTICLES or None
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    min_chars: int = 200
    # a user's EXTRACT_FUNCTION, called with the bytes; None: the project's, on the tree
    extract_fn: Callable[..., ArticleText] | None = None
    extract_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageResult:
    verdict: Verdict = KEEP  # a soft failure ends the reading there
    article: str | None = None  # why the page is an article (allow, og:type, feed…), or None
    links: tuple[str, ...] = ()  # to follow, in the outlet's scope, each once
    requisites: tuple[Requisite, ...] | None = None  # None: not read
    text: ArticleText | None = None
    no_text: tuple[str, str] | None = None  # (reason, detail) of an article without text
    error: bool = False  # no_text is the extractor's exception, not a property of the page
    failed: tuple[str, str] | None = None  # (reason, detail): the worker died or hung on it


def _link_extractor() -> LinkExtractor:
    global _links
    if _links is None:
        _links = LinkExtractor(unique=True)
    return _links


def _article_reason(job: PageJob, root: lxml_html.HtmlElement | None) -> str | None:
    if job.article_by_url is not None:
        return "allow" if job.article_by_url else None
    if root is not None and (signal := article_signal(root)):
        return signal
    return "feed" if job.feed_entry else None


def _parse(job: PageJob) -> tuple[lxml_html.HtmlElement | None, NoArticle | None]:
    """The tree, and why the page has no text to read if it has none (a page too garbled for
    text still has links)."""
    try:
        return parse_html(job.body, job.content_type, job.encoding), None
    except NoArticle as exc:
        if exc.reason != "decode_error":
            return None, exc
        try:
            return parse_html(job.body, job.content_type, job.encoding, strict=False), exc
        except NoArticle:
            return None, exc


def _links_of(job: PageJob, root: lxml_html.HtmlElement) -> tuple[str, ...]:
    assert job.scope is not None
    scope = job.scope
    # LinkExtractor reads a response's selector: one over the tree parsed already
    response = HtmlResponse(job.url, body=job.body, encoding=job.encoding or "utf-8")
    response._cached_selector = Selector(root=root, type="html")
    return tuple(
        link.url
        for link in _link_extractor().extract_links(response)
        if scope.owns(link.url) and not scope.denied(link.url)
    )


def analyse_page(job: PageJob) -> PageResult:
    """Every decision on one page, from one parse (see the module's docstring)."""
    root, unreadable = _parse(job)
    if root is not None and job.judge:
        verdict = judge(root, job.fingerprint, job.urls, hub=job.hub)
        if verdict.reason:
            return PageResult(verdict=verdict)
    else:
        verdict = KEEP
    article = _article_reason(job, root)
    links = _links_of(job, root) if root is not None and job.scope is not None else ()
    requisites = None
    if root is not None and (job.requisites == ALL or (job.requisites and article)):
        requisites = tuple(requisites_in(root, job.url))
    text, no_text, error = None, None, False
    if article and job.extract:
        try:
            if unreadable is not None:
                raise unreadable
            if job.extract_fn is not None:
                text = job.extract_fn(job.body, job.url, job.content_type, **job.extract_kwargs)
            else:
                assert root is not None
                text = extract_from_tree(root, job.url, drop=job.drop, keep=job.keep,
                                         min_chars=job.min_chars)  # fmt: skip
        except NoArticle as exc:
            no_text = (exc.reason, exc.detail)
        except Exception as exc:  # a bug or a page the extractor chokes on: one page
            no_text, error = ("extraction_error", f"{type(exc).__name__}: {exc}"[:500]), True
    return PageResult(verdict, article, links, requisites, text, no_text, error)


def probe_fingerprint(
    body: bytes, content_type: str | None, encoding: str | None, status: int, urls: list[str]
) -> NotFoundFingerprint:
    """A probe's answer as its outlet's not-found fingerprint (:mod:`crawler.probes`)."""
    try:
        root = parse_html(body, content_type, encoding, strict=False)
    except NoArticle:
        root = None
    return NotFoundFingerprint.from_page(root, status, urls)
