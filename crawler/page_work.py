"""What a page worker makes of one HTML page: every per-page decision, on one parse.

:func:`analyse_page` runs in a worker process (:class:`~pipelines.worker_pool.WorkerPool`) on a
:class:`PageJob` (the body's bytes, the charset the crawl chose, what the spider knows of the
page) and returns a small picklable :class:`PageResult`. The page is decoded and parsed once
(:func:`pipelines.article.parse_html`) and that one tree is read, in this order, by:

1. the soft-failure judge (:func:`pipelines.error_pages.judge`), with the outlet's not-found
   fingerprint: an error, block or challenge page ends here;
2. the article signal (:func:`pipelines.error_pages.article_signal`), when the outlet's ``allow``
   rules do not decide by the URL;
3. the links, as Scrapy's ``LinkExtractor`` makes them (its functions, over the same tree;
   each menu link made once per worker), kept to the outlet's hosts and outside its ``deny``
   rules, each in its fetch form and with its identity (:mod:`storage.url_identity`: tracking
   parameters and fragment removed, but the outlet's ``keep_params``; the canonical URL), one
   link per identity;
4. the page requisites (:func:`crawler.requisite_links.requisites_in`);
5. last, since it changes the tree, the article text
   (:func:`pipelines.article.extract_from_tree`), for an article page only.

A user's ``EXTRACT_FUNCTION`` (not the project's) is called with the page's bytes, as its
signature says, after the decisions above. :func:`probe_fingerprint` reads a probe's answer
(:mod:`crawler.probes`) the same way. Pure functions of their arguments; no Scrapy engine, no
settings.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

from lxml import etree
from lxml import html as lxml_html
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.url import url_has_any_extension
from w3lib.html import strip_html5_whitespace
from w3lib.url import safe_url_string

from crawler.outlets import OutletConfig
from crawler.requisite_links import Requisite, requisites_in
from pipelines.article import ArticleText, NoArticle, extract_from_tree, parse_html
from pipelines.error_pages import KEEP, NotFoundFingerprint, Verdict, article_signal, judge
from storage.url_identity import UrlForms

ALL = "all"  # PageJob.requisites: read the requisites of any page
ARTICLES = "articles"  # ... of article pages only

# what Scrapy's LinkExtractor reads by default: <a href>, <area href>, the first <base href>
_HREFS = etree.XPath("//a/@href | //area/@href", smart_strings=False)
_BASE_HREF = etree.XPath("//base/@href", smart_strings=False)
_LINK_SCHEMES = frozenset({"http", "https", "file", "ftp"})  # LinkExtractor's valid URLs
_DENY_EXTENSIONS = frozenset(f".{e}" for e in IGNORED_EXTENSIONS)
# "http://…": the href alone makes the URL ("http:story" is relative to an http page: urljoin)
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# (outlet, what the URL depends on, encoding, href): the link's forms if in the outlet's scope
_URLS: dict[tuple[str, str, str, str], Any] = {}
# what PageResult.link_stats counts, in the order of UrlForms' flags (spider/links/<name>)
LINK_STATS = ("tracking_removed", "fragment_removed", "params_kept")
_URL_CACHE_SIZE = 100_000  # per worker process (some 20 MB): then it starts again
_MISSING = object()


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
    links: tuple[str, ...] = ()  # to follow, in the outlet's scope, each once: as fetched
    identities: tuple[str, ...] = ()  # each link's identity (canonical URL), in that order
    # (name, how many of the page's links): LINK_STATS that were not 0
    link_stats: tuple[tuple[str, int], ...] = ()
    requisites: tuple[Requisite, ...] | None = None  # None: not read
    text: ArticleText | None = None
    no_text: tuple[str, str] | None = None  # (reason, detail) of an article without text
    error: bool = False  # no_text is the extractor's exception, not a property of the page
    failed: tuple[str, str] | None = None  # (reason, detail): the worker died or hung on it

    def identified_links(self) -> list[tuple[str, str]]:
        """(fetch form, identity) of each link; a result made without identities (a test's)
        has each link as its own."""
        return list(zip(self.links, self.identities or self.links, strict=True))


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


def _link_url(base: str, page_url: str, encoding: str, href: str) -> str | None:
    """A link's URL as Scrapy's LinkExtractor (its defaults) makes it from an href, or None
    for one it would leave out (not http(s)/ftp/file, a file extension it ignores)."""
    try:
        url = urljoin(base, strip_html5_whitespace(href))
        url = urljoin(page_url, safe_url_string(url, encoding=encoding))
    except ValueError:
        return None  # a bogus link
    if url.split("://", 1)[0] not in _LINK_SCHEMES:
        return None
    if url_has_any_extension(urlparse(url), _DENY_EXTENSIONS):
        return None
    return url


def _cache_key(base: str, href: str) -> str | None:
    """What a link's URL depends on besides the href (see _links_of), or None when that is
    the whole base URL: not worth keeping."""
    href = href.lstrip(" \t\n\r\f")
    if _ABSOLUTE.match(href):
        return ""
    if href.startswith("/"):
        scheme, rest = base.split("://", 1) if "://" in base else ("", base)
        return scheme if href.startswith("//") else f"{scheme}://{rest.split('/', 1)[0]}"
    return None


def _links_of(job: PageJob, root: lxml_html.HtmlElement) -> tuple[dict[str, str], list[int]]:
    """The page's links (``<a href>``, ``<area href>``) as Scrapy's ``LinkExtractor(unique=
    True)`` gives them, in the outlet's scope, identity -> fetch form (the first link of each
    identity); and how many of its hrefs had each of LINK_STATS. The same menus come on every
    page of an outlet: a URL made from an absolute or root-relative href depends only on the
    page's origin, so it is made once per worker (the rest of a link's handling is a set
    lookup)."""
    assert job.scope is not None
    scope, page_url, encoding = job.scope, job.url, job.encoding or "utf-8"
    base = page_url
    for href in _BASE_HREF(root)[:1]:  # the first <base href> (Scrapy reads the first 4 KB)
        with contextlib.suppress(ValueError):  # a bogus one ("http://[x"): the page's URL
            base = safe_url_string(urljoin(page_url, strip_html5_whitespace(href)), encoding)
    links: dict[str, str] = {}
    counts = [0] * len(LINK_STATS)
    for href in dict.fromkeys(_HREFS(root)):  # each href once: a menu repeats its links
        key = _cache_key(base, href)
        cache = None if key is None else (scope.name, key, encoding, href)
        if cache is None or (kept := _URLS.get(cache, _MISSING)) is _MISSING:
            kept = None
            url = _link_url(base, page_url, encoding, href)
            if url is not None and scope.owns(url) and not scope.denied(url):
                with contextlib.suppress(ValueError):  # one w3lib cannot read: left out
                    kept = scope.url_forms(url)
            if cache is not None and (kept is not None or len(href) < 200):
                if len(_URLS) >= _URL_CACHE_SIZE:
                    _URLS.clear()
                _URLS[cache] = kept
        if isinstance(kept, UrlForms):
            links.setdefault(kept.identity, kept.fetch)
            for index, flag in enumerate(kept[2:]):
                counts[index] += flag
    return links, counts


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
    links: dict[str, str] = {}
    stats: tuple[tuple[str, int], ...] = ()
    if root is not None and job.scope is not None:
        links, counts = _links_of(job, root)
        stats = tuple((name, n) for name, n in zip(LINK_STATS, counts, strict=True) if n)
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
    return PageResult(
        verdict, article, links=tuple(links.values()), identities=tuple(links), link_stats=stats,
        requisites=requisites, text=text, no_text=no_text, error=error,
    )  # fmt: skip


def probe_fingerprint(
    body: bytes, content_type: str | None, encoding: str | None, status: int, urls: list[str]
) -> NotFoundFingerprint:
    """A probe's answer as its outlet's not-found fingerprint (:mod:`crawler.probes`)."""
    try:
        root = parse_html(body, content_type, encoding, strict=False)
    except NoArticle:
        root = None
    return NotFoundFingerprint.from_page(root, status, urls)
