"""Soft failures on hand-made pages, parsed as Scrapy parses them for the spider: each rule with
what it rejects and a realistic page it must keep."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.middlewares.retry import BackoffRetryMiddleware, RetryLater
from pipelines.error_pages import NotFoundFingerprint, Verdict, judge, soft_failure
from tests.helpers import finished, judging_spider, project_crawler

SECTIONS = ("News", "Politics", "Business", "Sport", "Culture", "Opinion", "Weather")
MENU = (
    "<header><a href='/'>The Riverside Courier</a><nav>"
    + "".join(f"<a href='/{s.lower()}'>{s}</a> " for s in SECTIONS)
    + "</nav></header>"
)
FOOTER = (
    "<footer><p>© 2026 The Riverside Courier, 12 Mill Lane. All rights reserved. Registered in"
    " England, company number 01234567.</p><a href='/privacy'>Privacy</a></footer>"
)
FIRE_TITLE = "Fire at 404 Main Street forces evacuation of three homes"
FIRE = (  # a brief of about 150 words, in two paragraphs
    "Firefighters were called to 404 Main Street shortly after six on Tuesday evening, when "
    "smoke was seen rising from the roof of a terraced house near the junction with Bridge "
    "Road. Three neighbouring homes were evacuated as a precaution while two crews from the "
    "Riverside station brought the blaze under control within forty minutes.",
    "Nobody was hurt. A spokesperson for the fire service said the fire is believed to have "
    "started in a kitchen on the ground floor and spread to the loft through a gap in the "
    "party wall. Residents of the evacuated homes spent the night with relatives and were "
    "allowed back on Wednesday morning once the structure had been checked. Main Street "
    "remained closed between Bridge Road and the market square until late on Tuesday, and "
    "buses were diverted along Canal Way.",
)
PERMIT_TITLE = "Access denied: council refuses permit for riverside music festival"
PERMIT = (
    "The planning committee voted six to two on Thursday night against a licence for the "
    "Riverside Sounds festival, which had hoped to bring three days of live music to the "
    "meadows below the old mill in August.",
    "Councillors cited the noise assessment, which found that residents of Weir Close would "
    "hear amplified music until eleven each night, and the lack of a plan for parking on the "
    "narrow lanes. The organisers said they were disappointed and would consider an appeal; "
    "a smaller, acoustic event in the market square is still planned for the same weekend.",
)


def tree(body: str, title: str = "The Riverside Courier", head: str = "") -> etree._Element:
    page = f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body}</body>"
    response = HtmlResponse("https://courier.example/x", body=page.encode(), encoding="utf-8")
    return response.selector.root


def paragraphs(texts: tuple[str, ...]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


def jsonld(kind: str, graph: bool = False) -> str:
    data: dict[str, object] = {"@context": "https://schema.org", "@type": kind, "headline": "x"}
    if graph:
        data = {"@context": "https://schema.org", "@graph": [{"@type": "WebSite"}, data]}
    return f"<script type='application/ld+json'>{json.dumps(data)}</script>"


# --- rule 1: a page with article signals is an article, whatever its headline says ----------


def test_a_brief_headlined_with_an_error_code_is_an_article() -> None:
    page = tree(
        f"{MENU}<main><article><h1>{FIRE_TITLE}</h1><p class=byline>By Sam Reed</p>"
        f"{paragraphs(FIRE)}</article></main>{FOOTER}",
        title=f"{FIRE_TITLE} | The Riverside Courier",
    )
    assert judge(page) == Verdict(kept="brief")  # "404" matched; its body outweighs it
    assert soft_failure(page) is None


def test_a_brief_headlined_access_denied_is_an_article_by_its_metadata() -> None:
    # no <article>, two paragraphs after the headline, a JSON-LD NewsArticle inside @graph
    body = f"{MENU}<div class=story><h1>{PERMIT_TITLE}</h1>{paragraphs(PERMIT)}</div>{FOOTER}"
    page = tree(body, title=PERMIT_TITLE, head=jsonld("ReportageNewsArticle", graph=True))
    assert judge(page) == Verdict(kept="brief")
    short = tree(f"<h1>{PERMIT_TITLE}</h1><p>{PERMIT[0]}</p>", head=jsonld("NewsArticle"))
    assert judge(short) == Verdict(kept="json-ld")  # too short to be a brief: metadata says
    og = "<meta property='og:type' content='article'>"
    assert judge(tree(f"<h1>{PERMIT_TITLE}</h1><p>{PERMIT[0]}</p>", head=og)).kept == "og:type"


def test_an_interview_quoting_an_error_is_an_article_by_its_paragraphs() -> None:
    title = "\u201cThe page cannot be found\u201d: an archivist on the web that vanishes"
    qa = (
        ("Q: What got you interested in link rot?", "A: A reader wrote in asking for an article"
         " we had published in 2009, and every copy we linked to had gone."),
        ("Q: How much is lost?", "A: Of the links in our 2015 stories, about a third now lead"
         " nowhere, or to a page that says it cannot be found."),
        ("Q: What can a newsroom do?", "A: Archive as it publishes: keep its own pages, and a"
         " copy of what it links to, the day it links to it."),
    )  # fmt: skip
    body = "".join(f"<p><b>{q}</b></p><p>{a}</p>" for q, a in qa)
    page = tree(f"{MENU}<h1>{title}</h1>{body}{FOOTER}", title=title)
    assert judge(page) == Verdict(kept="paragraphs")


def test_a_not_found_template_with_menus_and_teasers_is_a_soft_404() -> None:
    teasers = "".join(
        f"<li><a href='/news/{i}'>Story {i}</a><p>A teaser of a popular story, long enough to"
        f" pass for a paragraph of prose on its own, number {i}.</p></li>"
        for i in range(6)
    )
    page = tree(
        f"{MENU}<main><h1>Page not found</h1><p>Sorry, the page you were looking for does not"
        f" exist or has been moved.</p><p>Try the search box or the sections above.</p>"
        f"<section><h2>Most read</h2><ul>{teasers}</ul></section></main>"
        f"<aside><p>Sign up for our morning newsletter: the day's stories before breakfast, in"
        f" your inbox.</p></aside>{FOOTER}",
        title="Page not found | The Riverside Courier",
    )
    assert judge(page) == Verdict("soft_404")  # teasers and sidebars are no article's prose


def test_a_challenge_page_is_blocked() -> None:
    page = tree(
        "<div class=main-wrapper><h1 class=zone-name-title>courier.example</h1>"
        "<h2>Checking if the site connection is secure</h2><noscript><div>Enable JavaScript and"
        " cookies to continue</div></noscript><p>courier.example needs to review the security"
        " of your connection before proceeding.</p></div><div class=footer>Ray ID: 8a1b2c3d4e5f"
        " · Performance &amp; security by Cloudflare</div>",
        title="Just a moment...",
    )
    assert judge(page) == Verdict("blocked")


def test_a_paywall_interstitial_is_blocked_despite_its_article_metadata() -> None:
    head = jsonld("NewsArticle") + "<meta property='og:type' content='article'>"
    page = tree(
        f"{MENU}<article><h1>Inside the mill: how the town's oldest building was saved</h1>"
        "<p>When the roof of the old mill fell in during the storms of 2019, few thought the"
        " building would stand another winter.</p><div class=paywall><h2>This story is for"
        " subscribers</h2><p>Subscribe to continue reading.</p><form><a href='/subscribe'>"
        "Subscribe for £1 a week</a><p>Already a subscriber? Log in</p></form></div></article>"
        f"{FOOTER}",
        head=head,
    )
    assert judge(page) == Verdict("blocked")  # a teaser and a wall: not the article


def test_a_headline_only_match_without_signals_stays_an_error_page() -> None:
    page = tree("<h1>Access denied</h1><p>You don't have permission to view this page.</p>")
    assert judge(page) == Verdict("blocked")


# --- rule 2: the outlet's own answer for a URL that cannot exist ------------------------------

PROBE_URL = "https://courier.example/newsarchiver-probe-0123abcd"


def missing(path: str, ref: int, extra: str = "", head: str = "") -> etree._Element:
    """The outlet's "missing" template: no pattern word in it, the path echoed, a reference."""
    return tree(
        f"{MENU}<main><h1>Nothing to read here</h1><p>We looked for {path} and came back"
        f" empty-handed.</p><p>Try the front page, or one of the sections above.</p>"
        f"<p class=ref>Reference {ref}</p>{extra}</main>{FOOTER}",
        head=head,
    )


