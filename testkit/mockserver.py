"""The one local mock web server of the crawl tests, in the manner of Scrapy's tests/mockserver.py.

:class:`MockServer` serves, on 127.0.0.1 free ports, every site a crawl test crawls: the demo
outlets (:class:`crawler.demo.DemoSite`), the fault outlet (:class:`crawler.demo.faults.FaultSite`),
the Range-serving file server (:class:`testkit.range_server.RangeServer`) and small sites of
hand-written pages (:class:`PageSite`). tests/conftest.py starts one for the session (the
``mockserver`` fixture); a test asks it for a site by name instead of starting a server::

    def test_crawl(mockserver: MockServer, tmp_path: Path) -> None:
        site = mockserver.site("demo")                 # the demo outlets, requests cleared
        config = site.write_config(tmp_path / "outlets.yaml")
        slow = mockserver.site("in-flight", delay=0.3)  # the same outlets on a site of its own
        faulty = mockserver.faults("healing", fresh=True)  # a fault outlet with no history

Sites are named: one name is one site for the session, started on first ask. Every ask resets
what a test can see of the previous test's use of it: the request log is cleared and the delay
set to the one asked for. A site whose content a test changed (a DemoSite that published a
story, a FaultSite that healed a path or counted attempts) cannot be reset in place; it is
restarted, on new ports, when asked for ``fresh=True`` or, for a DemoSite that published, on
the next ask. So tests that need a state of their own (a variant that changes between two
crawls, a request log of their own) get it under a name of their own without a server of
their own. The mock server reads no settings; ports are the kernel's free ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, TypeVar

from crawler.demo import DemoSite
from crawler.demo.faults import FaultSite
from testkit.range_server import RangeServer

NOT_FOUND = b"<html><body>not found</body></html>"


@dataclass(frozen=True)
class Page:
    """One prepared answer of a :class:`PageSite`."""

    content_type: str
    body: bytes
    status: int = 200


# what a PageSite serves: path (query string included) -> page, rendered for the site's base URL
Pages = Callable[[str], Mapping[str, Page]]


class PageSite:
    """A site of hand-written pages: the path asked for (query string included) looked up in
    `pages(base)`, else `default` (a 404 page unless given); every path asked is logged."""

    def __init__(self, pages: Pages, host: str = "127.0.0.1", default: Page | None = None) -> None:
        self.pages = pages
        self.host = host
        self.default = default or Page("text/html", NOT_FOUND, 404)
        self.requests: list[str] = []  # each path asked for, query string included
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> PageSite:
        self._server = _PageServer((self.host, 0), self)
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"page-site-{self.host}").start()  # fmt: skip
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base(self) -> str:
        assert self._server is not None, "start() the site first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def clear_requests(self) -> None:
        self.requests.clear()

    def answer(self, path: str) -> Page:
        self.requests.append(path)
        return self.pages(self.base).get(path, self.default)


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: PageSite) -> None:
        super().__init__(address, _PageHandler)
        self.site = site


class _PageHandler(BaseHTTPRequestHandler):
    server: _PageServer

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, *, head: bool) -> None:
        page = self.server.site.answer(self.path)
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        if not head:
            self.wfile.write(page.body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests read PageSite.requests


class _Site(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Site)


class MockServer:
    """Named sites for the crawl tests; see the module docstring."""

    def __init__(self) -> None:
        self._sites: dict[str, Any] = {}
        self._published: dict[str, int] = {}  # DemoSite name -> article count when started
        self._lock = threading.Lock()

    def site(self, name: str = "demo", *, delay: float = 0.0, fresh: bool = False) -> DemoSite:
        """The demo outlets under `name`: requests cleared, `delay` seconds before each answer
        (a crawl still in flight when a test kills it)."""
        current = self._sites.get(name)
        if isinstance(current, DemoSite) and len(current.articles) != self._published.get(name):
            fresh = True  # a story was published: the next user gets the site as it was
        demo = self._get(name, DemoSite, lambda: DemoSite(delay=delay).start(), fresh)
        if demo is not current:
            self._published[name] = len(demo.articles)
        demo.delay = delay
        demo.clear_requests()
        return demo

    def faults(self, name: str = "faults", *, hang_seconds: float = 30.0,
               fresh: bool = False) -> FaultSite:  # fmt: skip
        """The fault outlet under `name`; `fresh` for one that has healed nothing and counted
        no attempt (a site's attempt counts and healed paths are its state)."""
        site = self._get(name, FaultSite, lambda: FaultSite(hang_seconds=hang_seconds).start(),
                         fresh)  # fmt: skip
        site.hang_seconds = hang_seconds
        site.clear_requests()
        return site

    def pages(self, name: str, pages: Pages, *, host: str = "127.0.0.1",
              default: Page | None = None) -> PageSite:  # fmt: skip
        """A :class:`PageSite` under `name` serving `pages` (on `host`, e.g. 127.0.0.3 for an
        address a crawl must never reach); its request log cleared."""
        site = self._get(name, PageSite, lambda: PageSite(pages, host, default).start(), False)
        site.pages, site.default = pages, default or site.default
        site.clear_requests()
        return site

    def files(self, name: str, *, fresh: bool = True) -> RangeServer:
        """A Range-serving file server under `name`, by default with no file added yet."""
        return self._get(name, RangeServer, lambda: RangeServer().start(), fresh)

    def _get(self, name: str, kind: type[S], make: Callable[[], S], fresh: bool) -> S:
        with self._lock:
            current = self._sites.get(name)
            if current is not None and not isinstance(current, kind):
                raise ValueError(f"mock site {name!r} is a {type(current).__name__}")
            if current is not None and fresh:
                current.stop()
                current = None
            if current is None:
                current = self._sites[name] = make()
            return current

    def stop(self) -> None:
        with self._lock:
            sites, self._sites = self._sites, {}
        for site in sites.values():
            site.stop()

    def __enter__(self) -> MockServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
