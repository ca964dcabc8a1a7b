"""Repair of .open WARC files: real files from WarcFileWriter, cut as a SIGKILL would leave them.

Each test writes exchanges, closes the writer, then puts the bytes back under the ``.open`` name
cut at a chosen offset: the same bytes a killed writer would have left in the page cache.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage.layout import OPEN_SUFFIX, ArchiveLayout
from storage.warc import Exchange, WarcFileWriter
from storage.warc_repair import repair_open_warcs, repair_warc
from tests.helpers import warc_writer_settings

WARCIO = Path(sys.executable).parent / "warcio"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def exchange(i: int, body: bytes, **headers: str) -> Exchange:
    return Exchange(
        url=f"http://news.example/{i}", method="GET",
        request_headers=[("User-Agent", "newsarchiver-test")], request_body=b"",
        status=200, response_headers=[("Content-Type", "text/html"), *headers.items()],
        response_body=body, fetched_at=WHEN, ip_address="127.0.0.1",
    )  # fmt: skip


def bodies(n: int) -> list[bytes]:
    # incompressible, so compressed offsets track the payload and a cut lands mid-payload
    return [os.urandom(20_000 + 1000 * i) for i in range(n)]


def write_warc(tmp_path: Path, n: int = 3, failed: bool = False) -> tuple[ArchiveLayout, Path]:
    layout = ArchiveLayout(tmp_path).ensure()
    writer = WarcFileWriter(layout, "test", 1 << 30, {"software": "newsarchiver-test"}, "host",
                            **warc_writer_settings())  # fmt: skip
    for i, body in enumerate(bodies(n)):
        writer.write_exchange(exchange(i, body))
    if failed:
        writer.write_failed_attempt("http://news.example/timeout", "GET", [], b"", "timeout", WHEN)
    writer.close()
    (path,) = layout.closed_warcs()
    return layout, path


def members(path: Path) -> list[tuple[str, str, int, int]]:
    """(type, target URI, offset, end) of every record, as warcio reads them."""
    out = []
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            rec.raw_stream.read()
            start, length = it.get_record_offset(), it.get_record_length()
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            out.append((rec.rec_type, uri, start, start + length))
    return out


def kill_at(path: Path, cut: int, keep_closed: bool = False) -> Path:
    """Leave `path` as a killed writer would have: the first `cut` bytes, under the .open name."""
    data = path.read_bytes()
    if not keep_closed:
        path.unlink()
    open_path = path.with_name(path.name + OPEN_SUFFIX)
    open_path.write_bytes(data[:cut])
    return open_path


def replace_member(path: Path, index: int, edit: Callable[[bytes], bytes]) -> None:
    """Rewrite one record as a whole, valid gzip member whose decompressed bytes were edited."""
    data = path.read_bytes()
    _, _, start, end = members(path)[index]
    record = gzip.decompress(data[start:end])
    edited = edit(record)
    assert edited != record
    path.write_bytes(data[:start] + gzip.compress(edited) + data[end:])


def check_repaired(layout: ArchiveLayout, expected: list[tuple[str, str]]) -> Path:
    """No .open left, `warcio check` passes, and the file holds exactly `expected` records."""
    assert layout.open_warcs() == []
    (path,) = layout.closed_warcs()
    result = subprocess.run([str(WARCIO), "check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(t, u) for t, u, _, _ in members(path)] == expected
    return path


def expected_records(exchanges: range, failed: bool = False) -> list[tuple[str, str]]:
    out = [("warcinfo", "")]
    for i in exchanges:
        url = f"http://news.example/{i}"
        out += [("response", url), ("request", url)]
    if failed:
        url = "http://news.example/timeout"
        out += [("request", url), ("metadata", url)]
    return out


def test_clean_end_keeps_everything(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    layout, path = write_warc(tmp_path)
    kill_at(path, path.stat().st_size)
    with caplog.at_level(logging.INFO, logger="storage.warc_repair"):
        (result,) = repair_open_warcs(layout)
    assert [r.getMessage() for r in caplog.records] == [
        f"repaired {path.name}.open -> {path.name}: kept 7 records, dropped 0 bytes"
    ]
    assert (result.name, result.records_kept, result.bytes_dropped) == (path.name, 7, 0)
    assert not result.removed
    check_repaired(layout, expected_records(range(3)))


@pytest.mark.parametrize("where", ["mid-member", "mid-payload", "gzip-trailer", "one-byte"])
def test_cut_in_the_last_record_drops_its_whole_exchange(tmp_path: Path, where: str) -> None:
    layout, path = write_warc(tmp_path)
    recs = members(path)
    *_, (_, _, resp_start, resp_end), (_, _, req_start, req_end) = recs
    cut = {
        "mid-member": (req_start + req_end) // 2,  # the request (second half) is cut
        "mid-payload": (resp_start + resp_end) // 2,  # in the 22 KB random response body
        "gzip-trailer": req_end - 4,  # the record itself is whole; the gzip ISIZE is not
        "one-byte": resp_start + 1,
    }[where]
    kill_at(path, cut)
    (result,) = repair_open_warcs(layout)
    # the response of a cut request is dropped too: an exchange is kept whole or not at all
    assert result.records_kept == 5 and not result.removed
    assert result.bytes_dropped == cut - resp_start
    repaired = check_repaired(layout, expected_records(range(2)))
    assert repaired.stat().st_size == resp_start


def test_cut_between_response_and_request_drops_the_orphan_response(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path)
    (_, _, resp_start, resp_end) = members(path)[3]  # response of exchange 1
    kill_at(path, resp_end)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (3, resp_end - resp_start)
    check_repaired(layout, expected_records(range(1)))


def test_failed_attempt_pairs_are_kept_or_dropped_whole(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path, n=2, failed=True)
    *_, (_, _, req_start, _), (meta_type, _, meta_start, meta_end) = members(path)
    assert meta_type == "metadata"
    kill_at(path, (meta_start + meta_end) // 2)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (
        5,
        (meta_start + meta_end) // 2 - req_start,
    )
    check_repaired(layout, expected_records(range(2)))


def test_complete_failed_attempt_at_the_end_is_kept(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path, n=1, failed=True)
    kill_at(path, path.stat().st_size)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (5, 0)
    check_repaired(layout, expected_records(range(1), failed=True))


def test_only_the_warcinfo_survives(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path)
    (_, _, _, info_end), (_, _, _, resp_end) = members(path)[:2]
    kill_at(path, resp_end - 10)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped, result.removed) == (
        1, resp_end - 10 - info_end, False,
    )  # fmt: skip
    check_repaired(layout, [("warcinfo", "")])


@pytest.mark.parametrize("cut", [0, 5, "half"])
def test_nothing_valid_removes_the_file(tmp_path: Path, cut: int | str) -> None:
    layout, path = write_warc(tmp_path)
    info_end = members(path)[0][3]
    size = info_end // 2 if cut == "half" else int(cut)
    kill_at(path, size)
    (result,) = repair_open_warcs(layout)
    assert (result.name, result.records_kept, result.bytes_dropped, result.removed) == (
        path.name,
        0,
        size,
        True,
    )
    assert result.written_as == path.name and result.captures == ()
    assert list(layout.warc_dir.iterdir()) == []


def test_bad_digest_cuts_at_that_record(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path)
    # a whole gzip member, a whole record, but its block no longer matches WARC-Block-Digest
    replace_member(path, 4, lambda rec: rec.replace(b"newsarchiver-test", b"newsarchiver-TEST"))
    _, _, resp_start, _ = members(path)[3]
    size = path.stat().st_size
    kill_at(path, size)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (3, size - resp_start)
    check_repaired(layout, expected_records(range(1)))


@pytest.mark.parametrize("delta", [-1, 1, 10])
def test_content_length_mismatch_cuts_at_that_record(tmp_path: Path, delta: int) -> None:
    layout, path = write_warc(tmp_path, n=2)
    _, _, start, _ = members(path)[3]

    def lie_about_length(record: bytes) -> bytes:
        # digests dropped, so only the framing can tell that Content-Length is wrong
        record = re.sub(rb"WARC-(Block|Payload)-Digest: [^\r]*\r\n", b"", record)
        declared = int(re.search(rb"Content-Length: (\d+)", record)[1])  # type: ignore[index]
        return record.replace(b"Content-Length: %d" % declared,
                              b"Content-Length: %d" % (declared + delta))  # fmt: skip

    replace_member(path, 4, lie_about_length)
    size = path.stat().st_size
    kill_at(path, size)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (3, size - start)
    check_repaired(layout, expected_records(range(1)))


def test_a_record_without_digests_but_right_length_is_kept(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path, n=2)
    replace_member(
        path, 4, lambda rec: re.sub(rb"WARC-(Block|Payload)-Digest: [^\r]*\r\n", b"", rec)
    )
    kill_at(path, path.stat().st_size)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (5, 0)
    check_repaired(layout, expected_records(range(2)))


def test_garbage_after_the_last_record_is_cut(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path, n=2)
    size = path.stat().st_size
    open_path = kill_at(path, size)
    with open_path.open("ab") as fh:
        fh.write(b"\0" * 4096)  # what a lost, unsynced page can read back as
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (5, 4096)
    check_repaired(layout, expected_records(range(2)))


def test_body_that_is_broken_gzip_is_still_a_valid_record(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path).ensure()
    writer = WarcFileWriter(layout, "test", 1 << 30, {"software": "newsarchiver-test"}, "host",
                            **warc_writer_settings())  # fmt: skip
    writer.write_exchange(exchange(0, b"\x1f\x8b not really gzip", **{"Content-Encoding": "gzip"}))
    writer.close()
    (path,) = layout.closed_warcs()
    kill_at(path, path.stat().st_size)
    (result,) = repair_open_warcs(layout)
    assert (result.records_kept, result.bytes_dropped) == (3, 0)
    check_repaired(layout, expected_records(range(1)))


def test_an_existing_final_name_is_not_overwritten(tmp_path: Path) -> None:
    layout, path = write_warc(tmp_path)
    closed = path.read_bytes()
    kill_at(path, members(path)[3][2], keep_closed=True)
    (result,) = repair_open_warcs(layout)
    assert result.name == path.name.replace(".warc.gz", "-repaired.warc.gz")
    assert path.read_bytes() == closed
    repaired = layout.warc_dir / result.name
    assert [(t, u) for t, u, _, _ in members(repaired)] == expected_records(range(1))
    assert layout.open_warcs() == []


def test_every_open_file_is_repaired_and_closed_ones_are_left_alone(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path).ensure()
    assert repair_open_warcs(layout) == []
    writer = WarcFileWriter(layout, "test", 1 << 30, {"software": "newsarchiver-test"}, "host",
                            **warc_writer_settings())  # fmt: skip
    for i, body in enumerate(bodies(3)):
        writer.write_exchange(exchange(i, body))
        writer.close()  # one file per exchange
    first, second, third = layout.closed_warcs()
    kill_at(first, first.stat().st_size - 1)
    kill_at(second, second.stat().st_size)
    untouched = third.read_bytes()
    results = repair_open_warcs(layout)
    assert [(r.name, r.records_kept) for r in results] == [(first.name, 1), (second.name, 3)]
    assert layout.open_warcs() == [] and third.read_bytes() == untouched


def test_a_closed_file_is_refused(tmp_path: Path) -> None:
    _, path = write_warc(tmp_path, n=1)
    with pytest.raises(ValueError):
        repair_warc(path)


@pytest.mark.skipif(not hasattr(WarcFileWriter, "write_revisit"), reason="no revisit records")
@pytest.mark.parametrize("cut_after_revisit", [True, False])
def test_revisit_pairs_are_kept_or_dropped_whole(tmp_path: Path, cut_after_revisit: bool) -> None:
    from storage.warc import IDENTICAL_PAYLOAD  # with write_revisit
    from storage.warc_blocks import payload_digest

    layout = ArchiveLayout(tmp_path).ensure()
    writer = WarcFileWriter(layout, "test", 1 << 30, {"software": "newsarchiver-test"}, "host",
                            **warc_writer_settings())  # fmt: skip
    body = b"<p>same story</p>"
    ref = writer.write_exchange(exchange(0, body))
    original = {"url": "http://news.example/0", "warc_date": ref.warc_date,
                "record_id": ref.record_id}  # fmt: skip
    writer.write_revisit(exchange(0, b""), IDENTICAL_PAYLOAD, original, payload_digest(body))
    writer.close()
    (path,) = layout.closed_warcs()
    *_, (rev_type, _, rev_start, rev_end), _ = members(path)
    assert rev_type == "revisit"
    cut = rev_end if cut_after_revisit else path.stat().st_size
    kill_at(path, cut)
    (result,) = repair_open_warcs(layout)
    url = "http://news.example/0"
    if cut_after_revisit:
        assert (result.records_kept, result.bytes_dropped) == (3, rev_end - rev_start)
        check_repaired(layout, expected_records(range(1)))
    else:
        assert (result.records_kept, result.bytes_dropped) == (5, 0)
        check_repaired(layout, [*expected_records(range(1)), ("revisit", url), ("request", url)])
