"""WARC capture: records built from the bytes as received, read back with warcio.

The extension's thread-side steps (_open, _write, _close) are driven directly, so the test needs
no reactor; the end-to-end crawl test covers the signal wiring.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator

from crawler.extensions.warc_capture import WarcCapture, to_exchange
from crawler.settings_check import SettingsError
from storage.manifest import Manifest
from tests.helpers import project_crawler

HTML = b"<html><body><p>" + b"Plain synthetic paragraph. " * 40 + b"</p></body></html>"
NAME_RE = re.compile(r"^capture-\d{14}-\d{5}-[A-Za-z0-9_]+\.warc\.gz$")


def make_capture(tmp_path: Path, **settings: Any) -> WarcCapture:
    crawler = project_crawler(Spider, ARCHIVE_DIR=str(tmp_path), WARC_PREFIX="capture", **settings)
    ext = WarcCapture.from_crawler(crawler)
    ext._open(ext.warcinfo(crawler.spider))
    return ext


def response(url: str, status: int, body: bytes, **headers: str) -> Response:
    request = Request(url, headers={"User-Agent": "newsarchiver-test", "Accept-Encoding": "gzip"})
    return Response(
        url, status=status, headers=headers, body=body, request=request,
        ip_address=ipaddress.ip_address("127.0.0.1"), protocol="HTTP/1.1",
    )  # fmt: skip


def records(path: Path) -> list[Any]:
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            raw = rec.raw_stream.read()
            out.append((rec, raw))
    return out


def test_exchanges_are_request_response_pairs_as_received(tmp_path: Path) -> None:
    ext = make_capture(tmp_path)
    gz = gzip.compress(HTML)
    answers = [
        response("http://127.0.0.1:1/gz", 200, gz, **{"Content-Encoding": "gzip",
                 "Content-Type": "text/html", "Transfer-Encoding": "chunked"}),
        response("http://127.0.0.1:1/old", 301, b"", Location="/new"),
        response("http://127.0.0.1:1/gone", 404, b"not here", **{"Content-Type": "text/plain"}),
    ]  # fmt: skip
    refs = [ext._write(to_exchange(r.request, r)) for r in answers]
    ext._close()

    (warc,) = (tmp_path / "warc").iterdir()
    assert NAME_RE.match(warc.name), warc.name  # closed: no .open suffix left
    recs = records(warc)
    info, *rest = recs
    assert info[0].rec_type == "warcinfo"
    fields = info[1].decode()
    for key in ("software: newsarchiver/", "format: WARC File Format 1.1", "hostname: ",
                "newsarchiver-config: "):  # fmt: skip
        assert key in fields
    assert [r.rec_type for r, _ in rest] == ["response", "request"] * 3
    by_id = {r.rec_headers.get_header("WARC-Record-ID"): r for r, _ in rest}
    for (resp, body), (req, _), answer, ref in zip(
        rest[::2], rest[1::2], answers, refs, strict=True
    ):
        assert resp.rec_headers.get_header("WARC-Target-URI") == answer.url
        assert req.rec_headers.get_header("WARC-Target-URI") == answer.url
        assert by_id[req.rec_headers.get_header("WARC-Concurrent-To")] is resp
        assert resp.http_headers.get_statuscode() == str(answer.status)
        assert resp.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        assert resp.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
        assert resp.rec_headers.get_header("WARC-Block-Digest").startswith("sha1:")
        assert req.http_headers.protocol == "GET"
        assert req.http_headers.get_header("User-Agent") == "newsarchiver-test"
        assert req.http_headers.get_header("Host") == "127.0.0.1:1"
        assert ref.warc_file == warc.name and ref.record_id in by_id
        assert body == answer.body  # the payload is the body as received: gzip stays gzip
    gz_resp = rest[0][0]
    assert gz_resp.http_headers.get_header("Content-Encoding") == "gzip"
    assert gz_resp.http_headers.get_header("Transfer-Encoding") is None  # de-chunked by Twisted

    # each offset points at its response record, readable on its own
    with warc.open("rb") as fh:
        fh.seek(refs[2].offset)
        rec = next(iter(ArchiveIterator(fh)))
        assert rec.rec_headers.get_header("WARC-Target-URI") == "http://127.0.0.1:1/gone"
        assert rec.content_stream().read() == b"not here"

    manifest = Manifest(tmp_path / "manifest.sqlite")
    rows = manifest.query("SELECT url, status, warc_offset FROM captures ORDER BY id")
    assert [(r["url"], r["status"], r["warc_offset"]) for r in rows] == [
        (a.url, a.status, ref.offset) for a, ref in zip(answers, refs, strict=True)
    ]
    stats = ext.stats.get_stats()
    assert stats["warc/records/response"] == 3 and stats["warc/files"] == 1


def test_files_rotate_at_warc_max_size_each_with_warcinfo(tmp_path: Path) -> None:
    ext = make_capture(tmp_path, WARC_MAX_SIZE=64 * 1024)
    for i in range(6):  # incompressible 40 KB bodies: a file closes once past 64 KB, so two each
        r = response(f"http://127.0.0.1:1/{i}", 200, os.urandom(40_000))
        ext._write(to_exchange(r.request, r))
    ext._close()
    files = sorted((tmp_path / "warc").iterdir())
    assert len(files) == 3
    assert all(NAME_RE.match(f.name) for f in files)
    serials = [int(f.name.split("-")[2]) for f in files]
    assert serials == sorted(set(serials))
    targets = []
    for f in files:
        recs = records(f)
        assert recs[0][0].rec_type == "warcinfo"
        targets += [r.rec_headers.get_header("WARC-Target-URI") for r, _ in recs[1::2]]
    assert targets == [f"http://127.0.0.1:1/{i}" for i in range(6)]
    assert ext.stats.get_value("warc/files") == 3


def test_dont_archive_meta_keeps_an_exchange_out(tmp_path: Path) -> None:
    ext = make_capture(tmp_path)
    r = response("http://127.0.0.1:1/private", 200, b"x")
    r.request.meta["dont_archive"] = True
    ext.response_downloaded(r, r.request, ext.crawler.spider)
    ext._close()
    assert "warc" not in r.request.meta
    assert ext.stats.get_value("warc/skipped/dont_archive") == 1


def test_gzip_level_applies_and_each_record_is_a_gzip_member_of_its_own(tmp_path: Path) -> None:
    sizes = {}
    for level in (0, 9):
        ext = make_capture(tmp_path / str(level), WARC_GZIP_LEVEL=level)
        for i in range(3):  # three bodies: a repeated one would be a revisit record
            body = HTML.replace(b"</p>", f" Page {i}.</p>".encode())
            r = response(f"http://127.0.0.1:1/{i}", 200, body, **{"Content-Type": "text/html"})
            ext._write(to_exchange(r.request, r))
        ext._close()
        (path,) = (tmp_path / str(level) / "warc").iterdir()
        sizes[level] = path.stat().st_size
        data = path.read_bytes()
        manifest = Manifest(tmp_path / str(level) / "manifest.sqlite")
        rows = manifest._db.execute(
            "SELECT warc_offset, warc_length FROM captures ORDER BY warc_offset"
        ).fetchall()
        manifest.close()
        assert len(rows) == 3
        for offset, length in rows:  # a reader seeks to a record and gunzips it alone
            member = gzip.decompress(data[offset : offset + length])
            assert member.startswith(b"WARC/1.1\r\n") and b"Plain synthetic paragraph" in member
        assert [r.rec_type for r, _ in records(path)] == ["warcinfo"] + ["response", "request"] * 3
    assert sizes[0] > 2 * sizes[9]  # level 0 stores, level 9 compresses


def test_an_exchange_is_in_the_file_when_its_place_is_returned(tmp_path: Path) -> None:
    # what a SIGKILL leaves is what the kernel has: both records must be there, not in a buffer
    ext = make_capture(tmp_path)
    r = response("http://127.0.0.1:1/a", 200, HTML, **{"Content-Type": "text/html"})
    ref = ext._write(to_exchange(r.request, r))
    (open_file,) = (tmp_path / "warc").glob("*.open")
    data = open_file.read_bytes()  # another reader, as the next crawl's repair would be
    member = gzip.decompress(data[ref.offset : ref.offset + ref.length])
    assert member.startswith(b"WARC/1.1\r\n") and b"WARC-Type: response" in member
    assert [rec.rec_type for rec, _ in records(open_file)] == ["warcinfo", "response", "request"]
    ext._close()


def test_a_rotated_file_has_every_capture_row_before_it_is_renamed(tmp_path: Path) -> None:
    ext = make_capture(tmp_path, WARC_MAX_SIZE=64 * 1024)
    for i in range(3):  # two 40 KB bodies fill the first file; the third opens the next one
        r = response(f"http://127.0.0.1:1/{i}", 200, os.urandom(40_000))
        ext._write(to_exchange(r.request, r))
    closed = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(closed) == 1
    manifest = Manifest(tmp_path / "manifest.sqlite")  # a separate connection: committed rows
    rows = manifest.query("SELECT url FROM captures WHERE warc_file = ?", (closed[0].name,))
    manifest.close()
    assert sorted(r["url"] for r in rows) == ["http://127.0.0.1:1/0", "http://127.0.0.1:1/1"]
    ext._close()


@pytest.mark.parametrize(("policy", "per_exchange"), [("close", 0), ("record", 1)])
def test_warc_fsync_record_fsyncs_each_exchange(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, per_exchange: int
) -> None:
    ext = make_capture(tmp_path, WARC_FSYNC=policy)
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    for i in range(3):
        r = response(f"http://127.0.0.1:1/{i}", 200, os.urandom(1000))
        ext._write(to_exchange(r.request, r))
    # "record": the WARC file once per exchange, and the directory once for the new file
    assert len(synced) == 3 * per_exchange + per_exchange
    ext._close()
    with pytest.raises(SettingsError, match=r"WARC_FSYNC must be one of close, record"):
        make_capture(tmp_path / "bad", WARC_FSYNC="sometimes")


class CountedSha1:
    """A hashlib sha1 that counts the bytes it is given (one per hash computed)."""

    def __init__(self, real: Any, made: list[CountedSha1], data: bytes = b"") -> None:
        self.real, self.hashed = real, 0
        made.append(self)
        self._made = made
        self.update(data)

    def update(self, data: bytes) -> None:
        self.hashed += len(data)
        self.real.update(data)

    def digest(self) -> bytes:
        return bytes(self.real.digest())

    def copy(self) -> CountedSha1:
        twin = CountedSha1(self.real.copy(), self._made)
        twin.hashed = self.hashed
        return twin


def counting_sha1(monkeypatch: pytest.MonkeyPatch) -> list[CountedSha1]:
    """Every sha1 made from now on, ours (hashlib.sha1) and warcio's (hashlib.new)."""
    made: list[CountedSha1] = []
    real_sha1, real_new = hashlib.sha1, hashlib.new

    def sha1(data: bytes = b"", **kwargs: Any) -> CountedSha1:
        return CountedSha1(real_sha1(**kwargs), made, data)

    def new(name: str, data: bytes = b"", **kwargs: Any) -> Any:
        if name.lower() != "sha1":
            return real_new(name, data, **kwargs)
        return CountedSha1(real_new(name, **kwargs), made, data)

    monkeypatch.setattr(hashlib, "sha1", sha1)
    monkeypatch.setattr(hashlib, "new", new)
    return made


