"""testkit/replay_tools.py against small WARCs written here with warcio: pywb replays them (a plain
page, a gzip-encoded response, an identical-payload revisit in another file, from pywb's own
index or from a CDXJ written here) and `wacz validate` tells a WACZ from a plain zip."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import socket
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

if TYPE_CHECKING:
    from testkit.replay_tools import ReplayTools

# The session fixture `replay_tools`: importing it here would be a redefinition for ruff (F811),
# and importing anything of the module before pytest loads it as a plugin would keep pytest from
# rewriting its asserts (PytestAssertRewriteWarning), so the tests import from it in functions.

PAGE_URL = "http://example.test/page"
GZIP_URL = "http://example.test/gz"
PAGE_BODY = (
    b"<!doctype html><html><head><title>Replay check</title></head><body>"
    b"<p>The archivist's heron replays every byte of this sentence.</p></body></html>"
)
GZIP_HTML = (
    b"<!doctype html><html><body><p>A gzipped lighthouse still shines after replay.</p>"
    b"</body></html>"
)
GZIP_BODY = gzip.compress(GZIP_HTML, mtime=0)
CAPTURED = "2024-01-02T03:04:05Z"
REVISITED = "2024-02-03T04:05:06Z"
CAPTURED_TS = "20240102030405"  # the same as pywb timestamps
REVISITED_TS = "20240203040506"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


def fetch(url: str, headers: dict[str, str] | None = None) -> Fetched:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _NO_PROXY.open(request, timeout=10) as resp:
            return Fetched(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as err:
        return Fetched(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def _response(
    writer: WARCWriter, url: str, body: bytes, date: str, extra: list[tuple[str, str]]
) -> None:
    """A response record and its request record (WARC-Concurrent-To), as the crawler writes."""
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))), *extra],
        protocol="HTTP/1.1",
    )
    response = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": date},
    )  # fmt: skip
    path = "/" + url.split("/", 3)[3]
    req_http = StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [("Host", "example.test"), ("Accept-Encoding", "gzip")],
        is_http_request=True,
    )
    request = writer.create_warc_record(
        url, "request", payload=io.BytesIO(b""), http_headers=req_http,
        warc_headers_dict={"WARC-Date": date},
    )  # fmt: skip
    writer.write_request_response_pair(request, response)


@dataclass(frozen=True)
class Warcs:
    captures: Path  # /page and /gz: response + request each
    revisits: Path  # /page again: an identical-payload-digest revisit of the first capture


@pytest.fixture(scope="module")
def warcs(tmp_path_factory: pytest.TempPathFactory) -> Warcs:
    root = tmp_path_factory.mktemp("replay-warcs")
    captures = root / "captures-00000.warc.gz"
    with captures.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        _response(writer, PAGE_URL, PAGE_BODY, CAPTURED, [])
        _response(writer, GZIP_URL, GZIP_BODY, CAPTURED, [("Content-Encoding", "gzip")])
    with captures.open("rb") as fh:
        (original,) = (
            r.rec_headers
            for r in ArchiveIterator(fh)
            if r.rec_type == "response" and r.rec_headers.get_header("WARC-Target-URI") == PAGE_URL
        )
    assert original.get_header("WARC-Date") == CAPTURED
    revisits = root / "captures-00001.warc.gz"
    with revisits.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE_BODY)))],
            protocol="HTTP/1.1",
        )
        revisit = writer.create_revisit_record(
            PAGE_URL, original.get_header("WARC-Payload-Digest"), PAGE_URL, CAPTURED,
            http_headers=http,
            warc_headers_dict={
                "WARC-Date": REVISITED, "WARC-Refers-To": original.get_header("WARC-Record-ID")
            },
        )  # fmt: skip
        writer.write_record(revisit)
    return Warcs(captures, revisits)


@pytest.fixture(scope="module")
def replay_base(replay_tools: ReplayTools, warcs: Warcs) -> Iterator[str]:
    started = time.monotonic()
    with replay_tools.pywb([warcs.captures, warcs.revisits]) as base:
        print(f"pywb answered after {time.monotonic() - started:.2f} s")
        yield base


def test_tools_live_outside_the_project_venv(replay_tools: ReplayTools) -> None:
    from testkit.replay_tools import REPO, STAMP_NAME, ensure_tools

    assert replay_tools.venv == REPO / ".venv-replay"
    for tool in ("wayback", "wb-manager", "wacz"):
        assert (replay_tools.venv / "bin" / tool).is_file()
    # pywb and wacz (and pywb's brotlipy, which breaks Scrapy's brotli decoding) stay out
    for module in ("pywb", "wacz", "frictionless"):
        assert importlib.util.find_spec(module) is None, module
    stamp = json.loads((replay_tools.venv / STAMP_NAME).read_text(encoding="utf-8"))
    assert stamp["requirements"] == ["pywb==2.10.0", "wacz==0.6.0"]
    started = time.monotonic()
    assert ensure_tools(REPO).venv == replay_tools.venv  # reused: no pip this time
    assert time.monotonic() - started < 5


def test_replay_url() -> None:
    from testkit.replay_tools import ReplayTools

    tools = ReplayTools(Path("/nowhere"))
    base = "http://127.0.0.1:8080/news/"
    assert tools.replay_url(base, PAGE_URL) == "http://127.0.0.1:8080/news/id_/" + PAGE_URL
    assert tools.replay_url(base.rstrip("/"), PAGE_URL, "2024") == f"{base}2024id_/{PAGE_URL}"


def test_pywb_replays_the_original_bytes(replay_tools: ReplayTools, replay_base: str) -> None:
    assert replay_base.startswith("http://127.0.0.1:")
    assert replay_base.endswith("/news/")
    got = fetch(replay_tools.replay_url(replay_base, PAGE_URL, CAPTURED_TS))
    assert got.status == 200
    assert got.body == PAGE_BODY  # id_: byte for byte, nothing injected or rewritten
    assert got.headers["content-type"] == "text/html; charset=utf-8"
    assert got.headers["memento-datetime"] == "Tue, 02 Jan 2024 03:04:05 GMT"


def test_pywb_replays_a_gzip_response(replay_tools: ReplayTools, replay_base: str) -> None:
    url = replay_tools.replay_url(replay_base, GZIP_URL)
    # urllib sends no Accept-Encoding: pywb decodes the stored gzip payload and keeps the
    # original header as X-Archive-Orig-Content-Encoding
    plain = fetch(url)
    assert plain.status == 200
    assert plain.body == GZIP_HTML
    assert "content-encoding" not in plain.headers
    assert plain.headers["x-archive-orig-content-encoding"] == "gzip"
    # a client that accepts gzip gets the payload as it was sent
    encoded = fetch(url, {"Accept-Encoding": "gzip"})
    assert encoded.status == 200
    assert encoded.headers["content-encoding"] == "gzip"
    assert encoded.body == GZIP_BODY


def test_pywb_resolves_an_identical_payload_revisit(
    replay_tools: ReplayTools, replay_base: str
) -> None:
    # the revisit is in another WARC file; pywb finds the original through its index
    got = fetch(replay_tools.replay_url(replay_base, PAGE_URL, REVISITED_TS))
    assert got.status == 200
    assert got.body == PAGE_BODY
    assert got.headers["memento-datetime"] == "Sat, 03 Feb 2024 04:05:06 GMT"
    # no timestamp: the latest capture, the revisit
    latest = fetch(replay_tools.replay_url(replay_base, PAGE_URL))
    assert latest.body == PAGE_BODY
    assert latest.headers["memento-datetime"] == "Sat, 03 Feb 2024 04:05:06 GMT"


def _cdxj_line(warc: Path, url: str, surt: str, **extra: str) -> str:
    """A CDXJ line for the first record of `url` in `warc`: SURT key, 14-digit timestamp, JSON."""
    with warc.open("rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            if record.rec_headers.get_header("WARC-Target-URI") == url:
                record.content_stream().read()
                offset, length = it.get_record_offset(), it.get_record_length()
                timestamp = record.rec_headers.get_header("WARC-Date")
                fields = {"url": url, "offset": str(offset), "length": str(length),
                          "filename": warc.name, **extra}  # fmt: skip
                stamp = "".join(c for c in timestamp if c.isdigit())
                return f"{surt} {stamp} {json.dumps(fields)}\n"
    raise AssertionError(f"{url} not in {warc}")


def test_pywb_serves_a_given_cdxj_index(
    replay_tools: ReplayTools, warcs: Warcs, tmp_path: Path
) -> None:
    # The least pywb needs of a CDXJ line: SURT key, timestamp, url, offset, length, filename,
    # and "mime": "warc/revisit" on a revisit's line (without it pywb serves the revisit's
    # headers with no body: a truncated response); pywb then finds the original through the
    # record's WARC-Refers-To-Target-URI and -Date. The lines must be sorted: pywb
    # binary-searches the file (unsorted, the /gz line after the /page line is not found, 404).
    lines = sorted(
        [
            _cdxj_line(warcs.captures, PAGE_URL, "test,example)/page"),
            _cdxj_line(warcs.captures, GZIP_URL, "test,example)/gz"),
            _cdxj_line(warcs.revisits, PAGE_URL, "test,example)/page", mime="warc/revisit"),
        ]
    )
    index = tmp_path / "index.cdxj"
    index.write_text("".join(lines), encoding="utf-8")
    with replay_tools.pywb([warcs.captures, warcs.revisits], "given", index=index) as base:
        assert base.endswith("/given/")
        port = int(base.split(":")[2].split("/")[0])
        assert fetch(replay_tools.replay_url(base, PAGE_URL, CAPTURED_TS)).body == PAGE_BODY
        assert fetch(replay_tools.replay_url(base, GZIP_URL)).body == GZIP_HTML
        revisit = fetch(replay_tools.replay_url(base, PAGE_URL, REVISITED_TS))
        assert revisit.body == PAGE_BODY
        assert revisit.headers["memento-datetime"] == "Sat, 03 Feb 2024 04:05:06 GMT"
    # stopped on exit: nothing listens on its port any more
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_wacz_validate_rejects_a_plain_zip(replay_tools: ReplayTools, tmp_path: Path) -> None:
    plain = tmp_path / "plain.wacz"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("hello.txt", "not a web archive\n")
    result = replay_tools.wacz_validate(plain)
    assert result.returncode != 0, result.stdout
    assert "invalid wacz" in result.stdout.lower()


def test_wacz_validate_accepts_a_wacz_made_by_wacz(
    replay_tools: ReplayTools, warcs: Warcs, tmp_path: Path
) -> None:
    # the control for the test above: the same command passes a real WACZ
    wacz = tmp_path / "made.wacz"
    made = replay_tools.run("wacz", "create", "-o", str(wacz), str(warcs.captures))
    assert made.returncode == 0, made.stderr[-2000:]
    result = replay_tools.wacz_validate(wacz)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "Validation succeeded" in result.stdout
