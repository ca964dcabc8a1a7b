"""A fault-injection outlet on loopback: every way a page can fail, one path each.

The home page links every fault path; a path that succeeds serves a synthetic article (og:type
article). The tests crawl it and assert, per fault, the outcome, the reason, the attempts and the
WARC records; ``make bench`` and the README's outcome table use the same site.

    with FaultSite() as site:
        site.write_config("faults.yaml")
        ...
        site.heal("/f/challenge")   # from now on it serves its article (a later run heals)
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<h1>Checking your browser before accessing the site.</h1>"
    "<p>This process is automatic. Your browser will redirect shortly.</p></body></html>"
)
NOT_FOUND = (
    "<!DOCTYPE html><html><head><title>Page not found | Faulty Gazette</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/'>News</a></nav><h1>Sorry, this page does not exist"
    "</h1><p>It may have been moved or deleted.</p></body></html>"
)

# The site's answer for a URL it has no page for: status 200 and no word of an error in it, the
# path echoed and a reference that changes each time, as many CMSs answer. Only its likeness to
# the answer for a URL that cannot exist (the crawler's probe) tells it from a page.
MISSING = (
    "<!DOCTYPE html><html><head><title>Faulty Gazette</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/'>News</a> <a href='/'>Sport</a></nav>"
    "<main><h1>Nothing to read here</h1><p>We looked for {path} and came back empty-handed."
    "</p><p>Try the front page, or one of the sections above.</p><p>Reference {ref}</p></main>"
    "<footer><p>Faulty Gazette, printed on loopback since 2026</p></footer></body></html>"
)
BRIEF_TITLE = "Fire at 404 Main Street forces evacuation of three homes"
BRIEF_PARAGRAPHS = (  # about 150 words: a real brief, not an error page
    "Firefighters were called to 404 Main Street shortly after six on Tuesday evening, when "
    "smoke was seen rising from the roof of a terraced house near the junction with Bridge "
    "Road. Three neighbouring homes were evacuated as a precaution while two crews brought "
    "the blaze under control within forty minutes.",
    "Nobody was hurt. A spokesperson for the fire service said the fire is believed to have "
    "started in a kitchen on the ground floor and spread to the loft through a gap in the "
    "party wall. Residents of the evacuated homes spent the night with relatives and were "
    "allowed back on Wednesday morning once the structure had been checked. Main Street "
    "stayed closed between Bridge Road and the market square until late on Tuesday.",
)
BRIEF = "/f/brief-404"
PROBE_PREFIX = "/newsarchiver-probe-"  # what the crawler asks for once per run

LONG_LINK_CHARS = 10_000  # past Scrapy's URLLENGTH_LIMIT (2083), as a tracking link can be
# a PDF's first bytes: enough for a reader to know it ("%PDF-"), not a real document
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
# a real title and text with letters outside ASCII: decoded as UTF-16 they are mojibake
UTF16_TITLE = "Ferry timetable changes at Årøsund: the café on the quay stays open"
UTF16_PARAGRAPHS = (
    "The harbour office in Årøsund published the winter timetable on Monday. Ferries leave "
    "at 06:40, 09:15 and 17:50 on weekdays; the Saturday crossing at 11:05 is cancelled "
    "until März, when the repaired ramp is back in service.",
    "Søren Ødegård, who has run the café on the quay for nineteen years, said he would keep "
    "its doors open through the closure: « We serve the pilots and the fishermen, ferry or "
    "no ferry », he said, pouring a crème brûlée-coloured coffee.",
    "Passengers with bicycles are asked to book ahead. The office notes that the 17:50 "
    "departure waits up to ten minutes for the regional bus from Haderslev, whose driver "
    "calls ahead when the road over the moor is icy.",
)
LINKED_ARTICLE = "/f/after-long-link"  # linked from /hub/long-links, after its long links

# path -> (what it does, the outcome a crawl should record)
FAULTS: dict[str, tuple[str, str]] = {
    "/f/ok": ("200 article", "archived"),
    "/f/403-twice": ("403, 403, then 200", "archived after 2 retries"),
    "/f/429-retry-after": ("429 with Retry-After: 1, then 200", "archived after waiting 1 s"),
    "/f/503-once": ("503, then 200", "archived after 1 retry"),
    "/f/challenge": ("always 403 with a bot-challenge page", "failed http_403"),
    "/f/challenge-200": ("always 200 with a bot-challenge page", "failed blocked"),
    "/f/soft-404": ("always 200 with a 'page not found' page", "failed soft_404"),
    "/f/missing": (
        "200 with the site's answer for a URL it has no page for (no error word in it)",
        "failed soft_404 (like the answer to the crawler's probe)",
    ),
    BRIEF: (f"a 150-word brief headlined {BRIEF_TITLE!r}", "archived"),
    "/f/gone": ("404", "failed http_404, not retried"),
    "/f/hang": ("answers nothing until long past the timeout", "failed timeout"),
    "/f/reset": ("headers, part of the body, then a TCP reset", "failed connection"),
    "/f/truncated": ("Content-Length 20000, 1000 bytes sent", "failed truncated"),
    "/f/loop-a": ("302 to /f/loop-b, which 302s back", "failed redirect_loop"),
    "/f/chain": ("302 to /f/chain/1, /f/chain/2, … without end", "failed redirect_loop (cap)"),
    "/f/oversize": ("a 3 MB body (tests cap DOWNLOAD_MAXSIZE at 1 MB)", "failed too_large"),
    "/f/gzip-bomb": ("32 KB of gzip that inflates to 32 MB", "failed too_large"),
    "/f/bad-charset": (
        "an unknown charset declared, invalid UTF-8 bytes",
        "archived, bad bytes replaced",
    ),
    "/f/utf16-header": (
        "a UTF-8 page (no BOM, no <meta charset>) served with charset=utf-16",
        "archived, decoded as UTF-8",
    ),
    "/f/pdf": ("a PDF (application/pdf) at an article URL", "failed not_html"),
    "/f/pdf-untyped": ("a PDF served as application/octet-stream", "failed not_html (sniffed)"),
    "/media/map": (
        "a PNG (no .png: the link extractor skips those) linked from the home page",
        "counted",
    ),
    "/hub/long-links": (
        f"a hub linking a {LONG_LINK_CHARS}-character URL in scope, one off scope, and an article",
        "failed url_too_long (the in-scope link, once), the article archived",
    ),
    "/hub/long-links-again": ("another hub linking the same long URL", "not recorded again"),
}


def article_html(path: str) -> str:
    title = article_title(path)
    words = (
        "The county archive opened its reading room again this week after a long closure, and "
        "volunteers have begun sorting boxes of parish records that arrived over the winter. "
    )
    paragraphs = "".join(f"<p>{words}This is paragraph {i} of the page at {path}.</p>" for i in
                         range(1, 5))  # fmt: skip
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>"
        f"<meta property='og:type' content='article'></head><body><article><h1>{title}</h1>"
        f"{paragraphs}</article></body></html>"
    )


def article_title(path: str) -> str:
    if path == "/f/utf16-header":
        return UTF16_TITLE
    if path == BRIEF:
        return BRIEF_TITLE
    return f"Reading room reopens ({path.rsplit('/', 1)[-1]})"


def utf16_header_html() -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in UTF16_PARAGRAPHS)
    return (
        f"<!DOCTYPE html><html><head><title>{UTF16_TITLE}</title>"
        f"<meta property='og:type' content='article'></head><body><article><h1>{UTF16_TITLE}"
        f"</h1>{paragraphs}</article></body></html>"
    )


def brief_html() -> str:
    """A short article without og:type: only its text says it is one."""
    paragraphs = "".join(f"<p>{p}</p>" for p in BRIEF_PARAGRAPHS)
    return (
        f"<!DOCTYPE html><html><head><title>{BRIEF_TITLE} | Faulty Gazette</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{BRIEF_TITLE}</h1>{paragraphs}</article>"
        "</body></html>"
    )


def missing_html(path: str, ref: int) -> str:
    return MISSING.replace("{path}", path).replace("{ref}", str(ref))


def long_link_path() -> str:
    """The in-scope long link's path (the URL is the site's base URL and this)."""
    return "/f/long-link?q=" + "x" * (LONG_LINK_CHARS - len("/f/long-link?q="))


def long_links_html() -> str:
    off_scope = "http://elsewhere.invalid/track?q=" + "y" * LONG_LINK_CHARS
    return (
        "<html><head><title>Long links</title></head><body>"
        f"<a href='{long_link_path()}'>tracked</a> <a href='{off_scope}'>elsewhere</a> "
        f"<a href='{LINKED_ARTICLE}'>an article</a></body></html>"
    )


@dataclass(frozen=True)
class FaultRequest:
    path: str
    status: int | None  # None when no status line was sent (hang, reset)
    at: float  # time.monotonic() when the request arrived


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a crawler opening connections at once would
    # see some dropped and time out connecting
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: FaultSite) -> None:
        super().__init__(address, _Handler)
        self.site = site


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path.split("?", 1)[0]
        seen = site._count(path)
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if path == "/":
            links = "".join(f"<li><a href='{p}'>{p}</a></li>" for p in FAULTS)
            page = (
                "<html><head><title>Faulty Gazette</title></head>"
                f"<body><ul>{links}</ul></body></html>"
            )
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if path in site.healed or path in ("/f/ok", LINKED_ARTICLE):
            return self._send(200, article_html(path).encode(), "text/html; charset=utf-8")
        if path == "/f/403-twice":
            return self._article_after(path, seen, 2, 403)
        if path == "/f/503-once":
            return self._article_after(path, seen, 1, 503)
        if path == "/f/429-retry-after":
            if seen <= 1:
                return self._send(429, b"slow down", "text/plain", ("Retry-After", "1"))
            return self._send(200, article_html(path).encode(), "text/html; charset=utf-8")
        if path == "/f/challenge":
            return self._send(403, CHALLENGE.encode(), "text/html; charset=utf-8")
        if path == "/f/challenge-200":
            return self._send(200, CHALLENGE.encode(), "text/html; charset=utf-8")
        if path == "/f/soft-404":
            return self._send(200, NOT_FOUND.encode(), "text/html; charset=utf-8")
        if path == BRIEF:
            return self._send(200, brief_html().encode(), "text/html; charset=utf-8")
        if path == "/f/gone":
            return self._send(404, b"<html><title>404</title><h1>Not Found</h1></html>",
                              "text/html")  # fmt: skip
        if path == "/f/hang":
            site._log(path, None)
            site._stopping.wait(site.hang_seconds)  # returns at once when the site stops
            return None
        if path == "/f/reset":
            site._log(path, None)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 20000\r\n\r\n" + b"<html>" + b"x" * 500)  # fmt: skip
            self.wfile.flush()
            # SO_LINGER 0 and a close() here, before socketserver's shutdown(SHUT_WR) would
            # send a FIN: the peer sees a reset
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return None
        if path == "/f/truncated":
            site._log(path, 200)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20000\r\n"
            self.wfile.write(head + b"Connection: close\r\n\r\n" + b"y" * 1000)
            self.close_connection = True
            return None
        if path in ("/f/loop-a", "/f/loop-b"):
            target = "/f/loop-b" if path == "/f/loop-a" else "/f/loop-a"
            return self._send(302, b"", "text/html", ("Location", target))
        if path == "/f/chain" or path.startswith("/f/chain/"):
            step = int(path.rsplit("/", 1)[-1]) + 1 if path != "/f/chain" else 1
            return self._send(302, b"", "text/html", ("Location", f"/f/chain/{step}"))
        if path == "/f/bad-charset":
            page = article_html(path).replace("This is paragraph 2", "Bad bytes \udcff\udcfe here")
            body = page.encode("utf-8", errors="surrogateescape")
            return self._send(200, body, "text/html; charset=x-no-such-charset")
        if path == "/f/utf16-header":
            return self._send(200, utf16_header_html().encode("utf-8"), "text/html; charset=utf-16")
        if path == "/f/pdf":
            return self._send(200, PDF, "application/pdf")
        if path == "/f/pdf-untyped":
            return self._send(200, PDF, "application/octet-stream")
        if path == "/media/map":
            return self._send(200, PNG, "image/png")
        if path in ("/hub/long-links", "/hub/long-links-again"):
            return self._send(200, long_links_html().encode(), "text/html; charset=utf-8")
        if path == "/f/oversize":
            return self._send(200, b"<html>" + b"z" * (3 * 1024 * 1024), "text/html")
        if path == "/f/gzip-bomb":
            return self._send(200, site.bomb, "text/html", ("Content-Encoding", "gzip"))
        # any other URL (/f/missing, the crawler's probe): the "missing" page, status 200
        ref = 1000 + len(site.requests)
        return self._send(200, missing_html(path, ref).encode(), "text/html; charset=utf-8")

    def _article_after(self, path: str, seen: int, failures: int, status: int) -> None:
        if seen <= failures:
            return self._send(status, f"error {status}".encode(), "text/plain")
        return self._send(200, article_html(path).encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, ctype: str, *headers: tuple[str, str]) -> None:
        self.server.site._log(self.path.split("?", 1)[0], status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class FaultSite:
    def __init__(self, host: str = "127.0.0.1", hang_seconds: float = 30.0) -> None:
        self.host = host
        self.hang_seconds = hang_seconds
        self.healed: set[str] = set()
        self.bomb = gzip.compress(b"\0" * (32 * 1024 * 1024), compresslevel=9, mtime=0)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._requests: list[FaultRequest] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultSite:
        self._server = _Server((self.host, 0), self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fault-site")  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FaultSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the site first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def config_yaml(self) -> str:
        return (
            'user_agent: "newsarchiver-faults/0.1 (+http://127.0.0.1/contact)"\n'
            f'outlets:\n  - name: faulty\n    start_urls: ["{self.base_url}/"]\n    depth: 2\n'
            # what is under /f/ is an article, by its URL: a PDF there is a failure
            '    allow: ["/f/"]\n'
        )

    def write_config(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.config_yaml(), encoding="utf-8")
        return path

    def heal(self, path: str) -> None:
        """From now on `path` serves its article."""
        self.healed.add(path)

    @property
    def requests(self) -> list[FaultRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _count(self, path: str) -> int:
        with self._lock:
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]

    def _log(self, path: str, status: int | None) -> None:
        with self._lock:
            self._requests.append(FaultRequest(path, status, time.monotonic()))