def blocks(path: Path) -> dict[str, int]:
    """Record type -> bytes of its block (Content-Length), of the file's last exchange."""
    return {rec.rec_type: int(rec.rec_headers.get_header("Content-Length"))
            for rec, _ in records(path)[-2:]}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "repeat"), [(200, False), (404, False), (200, True)], ids=["page", "404", "revisit"]
)
def test_each_digest_of_an_exchange_is_hashed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, repeat: bool
) -> None:
    # A response's WARC-Payload-Digest hashes the body, its WARC-Block-Digest the HTTP headers
    # and the body: each hashed once (the payload digest is also the revisit test's), none
    # again by warcio. The body goes through sha1 twice, once per digest: the block's hash runs
    # over the headers before the body, so it cannot take over the payload's (which starts at
    # the body); nothing is hashed a third time. Before: three times (the revisit test, warcio's
    # payload digest, warcio's block digest).
    ext = make_capture(tmp_path)
    body = HTML * 50  # 55 KB: sha1 lets go of the interpreter lock for it
    headers = {"Content-Type": "text/html; charset=utf-8"}
    # the file's first exchange (the file opens with a warcinfo record, hashed once a file);
    # the same body at another URL makes the one counted an identical-payload revisit
    first = response("http://127.0.0.1:1/first", 200, body if repeat else b"other", **headers)
    ext._write(to_exchange(first.request, first))
    made = counting_sha1(monkeypatch)
    r = response("http://127.0.0.1:1/page", status, body, **headers)
    ref = ext._write(to_exchange(r.request, r))
    monkeypatch.undo()
    ext._close()
    (warc,) = (tmp_path / "warc").iterdir()
    stored = blocks(warc)
    if repeat:
        assert ref.record_type == "revisit"
        # the body once (the revisit test), the revisit's block (HTTP headers), the request's
        assert sorted(h.hashed for h in made) == sorted(
            [len(body), stored["revisit"], stored["request"]]
        )
    else:
        assert ref.record_type == "response"
        # payload (the body), block (headers + body), the request's block; its empty payload's
        # digest is a copy of sha1(b""), made once
        assert sorted(h.hashed for h in made) == sorted(
            [len(body), stored["response"], stored["request"]]
        )
        hashed, block = sum(h.hashed for h in made), stored["response"] + stored["request"]
        assert hashed == block + len(body)  # every stored byte once, and the body once more
    # and the digests are right: warcio checks them on reading
    with warc.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            rec.raw_stream.read()
            assert rec.digest_checker.passed is not False, rec.rec_type