def probe_answer(status: int = 200, head: str = "") -> NotFoundFingerprint:
    page = missing("/newsarchiver-probe-0123abcd", 91823, head=head)
    return NotFoundFingerprint.from_page(page, status, [PROBE_URL])


def test_a_page_like_the_outlets_not_found_answer_is_a_soft_404() -> None:
    fingerprint = probe_answer()
    assert fingerprint.usable
    url = "https://courier.example/news/2024/05/ferry-timetable"
    page = missing("/news/2024/05/ferry-timetable", 17)
    assert soft_failure(page) is None  # no pattern word: the patterns let it through
    assert judge(page, fingerprint, [url]) == Verdict("soft_404", fingerprint=True)
    # a story that redirected to the missing page is one too
    moved = [url, "https://courier.example/missing"]
    assert judge(missing("/missing", 3), fingerprint, moved).fingerprint


def test_pages_unlike_the_not_found_answer_are_kept() -> None:
    fingerprint = probe_answer()
    url = ["https://courier.example/news/fire"]
    article = tree(
        f"{MENU}<article><h1>{FIRE_TITLE}</h1>{paragraphs(FIRE)}</article>{FOOTER}",
        title=FIRE_TITLE,
    )
    assert judge(article, fingerprint, url) == Verdict(kept="brief")
    hub = tree(
        f"{MENU}<h1>Sport</h1><ul>"
        + "".join(f"<li><a href='/sport/{i}'>Match report {i}</a></li>" for i in range(30))
        + f"</ul><p>Results, fixtures and reports from the valley's clubs.</p>{FOOTER}"
    )
    assert judge(hub, fingerprint, ["https://courier.example/sport"]) == Verdict()
    # where the probe landed, asked for itself (a probe redirected to the home page)
    landed = NotFoundFingerprint.from_page(missing("/", 1), 200, [PROBE_URL, "https://c.ex/"])
    assert judge(missing("/", 2), landed, ["https://c.ex/"]) == Verdict()
    # ...or a start page reached there through a redirect (http -> https), which a story is not
    moved = ["http://c.ex/", "https://c.ex/"]
    assert judge(missing("/", 2), landed, moved, hub=True) == Verdict()
    assert judge(missing("/", 2), landed, ["https://c.ex/story", "https://c.ex/"]).fingerprint


