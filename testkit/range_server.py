"""A loopback static HTTP server that answers byte-range requests, for ReplayWeb.page's WACZ.

ReplayWeb.page reads a WACZ on demand: it fetches the zip's central directory and then each
WARC record it needs with `Range: bytes=START-END` requests, so the server must answer 206 with
the asked-for bytes. Python's http.server ignores Range (it always sends the whole file, 200),
so this is a small one of our own: GET and HEAD of files mapped one by one to URL paths (nothing
else on disk is reachable), a single range per request (`bytes=A-B`, `bytes=A-`, `bytes=-N`; all
ReplayWeb.page sends), 416 for a range past the end, and Accept-Ranges on every file answer.

    with RangeServer() as server:
        url = server.add("/archives/news.wacz", wacz_path)   # "http://127.0.0.1:PORT/archives/…"
        server.add_bytes("/index.html", b"<!doctype html>…", "text/html; charset=utf-8")

It binds 127.0.0.1 only, on a free port, and serves from a thread pool (Chromium opens several
connections at once). Every request is recorded (method, path, Range header, status) so a test
can tell that the WACZ was read in ranges rather than whole.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024
# the types a browser insists on: a service worker script must come with a JavaScript type
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".wacz": "application/wacz+zip",
    ".gz": "application/gzip",
}


@dataclass(frozen=True)
class Hit:
    """One request the server answered."""

    method: str
    path: str  # without the query string
    range: str | None  # the Range header as sent, or None
    status: int


@dataclass(frozen=True)
class _Entry:
    content_type: str
    path: Path | None = None
    data: bytes | None = None

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size  # at each request: a file may be rewritten between tests

    def read(self, start: int, length: int, write: Callable[[bytes], Any]) -> None:
        if self.data is not None:
            write(self.data[start : start + length])
            return
        assert self.path is not None
        with self.path.open("rb") as fh:
            fh.seek(start)
            while length > 0:
                block = fh.read(min(_CHUNK, length))
                if not block:
                    break
                write(block)
                length -= len(block)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a `bytes=` range header within a body of `size` bytes, inclusive;
    None if unsatisfiable. Raises ValueError for a header this server does not take (several
    ranges, another unit), which is then answered with the whole body as RFC 9110 allows."""
    match = _RANGE.match(header.strip())
    if not match:
        raise ValueError(header)
    first, last = match.groups()
    if not first and not last:
        raise ValueError(header)
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return None
        return max(0, size - n), size - 1
    start = int(first)
    if start >= size:
        return None
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        raise ValueError(header)
    return start, end


class RangeServer:
    """Serves registered files and byte strings on 127.0.0.1 at a free port (see the module)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.hits: list[Hit] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        """The server's URL, http://127.0.0.1:PORT (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("RangeServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, url_path: str, path: Path, content_type: str | None = None) -> str:
        """Serve the file at `path` as `url_path` (read at each request); returns its URL."""
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(path)
        kind = content_type or _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        return self._put(url_path, _Entry(kind or "application/octet-stream", path=path))

    def add_bytes(self, url_path: str, data: bytes, content_type: str) -> str:
        """Serve `data` as `url_path`; returns its URL."""
        return self._put(url_path, _Entry(content_type, data=bytes(data)))

    def _put(self, url_path: str, entry: _Entry) -> str:
        if not url_path.startswith("/"):
            raise ValueError(f"URL path must start with '/': {url_path!r}")
        with self._lock:
            self._entries[url_path] = entry
        return self.base + url_path

    def _get(self, url_path: str) -> _Entry | None:
        with self._lock:
            return self._entries.get(url_path)

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def hits_for(self, url_path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == url_path]

    def start(self) -> RangeServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # a short poll: shutdown() waits for the loop's next look (0.5 s by default)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="range-server", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _make_handler(server: RangeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # keep-alive: Chromium reuses connections; every answer carries a Content-Length
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the hits list is the log; stderr would clutter pytest's output

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            entry = server._get(path)
            range_header = self.headers.get("Range")
            if entry is None:
                self._status_only(HTTPStatus.NOT_FOUND, path, range_header)
                return
            size = entry.size()
            start, length, status = 0, size, HTTPStatus.OK
            if range_header is not None:
                try:
                    span = parse_range(range_header, size)
                except ValueError:
                    pass  # a range this server does not take: the whole body, as RFC 9110 allows
                else:
                    if span is None:
                        self._status_only(
                            HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, path, range_header,
                            (("Content-Range", f"bytes */{size}"),),
                        )  # fmt: skip
                        return
                    start, length = span[0], span[1] - span[0] + 1
                    status = HTTPStatus.PARTIAL_CONTENT
            self.send_response(status)
            self.send_header("Content-Type", entry.content_type)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            # the harness serves fixed bytes per path; a cached copy from a former test run on
            # the same port must not stand in for this one
            self.send_header("Cache-Control", "no-store")
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{start + length - 1}/{size}")
            self.end_headers()
            server._record(Hit(self.command, path, range_header, int(status)))
            if body and length:
                try:
                    entry.read(start, length, self.wfile.write)
                except (BrokenPipeError, ConnectionResetError):
                    # the browser dropped a request it no longer needs (a page navigated away)
                    self.close_connection = True

        def _status_only(
            self,
            status: HTTPStatus,
            path: str,
            range_header: str | None,
            headers: tuple[tuple[str, str], ...] = (),
        ) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            server._record(Hit(self.command, path, range_header, int(status)))

    return Handler
