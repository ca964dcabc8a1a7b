"""Repair the ``.open`` WARC files a killed crawl left behind, before a new crawl writes any.

A writer killed mid-record leaves a ``….warc.gz.open`` file whose last gzip member may be cut
anywhere. :func:`repair_warc` keeps the longest prefix of complete, valid records, cuts the rest
off in place, fsyncs, and renames the file to its final name, so every closed WARC in the archive
reads cleanly end to end. A trailing response, revisit or request whose partner record did not
make it is cut as well: an exchange is kept whole or not at all. A repaired file has no index
part until the index makes it from the file (:func:`storage.index.update_index`).
"""

from __future__ import annotations

import itertools
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator

from storage.atomic import fsync_dir
from storage.layout import OPEN_SUFFIX, WARC_SUFFIX, ArchiveLayout
from storage.warc import WarcRef, capture_row

logger = logging.getLogger(__name__)

CHUNK = 1 << 20  # read and decompress in bounded pieces: a record can be a large body
RECORD_END = b"\r\n\r\n"  # what the WARC format puts after every record block
# Types the writer only ever writes as the first of a pair (the second names it in
# WARC-Concurrent-To): response + request, revisit + request, request + metadata.
PAIRED_TYPES = {"response", "revisit", "request"}


@dataclass(frozen=True)
class RepairResult:
    name: str  # final file name (without .open)
    records_kept: int  # records in the repaired file, warcinfo included
    bytes_dropped: int  # bytes cut from the end (0 when the file ended cleanly)
    removed: bool  # nothing valid was left (not even a warcinfo) and the file was deleted
    # the manifest's captures rows of the exchanges kept (response or revisit, with the method
    # of its request), re-derived from the records: the crawl commits them in batches, so a kill
    # can lose rows of records that survived
    captures: tuple[dict[str, Any], ...] = ()
    written_as: str = ""  # the name the crawl wrote it under, which its manifest rows name


@dataclass(frozen=True)
class _Record:
    start: int  # offset of this record's gzip member
    end: int  # offset just past it
    rec_type: str
    record_id: str
    concurrent_to: str | None  # set on the second record of a pair
    url: str = ""
    warc_date: str = ""
    payload_digest: str | None = None
    http: tuple[str, dict[str, str]] | None = None  # status line (or request line), headers
    fields: dict[str, str] | None = None  # a warcinfo record's fields


class _Slice:
    """Read at most `length` bytes of `fh`, so warcio sees one gzip member and nothing past it."""

    def __init__(self, fh: BinaryIO, length: int) -> None:
        self._fh = fh
        self._left = length
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos


def _member_end(fh: BinaryIO, start: int) -> int | None:
    """Offset just past the gzip member at `start`, or None if it is cut short or corrupt.

    warcio's reader happily returns what a truncated member decompresses to, so a record cut in
    its gzip trailer would look whole to it; zlib here insists on the trailer and its CRC.
    """
    fh.seek(start)
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pos = start
    try:
        while not decomp.eof:
            chunk = fh.read(CHUNK)
            if not chunk:
                return None
            pos += len(chunk)
            data = chunk
            while data and not decomp.eof:
                decomp.decompress(data, CHUNK)  # bounded output: we only want the boundary
                data = decomp.unconsumed_tail
    except zlib.error:
        return None
    return pos - len(decomp.unused_data)


def _parse_member(fh: BinaryIO, start: int, end: int) -> _Record | None:
    """The member's single WARC record if it is whole and its digests match, else None."""
    fh.seek(start)
    it = ArchiveIterator(_Slice(fh, end - start), check_digests=True)
    try:
        rec = next(it)
        headers = rec.rec_headers
        http = None
        if rec.http_headers is not None:
            h = rec.http_headers
            http = (h.statusline, {k.lower(): v for k, v in h.headers})
        # raw_stream, not content_stream(): a body received as broken gzip is still a valid record
        block = b""
        while piece := rec.raw_stream.read(CHUNK):
            if rec.rec_type == "warcinfo" and len(block) < CHUNK:
                block += piece
        declared = int(headers.get_header("Content-Length"))
        if rec.length != declared or rec.digest_checker.passed is False:
            return None
        # After the block: exactly the record terminator, then the end of the member. A short
        # block (never reaching the digest check) leaves no tail; a Content-Length that
        # understates the block leaves a longer one.
        tail = b""
        while piece := it.reader.read(CHUNK):
            tail += piece
            if len(tail) > len(RECORD_END):
                return None
        if tail != RECORD_END:
            return None
        fields = None
        if rec.rec_type == "warcinfo":
            text = block.decode("utf-8", "replace")
            pairs = (line.partition(":") for line in text.splitlines())
            fields = {k.strip(): v.strip() for k, _, v in pairs}
        return _Record(
            start=start,
            end=end,
            rec_type=rec.rec_type or "",
            record_id=headers.get_header("WARC-Record-ID") or "",
            concurrent_to=headers.get_header("WARC-Concurrent-To"),
            url=headers.get_header("WARC-Target-URI") or "",
            warc_date=headers.get_header("WARC-Date") or "",
            payload_digest=headers.get_header("WARC-Payload-Digest"),
            http=http,
            fields=fields,
        )
    except Exception:  # any parse failure means this record, and all after it, are lost
        return None
    finally:
        it.close()


