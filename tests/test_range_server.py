"""testkit/range_server.py, the byte-range file server the ReplayWeb.page tests serve WACZ files
from, against urllib: whole files, each form of a single range, HEAD, 404 and 416."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.range_server import Hit, RangeServer, parse_range

BODY = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable mod 256
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Got:
    status: int
    headers: dict[str, str]
    body: bytes


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Got:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with _NO_PROXY.open(request, timeout=10) as resp:
            return Got(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Got(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[RangeServer, str]]:
    path = tmp_path / "x.wacz"
    path.write_bytes(BODY)
    with RangeServer() as server:
        yield server, server.add("/archives/x.wacz", path)


def test_parse_range() -> None:
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=95-200", 100) == (95, 99)  # clipped to the end
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=-500", 100) == (0, 99)
    assert parse_range("bytes=100-", 100) is None
    assert parse_range("bytes=-0", 100) is None
    for bad in ("bytes=5-1", "bytes=-", "items=0-1", "bytes=0-1,5-6"):
        with pytest.raises(ValueError):
            parse_range(bad, 100)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-0", 0, 0), ("bytes=1000-4999", 1000, 4999), ("bytes=10000-", 10000, 10239),
     ("bytes=-65558", 0, 10239), ("bytes=-40", 10200, 10239)],
)  # fmt: skip
def test_a_range(served: tuple[RangeServer, str], header: str, first: int, last: int) -> None:
    server, url = served
    got = get(url, {"Range": header})
    assert got.status == 206
    assert got.body == BODY[first : last + 1]
    assert got.headers["content-range"] == f"bytes {first}-{last}/{len(BODY)}"
    assert got.headers["content-length"] == str(last - first + 1)
    assert server.hits_for("/archives/x.wacz")[-1] == Hit("GET", "/archives/x.wacz", header, 206)


def test_head_says_the_size_and_sends_nothing(served: tuple[RangeServer, str]) -> None:
    _, url = served
    got = get(url, {"Range": "bytes=0-"}, method="HEAD")
    assert got.status == 206
    assert got.body == b""
    assert got.headers["content-range"] == f"bytes 0-{len(BODY) - 1}/{len(BODY)}"


def test_a_range_past_the_end_is_416(served: tuple[RangeServer, str]) -> None:
    _, url = served
    got = get(url, {"Range": f"bytes={len(BODY)}-"})
    assert got.status == 416
    assert got.headers["content-range"] == f"bytes */{len(BODY)}"


def test_a_range_it_does_not_take_gets_the_whole_file(served: tuple[RangeServer, str]) -> None:
    server, url = served
    got = get(url, {"Range": "bytes=0-1,5-6"})
    assert got.status == 200
    assert got.body == BODY
    # a whole file still says it takes ranges: ReplayWeb.page asks for them next
    assert got.headers["accept-ranges"] == "bytes"
    assert got.headers["content-length"] == str(len(BODY))
    assert got.headers["content-type"] == "application/wacz+zip"
    assert server.hits_for("/archives/x.wacz") == [
        Hit("GET", "/archives/x.wacz", "bytes=0-1,5-6", 200)
    ]


def test_only_what_is_added_is_served(served: tuple[RangeServer, str], tmp_path: Path) -> None:
    server, url = served
    assert get(server.base + "/archives/").status == 404
    assert get(server.base + "/x.wacz").status == 404
    assert get(url + "?any=query").body == BODY  # the query string is not part of the path
    assert server.add_bytes("/page.html", b"<p>hi</p>", "text/html") == server.base + "/page.html"
    assert get(server.base + "/page.html").body == b"<p>hi</p>"
    with pytest.raises(FileNotFoundError):
        server.add("/missing", tmp_path / "missing")
