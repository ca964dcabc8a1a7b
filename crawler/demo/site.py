"""The offline demo site: every outlet of :mod:`crawler.demo.content` served on its own port.

:class:`DemoSite` binds one ``ThreadingHTTPServer`` per outlet on 127.0.0.1 (free ports unless
``port_base`` is given), renders every page once the ports are known, and serves them from
memory in daemon threads. Besides the article pages each outlet has a home page, section pages,
``robots.txt``, a sitemap index with a plain and a gzipped Google-news sitemap, and an RSS or
Atom feed. Every request is logged in :attr:`DemoSite.requests` so tests can see what a crawl
fetched.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

from crawler.demo import assets, templates
from crawler.demo.content import OUTLETS, STORIES, OutletSpec, Story

DEFAULT_USER_AGENT = "newsarchiver-demo/0.1 (+http://127.0.0.1/contact)"
HTML_UTF8 = "text/html; charset=utf-8"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
CDN = "cdn"  # the RequestLog outlet of the shared requisites host
_T = TypeVar("_T")


@dataclass(frozen=True)
class RequestLog:
    """One request the demo site answered."""

    outlet: str
    method: str
    path: str  # as requested, query string included
    status: int
    headers: dict[str, str]  # request headers


@dataclass(frozen=True)
class DemoArticle:
    """One article page of the demo site and the clean text a crawl should get from it."""

    outlet: str
    url: str  # final URL, after any redirect
    old_url: str | None  # the stale URL the HTML links to, answering 301 (feature "redirect")
    title: str
    paragraphs: tuple[str, ...]  # standfirst first, whitespace-normalised, entities decoded
    author: str
    published: str  # ISO 8601
    syndicated_group: str | None  # same value => identical title and paragraphs
    features: frozenset[str]

    @property
    def archivable(self) -> bool:
        """False for the page robots.txt forbids: a polite crawl never fetches it."""
        return "robots_disallowed" not in self.features

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class _Resource:
    """A prepared response; `gzip_ok` pages are compressed on the wire when the client allows."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    gzip_ok: bool = False
    etag: str | None = None


def _html(
    text: str,
    *,
    charset: str = "utf-8",
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = (),
    etag: str | None = None,
    gzip_ok: bool = False,
) -> _Resource:
    # A legacy-charset page gets a bare "text/html": its <meta> is the only charset declaration.
    ctype = HTML_UTF8 if charset == "utf-8" else "text/html"
    return _Resource(status, ctype, text.encode(charset), headers, gzip_ok, etag)


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso).astimezone(timezone.utc), usegmt=True)


def _summary(story: Story) -> str:
    # Hubs and feeds show the standfirst's first sentence, as real teasers do.
    first = story.paragraphs[0]
    return first.split(". ")[0].rstrip(".") + "."


def _sitemap_index(base: str, newest: str) -> bytes:
    entries = "".join(
        f"<sitemap><loc>{base}{p}</loc><lastmod>{newest}</lastmod></sitemap>\n"
        for p in ("/sitemap-articles.xml", "/sitemap-news.xml.gz")
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n'
        f"{entries}</sitemapindex>\n"
    ).encode()


