"""A synthetic news outlet for the throughput benchmark, served fast on loopback.

``N`` article pages of realistic weight (60-300 KB of HTML each) and ``ceil(N / 100)`` section
pages listing 100 articles each, every section page carrying a pager to all of them (so the whole
site is two link hops from ``/news/page/1``, within the spider's depth limit of 20). Every page,
section or article, has the site's mega-menu: some 300 links to sections, subsections, topics
and featured articles, plus a "trending" list of its own, all of them pages of the site (section
pages or articles that exist, so a crawl visits exactly the N articles and the section pages
whatever it follows, and dedups the rest) and a few links to other hosts that no crawl follows.
An article also has a header, share bars, a standfirst, 6-15 paragraphs, two photos of its own,
related-article teasers and a "more from the section" grid (other articles' photos), a most-read
list, a comments block with replies, a footer, inline CSS, analytics and consent scripts, JSON-LD
and an inline JSON app-state blob that fills the page to its size, as real outlets ship them.

Page requisites, for the crawl's "full + requisites" configuration: ``/static/site.css`` (shared
by every page; it names ``/static/bg.png``), ``/static/app.js`` (shared), and per article
``/img/<i>.jpg`` (its photo, also shown in other articles' teasers) and ``/img/<i>-2.jpg`` (a
second photo in its body): ``2 N + 3`` in all, each served here.

All text is synthetic: words from a fixed list, drawn with a RNG seeded by ``(seed, page
number)``, so a page is the same bytes every time it is asked for and nothing is kept in memory
but the site-wide menu.

The words are :mod:`bench.synthetic_text`'s; the server, in a process of its own, is
:class:`bench.site_server.SiteServer` (``python -m bench.site_server --pages 1000`` serves it
by hand).
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import random
from dataclasses import dataclass
from functools import cached_property

from bench.synthetic_text import FIRST_NAMES, LAST_NAMES, WORDS, SentencePool

PER_PAGE = 100
SECTIONS = ("World", "Politics", "Business", "Science", "Health", "Sport", "Culture", "Opinion")
MIN_ARTICLE_BYTES, MAX_ARTICLE_BYTES = 60_000, 300_000  # an article's size, drawn evenly
# the mega-menu: per section its page, subsections (section pages) and featured articles; then
# topics (section pages again) and the outlet on other hosts (never followed): ~300 links
MENU_SUBSECTIONS, MENU_FEATURED, MENU_TOPICS = 12, 12, 80
ELSEWHERE = ("facebook", "x", "instagram", "youtube", "tiktok", "linkedin", "newsletter", "shop")
TRENDING, MORE_FROM, MOST_READ = 20, 12, 10  # per-page lists of other articles
REPLIES = (0, 0, 0, 0, 0, 1, 1, 2)  # replies to one comment, drawn from these


def _head_scripts() -> str:
    """Analytics, a consent manager's vendor list and ad slots: inline scripts every page ships
    (the same on every page, ~9 KB)."""
    rng = random.Random(17)
    vendors = [{"id": n, "name": f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} Ltd",
                "purposes": rng.sample(range(1, 11), 4), "legIntPurposes": [2, 7],
                "cookieMaxAgeSeconds": rng.randrange(86_400, 31_536_000)}
               for n in range(60)]  # fmt: skip
    slots = [{"slot": f"/0000/synthcourier/{s.lower()}/{pos}", "sizes": [[300, 250], [728, 90]],
              "targeting": {"section": s.lower(), "pos": pos}}
             for s in SECTIONS for pos in ("top", "mid", "bottom")]  # fmt: skip
    return (
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
        "arguments)}gtag('js',new Date());gtag('config','G-000000');</script>"
        f"<script>window.__CONSENT__={json.dumps({'vendors': vendors})};</script>"
        f"<script>window.__AD_SLOTS__={json.dumps(slots)};googletag=window.googletag||"
        "{cmd:[]};googletag.cmd.push(function(){window.__AD_SLOTS__.forEach(function(s){"
        "googletag.defineSlot(s.slot,s.sizes).addService(googletag.pubads())})});</script>"
    )


HEAD_SCRIPTS = _head_scripts()


@dataclass(frozen=True)
class Site:
    pages: int
    seed: int = 1
    per_page: int = PER_PAGE

    @property
    def hubs(self) -> int:
        return max(1, math.ceil(self.pages / self.per_page))

    @cached_property
    def pool(self) -> SentencePool:
        return SentencePool(self.seed)

    # --- URLs ---------------------------------------------------------------------------------
    def hub_path(self, k: int) -> str:
        return f"/news/page/{k}"

    def article_path(self, i: int) -> str:
        return f"/news/{2025 - i % 3}/{i:06d}-{'-'.join(self.titles[i].lower().split()[:6])}"

    def title(self, i: int) -> str:
        rng = random.Random(self.seed * 1_000_003 + i * 7 + 1)
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 10))]
        return (" ".join(words)).capitalize() + f" ({i})"

    @cached_property
    def titles(self) -> list[str]:
        """Every article's title, drawn once: a page names ~50 other articles, each by its URL
        and its title, and drawing them afresh would cost more than the rest of the page."""
        return [self.title(i) for i in range(self.pages)]

    def summary(self, i: int) -> str:
        return self.pool.sentences[(i * 7919 + self.seed) % len(self.pool.sentences)]

    def _spread(self, k: int) -> int:
        """The k-th article of a list spread over the whole site."""
        return (k * 7919 + self.seed * 31) % self.pages

    def _link(self, i: int, cls: str = "") -> str:
        attr = f' class="{cls}"' if cls else ""
        return f'<a{attr} href="{self.article_path(i)}">{html.escape(self.titles[i])}</a>'

    # --- pages --------------------------------------------------------------------------------
    @cached_property
    def mega_menu(self) -> str:
        """The site-wide mega-menu, the same bytes on every page (~300 links): per section its
        page, its subsections and its featured stories; the topics; the outlet elsewhere. Every
        link inside the site is to a section page or an article that exists."""
        rng = random.Random(self.seed * 7_000_001)
        cols = []
        for n, section in enumerate(SECTIONS):
            subs = "".join(
                f'<li><a href="{self.hub_path(1 + (n * MENU_SUBSECTIONS + j) % self.hubs)}">'
                f"{rng.choice(WORDS).capitalize()}</a></li>"
                for j in range(MENU_SUBSECTIONS)
            )
            featured = "".join(
                f"<li>{self._link(self._spread(n * MENU_FEATURED + j), 'featured')}</li>"
                for j in range(MENU_FEATURED)
            )
            cols.append(
                f'<div class="mega-col"><h3><a href="{self.hub_path(1 + n % self.hubs)}">'
                f'{section}</a></h3><ul class="subsections">{subs}</ul>'
                f'<ul class="featured-list">{featured}</ul></div>'
            )
        topics = "".join(
            f'<li><a class="tag" href="{self.hub_path(1 + (t * 7) % self.hubs)}">'
            f"#{rng.choice(WORDS)}-{rng.choice(WORDS)}</a></li>"
            for t in range(MENU_TOPICS)
        )
        elsewhere = "".join(
            f'<li><a href="https://{host}.invalid/synthcourier" rel="noopener">{host}</a></li>'
            for host in ELSEWHERE
        )
        return (
            '<nav class="mega-menu" aria-label="All sections" hidden><div class="mega-cols">'
            f'{"".join(cols)}</div><div class="topics"><h3>Topics</h3><ul>{topics}</ul></div>'
            f'<ul class="elsewhere">{elsewhere}</ul></nav>'
        )

    def _nav(self, key: int) -> str:
        """Masthead, mega-menu, section bar and the page's own "trending" list."""
        items = "".join(
            f'<li><a href="{self.hub_path(1 + n % self.hubs)}">{s}</a></li>'
            for n, s in enumerate(SECTIONS)
        )
        trending = "".join(
            f"<li>{self._link(self._spread(key * 31 + d * 977))}</li>" for d in range(TRENDING)
        )
        return (
            '<header class="site-header"><div class="masthead"><a href="/news/page/1" '
            'class="logo"><svg width="180" height="32" aria-label="The Synthetic Courier">'
            '<path d="M0 0h180v32H0z" fill="#111"/></svg></a>'
            '<button class="menu-toggle" aria-label="Menu"><span class="icon icon-menu">'
            "</span> Menu</button>"
            f'<a class="subscribe" href="#subscribe">Subscribe</a></div>{self.mega_menu}'
            f'<nav class="main-nav" aria-label="Sections"><ul>{items}</ul></nav>'
            f'<div class="trending"><h2>Trending</h2><ul>{trending}</ul></div></header>'
        )

    def _footer(self) -> str:
        cols = "".join(
            f'<div class="footer-col"><h4>{s}</h4><ul>'
            + "".join(
                f'<li><a href="{self.hub_path(1 + (n * 3 + j) % self.hubs)}">{s} {j + 1}</a></li>'
                for j in range(6)
            )
            + "</ul></div>"
            for n, s in enumerate(SECTIONS)
        )
        return (
            f'<footer class="site-footer">{cols}<div class="legal"><p>© 2025 The Synthetic '
            "Courier. All rights reserved. Registered in nowhere under number 000000.</p>"
            '<p><a href="#privacy">Privacy</a> · <a href="#terms">Terms</a> · '
            '<a href="#cookies">Cookie settings</a></p></div></footer>'
        )

    def _head(self, title: str, og_type: str, extra: str = "") -> str:
        css = ".x{margin:0}" * 400  # inline critical CSS, as real templates ship it
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)} | The Synthetic Courier</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta property="og:type" content="{og_type}">'
            f'<meta property="og:title" content="{html.escape(title)}">'
            f'<meta property="og:site_name" content="The Synthetic Courier">{extra}'
            f'<link rel="stylesheet" href="/static/site.css"><style>{css}</style>'
            f'<script src="/static/app.js" defer></script>{HEAD_SCRIPTS}</head>'
        )

    def hub(self, k: int) -> bytes:
        first = (k - 1) * self.per_page
        teasers = "".join(
            f'<li class="teaser"><a class="teaser-link" href="{self.article_path(i)}">'
            f"<h3>{html.escape(self.titles[i])}</h3></a><p>{self.summary(i)}</p>"
            f'<span class="meta">{SECTIONS[i % len(SECTIONS)]}</span></li>'
            for i in range(first, min(first + self.per_page, self.pages))
        )
        pager = "".join(
            f'<a href="{self.hub_path(j)}"{" aria-current=page" if j == k else ""}>{j}</a> '
            for j in range(1, self.hubs + 1)
        )
        body = (
            f'<body class="section">{self._nav(-k)}<main><h1>Latest news, page {k}</h1>'
            f'<ul class="teasers">{teasers}</ul><nav class="pager">{pager}</nav></main>'
            f"{self._footer()}</body></html>"
        )
        return (self._head(f"Latest news, page {k}", "website") + body).encode()

    def _comments(self, rng: random.Random) -> str:
        """3-30 comments, some with replies, each with its buttons: a real thread's markup."""
        pick = self.pool.sentences

        def one(cls: str) -> str:
            who = f"{rng.choice(FIRST_NAMES)}{rng.randint(1, 99)}"
            return (
                f'<li class="{cls}"><div class="comment-meta"><span class="who">{who}</span> '
                f'<time datetime="2025-01-01T00:00:00Z">{rng.randint(1, 59)} min ago</time>'
                f"</div><p>{' '.join(rng.choice(pick) for _ in range(rng.randint(1, 2)))}</p>"
                f'<div class="comment-actions"><button class="like">Like '
                f'<span class="count">{rng.randint(0, 400)}</span></button>'
                '<button class="reply">Reply</button><button class="report">Report</button>'
                "</div>"
            )

        items = []
        for _ in range(rng.randint(3, 30)):
            replies = "".join(one("comment reply") + "</li>" for _ in range(rng.choice(REPLIES)))
            items.append(one("comment") + (f'<ol class="replies">{replies}</ol>' if replies else "")
                         + "</li>")  # fmt: skip
        return (
            '<section class="comments"><h2>Comments</h2><p class="policy">Comments are '
            f"moderated. Please keep it civil.</p><ol>{''.join(items)}</ol>"
            '<button class="more">Show more comments</button></section>'
        )

    def article(self, i: int) -> bytes:
        rng = random.Random(self.seed * 1_000_003 + i * 7)
        pick, quoted = self.pool.sentences, self.pool.quoted
        title = self.titles[i]
        section = SECTIONS[i % len(SECTIONS)]
        author = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        day = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        paragraphs = [
            " ".join(rng.choice(pick) for _ in range(rng.randint(3, 7)))
            for _ in range(rng.randint(6, 15))
        ]
        standfirst = rng.choice(pick) + " " + rng.choice(pick)
        second = (
            f'<figure class="inline"><img src="/img/{i}-2.jpg" alt="" loading="lazy">'
            f"<figcaption>{rng.choice(pick)}</figcaption></figure>"
        )
        body_html = "".join(
            f"<p>{p}</p>" + (second if n == 2 else "") for n, p in enumerate(paragraphs)
        )
        related = "".join(
            f'<li><a href="{self.article_path(j)}"><img src="/img/{j}.jpg" alt="">'
            f"<span>{html.escape(self.titles[j])}</span></a></li>"
            for j in ((i + d) % self.pages for d in (1, 2, 3, 5, 8, 13))
        )
        more = "".join(
            f'<li class="card"><a href="{self.article_path(j)}"><img src="data:image/gif;base64,'
            f'R0lGODlhAQABAAAAACw=" data-src="/img/{j}.jpg" alt="" class="lazy">'
            f"<h3>{html.escape(self.titles[j])}</h3></a><p>{self.summary(j)}</p>"
            f'<span class="meta">{section} · {1 + j % 9} min read</span></li>'
            for j in (self._spread(i * 13 + d) for d in range(MORE_FROM))
        )
        most_read = "".join(
            f"<li>{self._link(self._spread(i * 5 + d * 41))}</li>" for d in range(MOST_READ)
        )
        share = (
            '<div class="share-bar"><span class="icon icon-facebook"></span>Share'
            '<span class="icon icon-x"></span>Post<span class="icon icon-mail"></span>Email'
            '<span class="icon icon-link"></span>Copy link</div>'
        )
        jsonld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": title,
                "datePublished": day,
                "author": {"@type": "Person", "name": author},
                "articleSection": section,
            }
        )
        head = self._head(
            title,
            "article",
            f'<meta property="article:published_time" content="{day}">'
            f'<meta name="author" content="{author}">'
            f'<script type="application/ld+json">{jsonld}</script>',
        )
        page = (
            f'{head}<body class="article">{self._nav(i)}<main><article class="story">'
            f'<nav class="breadcrumb"><a href="/news/page/1">Home</a> &rsaquo; {section}</nav>'
            f'<h1 class="headline">{html.escape(title)}</h1>'
            f'<p class="standfirst">{standfirst}</p>'
            f'<div class="byline">By <a href="#author">{author}</a> · '
            f'<time datetime="{day}">{day[:10]}</time></div>{share}'
            f'<figure><img src="/img/{i}.jpg" alt=""><figcaption>{rng.choice(pick)}'
            f'</figcaption></figure><div class="article-body">{body_html}</div>{share}'
            '<div class="newsletter">Get the morning briefing in your inbox. '
            '<a href="#subscribe">Sign up</a></div></article>'
            f'<aside class="related"><h2>Related stories</h2><ul>{related}</ul></aside>'
            f'<aside class="more-from"><h2>More from {section}</h2><ul>{more}</ul></aside>'
            f'<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol></aside>'
            f"{self._comments(rng)}</main>{self._footer()}"
        )
        # The rest up to the page's size is an inline app-state blob, as server-rendered
        # React/Next.js outlets ship it: the story again plus widget data the reader never sees.
        target = rng.randint(MIN_ARTICLE_BYTES, MAX_ARTICLE_BYTES)
        state: list[str] = []
        size = len(page) + 200
        while size < target:
            # pre-quoted sentences: a JSON encoder per chunk would double the page's cost
            body = ",".join(rng.choice(quoted) for _ in range(8))
            chunk = f'{{"id":{rng.getrandbits(30)},"teaser":{rng.choice(quoted)},"body":[{body}]}}'
            state.append(chunk)
            size += len(chunk) + 1
        return (
            f'{page}<script id="__APP_STATE__" type="application/json">'
            f'{{"story":{i},"widgets":[{",".join(state)}]}}</script>'
            "<script>(function(){var s=document.createElement('script');s.async=1;"
            "s.src='/static/widgets.js';document.head.appendChild(s)})();</script></body></html>"
        ).encode()

    def requisite_paths(self) -> list[str]:
        """Every page requisite the site's articles name (what a crawl with requisites gets)."""
        photos = [f"/img/{i}{suffix}.jpg" for i in range(self.pages) for suffix in ("", "-2")]
        return ["/static/site.css", "/static/bg.png", "/static/app.js", *photos]

    def resolve(self, path: str) -> tuple[int, bytes, str]:
        """(status, body, content type) of a path."""
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", "text/plain"
        if path == "/static/site.css":
            return 200, SITE_CSS, "text/css"
        if path == "/static/app.js":
            return 200, APP_JS, "application/javascript"
        if path == "/static/bg.png":
            return 200, _photo(-1, 2_000), "image/png"
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "img" and parts[1].endswith(".jpg"):
            with contextlib.suppress(ValueError):
                name, second = parts[1].removesuffix(".jpg"), False
                if name.endswith("-2"):
                    name, second = name.removesuffix("-2"), True
                i = int(name)
                if 0 <= i < self.pages and str(i) == name:
                    seed = self.seed * 1_000_003 + i
                    if second:  # a smaller one, in the body: 10-30 KB
                        return 200, _photo(-seed - 2, 20_000), "image/jpeg"
                    return 200, _photo(seed, 40_000), "image/jpeg"  # 20-60 KB
        try:
            if len(parts) == 3 and parts[:2] == ["news", "page"]:
                k = int(parts[2])
                if 1 <= k <= self.hubs:
                    return 200, self.hub(k), "text/html; charset=utf-8"
            elif len(parts) == 3 and parts[0] == "news":
                i = int(parts[2].split("-", 1)[0])
                if 0 <= i < self.pages:
                    return 200, self.article(i), "text/html; charset=utf-8"
        except ValueError:
            pass
        return 404, b"<html><body><h1>Page not found</h1></body></html>", "text/html"


# the page requisites the pages name: one stylesheet (naming a background image) and one script
# for all, two photos per article (its own, and one in its body) and, in the teasers, other
# articles' photos
SITE_CSS = b"body{margin:0}header{background:url(bg.png)}" + b".x{padding:0}" * 500
APP_JS = b"(function(){'use strict';var a=[];" + b"a.push(function(){return 0});" * 1000 + b"})();"


def _photo(seed: int, size: int) -> bytes:
    """Bytes of a photo's size (not decodable: the crawl only stores them)."""
    return random.Random(seed).randbytes(size // 2 + random.Random(seed).randrange(size))
