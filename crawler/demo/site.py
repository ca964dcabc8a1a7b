"""The offline demo site: every outlet of :mod:`crawler.demo.content` served on its own port.

:class:`DemoSite` binds one ``ThreadingHTTPServer`` per outlet on 127.0.0.1 (free ports unless
``port_base`` is given), renders every page once the ports are known, and serves them from
memory in daemon threads. Besides the article pages each outlet has a home page, section pages,
``robots.txt``, a sitemap index with a plain and a gzipped Google-news sitemap, and an RSS or
Atom feed (rendered by :mod:`crawler.demo.outlet_pages`). Every request is logged in
:attr:`DemoSite.requests` so tests can see what a crawl fetched. Reads no settings.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit

from crawler.demo import assets, templates
from crawler.demo import page_chrome as chrome
from crawler.demo.content import OUTLETS, Story
from crawler.demo.outlet_pages import Resource, build_outlet, html_resource, static_resources
from crawler.demo.stories import STORIES

DEFAULT_USER_AGENT = "newsarchiver-demo/0.1 (+http://127.0.0.1/contact)"
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
        self.resources: dict[str, Resource] = {}


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
            res = html_resource(
                chrome.render_not_found(site.name_of(self.server.outlet), path), status=404
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
        cdn.resources = static_resources(assets.cdn_assets())
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
