"""The demo site's content model: what a story and an outlet are, and the four fictional outlets.

Everything here is invented for the project: the town of Aldercombe on the River Wendle, the
county of Eastmoor, its people, parties and companies. Paths are relative to an outlet's base
URL; :mod:`crawler.demo.site` turns them into absolute URLs once the ports are known. The
stories themselves are :data:`crawler.demo.stories.STORIES` (the agency's wire copy and the
outlets that print it: :mod:`crawler.demo.wire_stories`). Reads no settings.

A story's ``features`` decide how it can be discovered (see :data:`FEATURES`); stories without
``sitemap_only``/``feed_only``/``redirect``/``robots_disallowed`` are linked from the outlet's
HTML pages and listed in both its sitemaps and its feed; a ``section_only`` story (none of the
bundled ones: tests publish one) is linked from its section page alone.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every value a story's `features` may hold (mirrored by DemoArticle.features).
FEATURES = frozenset(
    {"gzip", "windows-1251", "redirect", "robots_disallowed", "sitemap_only", "feed_only",
     "section_only"}
)  # fmt: skip


@dataclass(frozen=True)
class Story:
    """One article page of one outlet, before the outlet's base URL is known."""

    outlet: str
    path: str
    title: str
    paragraphs: tuple[str, ...]  # standfirst first, as a reader sees it
    author: str
    published: str  # ISO 8601 with offset
    section: str  # path of the section page the story belongs to
    features: frozenset[str] = frozenset()
    syndicated_group: str | None = None
    old_path: str | None = None  # only with "redirect": the stale URL that answers 301
    lang: str = "en"

    @property
    def charset(self) -> str:
        return "windows-1251" if "windows-1251" in self.features else "utf-8"

    @property
    def linked(self) -> bool:
        """Reachable by following <a href> from the home page."""
        return not self.features & {"sitemap_only", "feed_only"}

    @property
    def in_sitemap(self) -> bool:
        # The redirected story is left out of sitemap and feed so that the only way to reach
        # it is through its old URL: a crawl that archives it has followed the 301.
        return not self.features & {"feed_only", "robots_disallowed", "redirect", "section_only"}

    @property
    def in_feed(self) -> bool:
        return not self.features & {"sitemap_only", "robots_disallowed", "redirect", "section_only"}

    @property
    def link_path(self) -> str:
        """The path HTML pages link to: the stale one for a redirected story."""
        return self.old_path or self.path


@dataclass(frozen=True)
class OutletSpec:
    """One outlet: its name in the config, its look, how it is discovered."""

    name: str
    site_name: str
    template: str  # key of crawler.demo.templates.ARTICLE_TEMPLATES
    sections: tuple[tuple[str, str], ...]  # (path, label)
    feed: str  # "rss" -> /rss.xml, "atom" -> /atom.xml
    sitemap_only_in: str  # "news" (gzipped news sitemap) or "plain" (plain sitemap)
    robots_disallow: tuple[str, ...] = ("/search",)
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    depth: int | None = 2
    language: str = "en"
    # linked from the home page but gone from the site: the crawl meets a real 404
    dead_links: tuple[str, ...] = ()

    @property
    def feed_path(self) -> str:
        return "/atom.xml" if self.feed == "atom" else "/rss.xml"


OUTLETS: tuple[OutletSpec, ...] = (
    OutletSpec(
        name="iconnews",
        site_name="The Aldercombe Beacon",
        template="iconfont",
        sections=(("/section/local", "Local"), ("/section/politics", "Politics")),
        feed="rss",
        sitemap_only_in="news",
        robots_disallow=("/drafts/", "/search"),
    ),
    OutletSpec(
        name="wirehub",
        site_name="PressWire Hub",
        template="aggregator",
        sections=(("/category/regional", "Regional"), ("/category/business", "Business")),
        feed="atom",
        sitemap_only_in="plain",
    ),
    OutletSpec(
        name="valleydaily",
        site_name="Wendle Valley Daily",
        template="regional",
        sections=(("/section/news", "News"), ("/section/politics", "Politics")),
        feed="rss",
        sitemap_only_in="news",
        allow=(r"/story/\d+-",),
        deny=("/video/",),
    ),
    OutletSpec(
        name="nordpress",
        site_name="Northgate Press Agency",
        template="wire",
        sections=(
            ("/topics/politics", "Politics"),
            ("/topics/economy", "Economy"),
            ("/topics/world", "World"),
        ),
        feed="rss",
        sitemap_only_in="plain",
        dead_links=("/wire/2025-03-09/story-withdrawn-by-agency",),
    ),
)