def _plain_sitemap(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    # Hubs are listed too, as on real sites: the crawler must not take them for articles.
    urls = [f"<url><loc>{base}/</loc><changefreq>hourly</changefreq></url>"]
    urls += [f"<url><loc>{base}{path}</loc></url>" for path, _ in spec.sections]
    urls += [
        f"<url><loc>{base}{s.path}</loc><lastmod>{s.published}</lastmod></url>" for s in stories
    ]
    body = "\n".join(urls)
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">'
    return f"{head}\n{body}\n</urlset>\n".encode()


def _news_sitemap(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    urls = "\n".join(
        f"<url><loc>{base}{s.path}</loc><news:news><news:publication>"
        f"<news:name>{xml_escape(spec.site_name)}</news:name>"
        f"<news:language>{s.lang}</news:language></news:publication>"
        f"<news:publication_date>{s.published}</news:publication_date>"
        f"<news:title>{xml_escape(s.title)}</news:title></news:news></url>"
        for s in stories
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">\n{urls}\n</urlset>\n'
    )
    return gzip.compress(xml.encode(), mtime=0)


def _rss(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    items = "\n".join(
        f"<item><title>{xml_escape(s.title)}</title><link>{base}{s.path}</link>"
        f'<guid isPermaLink="true">{base}{s.path}</guid>'
        f"<pubDate>{_http_date(s.published).replace('GMT', '+0000')}</pubDate>"
        f"<dc:creator>{xml_escape(s.author)}</dc:creator>"
        f"<description>{xml_escape(_summary(s))}</description></item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{xml_escape(spec.site_name)}</title><link>{base}/</link>"
        f"<description>Latest stories from {xml_escape(spec.site_name)}</description>"
        f"<language>{spec.language}</language>"
        f'<atom:link href="{base}/rss.xml" rel="self" type="application/rss+xml"/>\n'
        f"{items}\n</channel>\n</rss>\n"
    ).encode()


def _atom(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    updated = max(s.published for s in stories)
    entries = "\n".join(
        f'<entry><title>{xml_escape(s.title)}</title><link rel="alternate" href="{base}{s.path}"/>'
        f"<id>{base}{s.path}</id><published>{s.published}</published>"
        f"<updated>{s.published}</updated><author><name>{xml_escape(s.author)}</name></author>"
        f"<summary>{xml_escape(_summary(s))}</summary></entry>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>{xml_escape(spec.site_name)}</title><id>{base}/</id><updated>{updated}</updated>"
        f'<link rel="self" href="{base}/atom.xml"/><link rel="alternate" href="{base}/"/>\n'
        f"{entries}\n</feed>\n"
    ).encode()


def _robots(base: str, spec: OutletSpec) -> bytes:
    rules = "".join(f"Disallow: {p}\n" for p in spec.robots_disallow)
    return (
        f"# robots.txt for {spec.site_name}\nUser-agent: *\n{rules}\n"
        f"Sitemap: {base}/sitemap_index.xml\n"
    ).encode()


def _assets(files: dict[str, tuple[str, bytes]]) -> dict[str, _Resource]:
    # a year's caching, as outlets serve their static files
    cache = (("Cache-Control", "public, max-age=31536000"),)
    return {path: _Resource(200, ctype, body, cache) for path, (ctype, body) in files.items()}


def build_outlet(
    spec: OutletSpec, base: str, stories: list[Story], cdn: str = ""
) -> dict[str, _Resource]:
    """Every path of one outlet, rendered for the outlet's base URL; pages name their requisites
    (:mod:`crawler.demo.assets`) when the base URL of the CDN host is given."""
    render = templates.ARTICLE_TEMPLATES[spec.template]
    linked = sorted((s for s in stories if s.linked), key=lambda s: s.published, reverse=True)
    # The robots-disallowed draft is linked from the home page only.
    public = [s for s in linked if "robots_disallowed" not in s.features]
    res: dict[str, _Resource] = _assets(assets.outlet_assets(spec.name)) if cdn else {}
    if cdn and spec.template == "iconfont":
        loop = base + assets.LOOPING_CSS
        res[assets.LOOPING_CSS] = _html(templates.render_moved(loop), status=301,
                                        headers=(("Location", loop),))  # fmt: skip

    def page(path: str, related: tuple[str, ...] = ()) -> templates.Page:
        return templates.Page(spec.site_name, base + path, spec.sections, related, cdn)

    # a section-only story is linked from its section page alone: not home, not related links
    listed = [s for s in public if "section_only" not in s.features]
    for story in stories:
        if cdn:
            res.update(_assets(assets.photo_assets(story.path)))
        related = tuple(s.link_path for s in listed if s is not story)
        body = render(story, page(story.path, related))
        etag = '"' + hashlib.sha1(body.encode("utf-8")).hexdigest()[:20] + '"'
        headers = (("Last-Modified", _http_date(story.published)), ("ETag", etag))
        res[story.path] = _html(
            body,
            charset=story.charset,
            headers=headers,
            etag=etag,
            gzip_ok="gzip" in story.features,
        )
        if story.old_path:
            location = base + story.path
            res[story.old_path] = _html(
                templates.render_moved(location), status=301, headers=(("Location", location),)
            )

    items = [(s.link_path, s.title, _summary(s)) for s in linked]
    dead = [(path, "Withdrawn story", "This story was withdrawn.") for path in spec.dead_links]
    home = [i for s, i in zip(linked, items, strict=True) if "section_only" not in s.features]
    res["/"] = _html(templates.render_hub(page("/"), "Top stories", home + dead))
    for path, label in spec.sections:
        section_items = [
            i for s, i in zip(linked, items, strict=True) if s.section == path and s in public
        ]
        res[path] = _html(
            templates.render_hub(page(path), f"{label} | {spec.site_name}", section_items)
        )
    if spec.template == "regional":
        res[templates.VIDEO_PATH] = _html(templates.render_video(page(templates.VIDEO_PATH)))

    in_sitemap = [s for s in stories if s.in_sitemap]
    plain = [s for s in in_sitemap if s.linked or spec.sitemap_only_in == "plain"]
    news = [s for s in in_sitemap if s.linked or spec.sitemap_only_in == "news"]
    newest = max(s.published for s in stories)
    xml = "application/xml; charset=utf-8"
    res["/robots.txt"] = _Resource(200, "text/plain; charset=utf-8", _robots(base, spec))
    res["/sitemap_index.xml"] = _Resource(200, xml, _sitemap_index(base, newest))
    res["/sitemap-articles.xml"] = _Resource(200, xml, _plain_sitemap(base, spec, plain))
    # A gzipped sitemap is a gzip *file*: no Content-Encoding, the client unpacks it itself.
    res["/sitemap-news.xml.gz"] = _Resource(
        200, "application/x-gzip", _news_sitemap(base, spec, news)
    )
    in_feed = sorted((s for s in stories if s.in_feed), key=lambda s: s.published, reverse=True)
    if spec.feed == "atom":
        res["/atom.xml"] = _Resource(
            200, "application/atom+xml; charset=utf-8", _atom(base, spec, in_feed)
        )
    else:
        res["/rss.xml"] = _Resource(
            200, "application/rss+xml; charset=utf-8", _rss(base, spec, in_feed)
        )
    return res


def _accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding value allows gzip ("gzip;q=0" forbids it)."""
    for part in (header or "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = params.strip()
        try:
            return not q.startswith("q=") or float(q[2:]) > 0
        except ValueError:
            return False
    return False


class _OutletServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a crawler opening connections at once would
    # see some dropped and time out connecting
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: DemoSite, outlet: str) -> None:
        super().__init__(address, _Handler)
        self.host = address[0]
        self.site = site
        self.outlet = outlet
        self.resources: dict[str, _Resource] = {}


class _Handler(BaseHTTPRequestHandler):
    server: _OutletServer
    server_version = "newsarchiver-demo/0.1"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests read DemoSite.requests instead of stderr noise

    def _respond(self, *, head: bool) -> None:
        site = self.server.site
        if site.delay > 0:
            time.sleep(site.delay)
        path = urlsplit(self.path).path or "/"
        res = self.server.resources.get(path)
        if res is None:
            res = _html(
                templates.render_not_found(site.name_of(self.server.outlet), path), status=404
            )
        status, body = res.status, res.body
        headers = [("Content-Type", res.content_type), *res.headers]
        # every page has a validator, as real outlets' pages do: a crawl may ask conditionally
        etag = res.etag or '"' + hashlib.sha1(res.body).hexdigest()[:20] + '"'
        if status == 200 and not any(name == "ETag" for name, _ in headers):
            headers.append(("ETag", etag))
        if res.gzip_ok:
            headers.append(("Vary", "Accept-Encoding"))
            if _accepts_gzip(self.headers.get("Accept-Encoding")):
                body = gzip.compress(body, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
        if status == 200 and self.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        # Logged before the body goes out so a client that has its response sees the entry.
        site._log(
            RequestLog(self.server.outlet, self.command, self.path, status, dict(self.headers))
        )
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and status != 304:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a killed crawl): nothing to clean up


@dataclass
class _Running:
    server: _OutletServer
    thread: threading.Thread | None = None
    base_url: str = ""
    stories: list[Story] = field(default_factory=list)


class DemoSite:
    """The bundled offline news site; see the module docstring."""

    def __init__(
        self, host: str = "127.0.0.1", delay: float = 0.0, *, port_base: int | None = None
    ) -> None:
        self.host = host
        self.delay = delay  # seconds slept before every response
        self.port_base = port_base
        self._running: dict[str, _Running] = {}
        self._outlets: dict[str, str] = {}
        self._cdn = ""
        self._articles: list[DemoArticle] = []
        self._requests: list[RequestLog] = []
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> DemoSite:
        if self._running:
            raise RuntimeError("DemoSite is already running")
        try:
            for i, spec in enumerate(OUTLETS):
                port = 0 if self.port_base is None else self.port_base + i
                server = _OutletServer((self.host, port), self, spec.name)
                self._running[spec.name] = _Running(server)
            cdn = self._cdn_server(0 if self.port_base is None else self.port_base + len(OUTLETS))
            self._running[CDN] = _Running(cdn)
        except BaseException:
            self.stop()
            raise
        self._cdn = f"http://{cdn.host}:{cdn.server_address[1]}"
        cdn.resources = _assets(assets.cdn_assets())
        self._outlets, self._articles = {}, []
        for spec in OUTLETS:
            run = self._running[spec.name]
            run.base_url = f"http://{self.host}:{run.server.server_address[1]}"
            run.stories = [s for s in STORIES if s.outlet == spec.name]
            run.server.resources = build_outlet(spec, run.base_url, run.stories, self._cdn)
            self._outlets[spec.name] = run.base_url
            self._articles += [self._article(run.base_url, s) for s in run.stories]
        for name, run in self._running.items():
            run.thread = threading.Thread(
                target=run.server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"demo-{name}",
                daemon=True,
            )
            run.thread.start()
        return self

    def _cdn_server(self, port: int) -> _OutletServer:
        """The shared "CDN": another host than every outlet's, so its requisites are off-host
        (127.0.0.2 on the loopback network; where only 127.0.0.1 answers, another port)."""
        if self.host == "127.0.0.1":
            with contextlib.suppress(OSError):
                return _OutletServer(("127.0.0.2", port), self, CDN)
        return _OutletServer((self.host, port), self, CDN)

    def stop(self) -> None:
        running, self._running = self._running, {}
        for run in running.values():
            if run.thread is not None:
                run.server.shutdown()
                run.thread.join(timeout=5)
            run.server.server_close()

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def publish(self, story: Story) -> DemoArticle:
        """Publish a new story while the site runs: its outlet's home and section pages, sitemaps
        and feed change (new ETags) and link to it, as on a real outlet between two crawls."""
        run = self._running[story.outlet]
        spec = next(s for s in OUTLETS if s.name == story.outlet)
        run.stories = [*run.stories, story]
        run.server.resources = build_outlet(spec, run.base_url, run.stories, self._cdn)
        article = self._article(run.base_url, story)
        with self._lock:
            self._articles.append(article)
        return article

    # -- what tests and the CLI read -------------------------------------------------------
    @property
    def outlets(self) -> dict[str, str]:
        """Outlet name -> base URL (no trailing slash)."""
        return dict(self._require(self._outlets))

    @property
    def cdn(self) -> str:
        """Base URL of the shared host of requisites, another address than the outlets'."""
        return self._require(self._cdn)

    def requisites(self, article: DemoArticle) -> list[str]:
        """The URLs of every requisite an article page names, its stylesheets' too: what a
        faithful capture of it holds besides the page."""
        base = self._outlets[article.outlet]
        path = article.url.removeprefix(base)
        own = [*assets.OUTLET_PATHS, assets.photo_path(path), assets.photo_path(path, 2)]
        return [base + p for p in own] + [self._cdn + p for p in assets.CDN_PATHS]

    @property
    def articles(self) -> list[DemoArticle]:
        return list(self._require(self._articles))

    @property
    def boilerplate(self) -> list[str]:
        return list(templates.BOILERPLATE)

    @property
    def requests(self) -> list[RequestLog]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def config_yaml(self, user_agent: str | None = None) -> str:
        """The outlet config for the current ports, in the crawler's YAML format."""
        bases = self._require(self._outlets)
        lines = [f"user_agent: {_yq(user_agent or DEFAULT_USER_AGENT)}", "outlets:"]
        for spec in OUTLETS:
            base = bases[spec.name]
            lines += [
                f"  - name: {spec.name}",
                f"    start_urls: [{_yq(base + '/')}]",
                f"    sitemaps: [{_yq(base + '/sitemap_index.xml')}]",
                f"    feeds: [{_yq(base + spec.feed_path)}]",
            ]
            if spec.allow:
                lines.append(f"    allow: [{', '.join(map(_yq, spec.allow))}]")
            if spec.deny:
                lines.append(f"    deny: [{', '.join(map(_yq, spec.deny))}]")
            if spec.depth is not None:
                lines.append(f"    depth: {spec.depth}")
        return "\n".join(lines) + "\n"

    def write_config(self, path: str | Path, user_agent: str | None = None) -> Path:
        out = Path(path)
        out.write_text(self.config_yaml(user_agent), encoding="utf-8")
        return out

    # -- internals -------------------------------------------------------------------------
    def name_of(self, outlet: str) -> str:
        return next((s.site_name for s in OUTLETS if s.name == outlet), outlet)

    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self._requests.append(entry)

    @staticmethod
    def _require(value: _T) -> _T:
        if not value:
            raise RuntimeError("DemoSite has not been started: call start() first")
        return value

    @staticmethod
    def _article(base: str, story: Story) -> DemoArticle:
        return DemoArticle(
            outlet=story.outlet,
            url=base + story.path,
            old_url=base + story.old_path if story.old_path else None,
            title=story.title,
            paragraphs=story.paragraphs,
            author=story.author,
            published=story.published,
            syndicated_group=story.syndicated_group,
            features=story.features,
        )


def _yq(text: str) -> str:
    """A YAML single-quoted scalar: backslashes stay literal, which regexes need."""
    return "'" + text.replace("'", "''") + "'"