def test_an_honest_404_probe_leaves_the_pattern_rules_alone() -> None:
    fingerprint = probe_answer(status=404)
    assert not fingerprint.usable
    page = missing("/news/x", 5)
    assert judge(page, fingerprint, ["https://courier.example/news/x"]) == Verdict()


def test_signals_the_not_found_template_carries_are_no_evidence() -> None:
    og = "<meta property='og:type' content='article'>"
    fingerprint = probe_answer(head=og)  # a theme that says og:type=article on every page
    assert fingerprint.signals == {"og:type"}
    page = missing("/news/y", 6, head=og)
    assert judge(page, fingerprint, ["https://courier.example/news/y"]).reason == "soft_404"
    # a JSON-LD NewsArticle the not-found page does not have still says "article"
    page = missing("/news/y", 6, head=og + jsonld("NewsArticle"))
    assert judge(page, fingerprint, ["https://courier.example/news/y"]) == Verdict()


# --- the retry middleware: stats and the spider's fingerprint ---------------------------------


def test_middleware_asks_the_spider_for_the_verdict_and_counts() -> None:
    from twisted.internet import reactor  # noqa: F401 - a reactor to schedule the retry on

    crawler = project_crawler()
    fingerprint = probe_answer()
    asked = judging_spider(crawler, fingerprint)
    mw = BackoffRetryMiddleware.from_crawler(crawler)
    meta = {"outlet": "courier", "kind": "page"}
    url = "https://courier.example/news/z"
    body = tree(f"{MENU}<article><h1>{FIRE_TITLE}</h1>{paragraphs(FIRE)}</article>")
    page = etree.tostring(body.getroottree())
    request = Request(url, meta=dict(meta))
    response = HtmlResponse(url, body=page, encoding="utf-8", request=request)
    assert finished(mw.process_response(request, response)) is response
    miss = etree.tostring(missing("/news/z", 8).getroottree())
    request = Request(url, meta=dict(meta, soft_failure="stale"))
    with pytest.raises(RetryLater, match="soft_404"):
        finished(mw.process_response(request, HtmlResponse(url, body=miss, encoding="utf-8")))
    for call in (c for _, _, c in mw._waiting.values()):
        call.cancel()
    stats = crawler.stats
    assert stats is not None
    assert stats.get_value("soft_failures/kept_article/brief") == 1
    assert stats.get_value("soft_failures/fingerprint_match") == 1
    # an answer after a soft failure is judged afresh: the mark of the attempt before goes
    request = Request(url, meta=dict(meta, soft_failure="soft_404"))
    response = HtmlResponse(url, body=page, encoding="utf-8", request=request)
    assert finished(mw.process_response(request, response)) is response
    assert "soft_failure" not in request.meta
    # requisites and pages marked dont_retry are not judged
    for extra in ({"kind": "requisite"}, {"dont_retry": True}):
        request = Request(url, meta={**meta, **extra})
        finished(mw.process_response(request, HtmlResponse(url, body=miss, encoding="utf-8")))
    assert len(asked) == 3