def _captures(records: list[_Record], warc_file: str) -> list[dict[str, Any]]:
    """A captures row for every response or revisit whose request record follows it, as
    :class:`crawler.extensions.warc_capture.WarcCapture` writes them."""
    run_id = next((r.fields.get("isPartOf") for r in records if r.fields), None)
    rows = []
    for first, second in itertools.pairwise(records):
        if first.rec_type not in ("response", "revisit") or second.rec_type != "request":
            continue
        if second.concurrent_to != first.record_id or first.http is None:
            continue
        status_line, headers = first.http
        status = status_line.split(" ", 1)[0]
        request_line = second.http[0] if second.http else "GET"
        ref = WarcRef(warc_file, first.start, first.end - first.start, first.record_id,
                      first.payload_digest, first.rec_type, first.warc_date)  # fmt: skip
        rows.append(capture_row(
            ref, run_id=run_id, url=first.url, method=request_line.split(" ", 1)[0],
            status=int(status) if status.isdigit() else None,
            # WarcCapture's fetched_at is the WARC-Date to the second
            fetched_at=first.warc_date[:19] + "Z", headers=headers,
        ))  # fmt: skip
    return rows


def _valid_prefix(fh: BinaryIO, size: int) -> list[_Record]:
    records: list[_Record] = []
    offset = 0
    while offset < size:
        end = _member_end(fh, offset)
        record = _parse_member(fh, offset, end) if end is not None else None
        if record is None:
            break
        records.append(record)
        offset = record.end
    # A kill between the two records of a pair leaves the first alone at the end: drop it, so an
    # exchange is archived whole or not at all. Only the last record can be such an orphan, as
    # the writer writes both halves before returning.
    if records and records[-1].rec_type in PAIRED_TYPES and records[-1].concurrent_to is None:
        records.pop()
    return records


def _final_path(open_path: Path) -> Path:
    final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
    if not final.exists():
        return final
    # Never overwrite a finished file: the manifest may point at offsets inside it.
    stem = final.name[: -len(WARC_SUFFIX)] if final.name.endswith(WARC_SUFFIX) else final.name
    n = 1
    while True:
        suffix = "-repaired" if n == 1 else f"-repaired-{n}"
        candidate = final.with_name(f"{stem}{suffix}{WARC_SUFFIX}")
        if not candidate.exists():
            return candidate
        n += 1


def repair_warc(
    path: Path, before_close: Callable[[RepairResult], None] | None = None
) -> RepairResult:
    """Keep every complete, valid record of a .open WARC, drop a truncated tail, fsync, rename to
    the final name (with ``-repaired`` added if that name is taken). A file with no valid record
    left is deleted.

    `before_close(result)` runs once the file is cut and before it is renamed or deleted: a caller
    that squares the manifest with it there (:func:`storage.evidence.reconcile`) and fails (a
    full disk) leaves the file ``.open``, so the next start repairs it, and squares it, again."""
    if not path.name.endswith(OPEN_SUFFIX):
        raise ValueError(f"not an open WARC file: {path}")
    with path.open("r+b") as fh:
        size = os.fstat(fh.fileno()).st_size
        records = _valid_prefix(fh, size)
        keep = records[-1].end if records else 0
        if records:
            if keep < size:
                os.truncate(fh.fileno(), keep)
            os.fsync(fh.fileno())
    final = _final_path(path)
    written_as = path.name[: -len(OPEN_SUFFIX)]
    # rows name the file as the crawl did (its name without .open), even if it has to move
    result = RepairResult(final.name, len(records), size - keep, not records,
                          tuple(_captures(records, written_as)), written_as)  # fmt: skip
    if before_close is not None:
        before_close(result)
    if not records:
        path.unlink()
        fsync_dir(path.parent)
        logger.warning("removed %s: no complete WARC record (%d bytes dropped)", path.name, size)
        return result
    os.replace(path, final)
    fsync_dir(path.parent)
    logger.warning(
        "repaired %s -> %s: kept %d records, dropped %d bytes",
        path.name, final.name, len(records), size - keep,
    )  # fmt: skip
    return result


def repair_open_warcs(
    layout: ArchiveLayout, before_close: Callable[[RepairResult], None] | None = None
) -> list[RepairResult]:
    """Repair every .open file in layout.warc_dir (called at crawl start, before a new writer
    opens a file). An index part under a repaired file's name is dropped first: a writer writes
    parts of closed files only, so it was made of other bytes; the index makes it again from the
    repaired file."""
    if not layout.warc_dir.is_dir():
        return []
    results = []
    for path in layout.open_warcs():
        name = path.name[: -len(OPEN_SUFFIX)]
        if not (layout.warc_dir / name).exists():  # else the part is that closed file's
            layout.index_part_path(name).unlink(missing_ok=True)
        results.append(repair_warc(path, before_close))
    return results
