"""WARC/1.1 files: one writer per open file, request/response pairs, rotation by size.

Files are named ``{prefix}-{yyyymmddHHMMSS}-{serial:05d}-{hostname}.warc.gz``, written as
``….warc.gz.open`` and renamed when closed. Each record is gzipped on its own, at ``gzip_level``
(so any record can be read from its offset) and each file opens with a warcinfo record. The writer
takes plain values (:class:`Exchange`) and knows nothing of Scrapy; it is not thread-safe: one
thread owns it.

Each digest is computed once, here, and handed to warcio with the record (warcio computes a
digest only when the record has none): the payload digest of a response is the one the caller
decided "revisit?" with (:func:`payload_sha1`), the block digest hashes the HTTP headers and
then the body (the body twice in all: a hash of the block cannot start from the payload's); a
record whose block is its payload (metadata) takes one hash for both. A record is gzipped in
one call (a few for bodies past ``WHOLE_MEMBER_MAX``) and both records of an exchange reach the
file in one write: compression runs without the interpreter lock, but each call that lets go of
it must take it back from the reactor thread, and under load that wait is what costs
(``python -m bench.gil_bench``).

The pieces of a record (its HTTP header block, its payload read in one piece, its digests, its
gzip member) are :mod:`storage.warc_blocks`. As it appends a response or revisit record the
writer makes its CDXJ line (:func:`storage.index.record_entry`: URL, time, status, digest, mime,
place, file; revisits resolved with the captures row they refer to); when the file is closed and
renamed, its lines are its index part, written atomically (:func:`storage.index.write_part`). A
file left ``.open`` has no part: the repair and the index's rebuild make it from the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from storage.atomic import fsync_dir
from storage.clock import utc_now
from storage.index import entry_line, record_entry, resolved_line, short_profile, write_part
from storage.layout import OPEN_SUFFIX, ArchiveLayout, safe_hostname
from storage.warc_blocks import (
    EMPTY_SHA1,
    GzipMembers,
    RecordBody,
    record_id,
    response_headers,
    sha1_digest,
)

logger = logging.getLogger(__name__)

IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
WARC_VERSION = "WARC/1.1"


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and the response to it, as sent and received."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    fetched_at: datetime
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None


@dataclass(frozen=True)
class WarcRef:
    """Where the response record of an exchange was written."""

    warc_file: str
    offset: int
    length: int
    record_id: str
    payload_digest: str | None
    record_type: str = "response"  # or "revisit", or "request" for an attempt with no answer
    warc_date: str = ""


class WarcWriterBroken(RuntimeError):
    """A write failed earlier: the writer takes no more records."""


class WarcFileWriter:
    def __init__(
        self,
        layout: ArchiveLayout,
        prefix: str,
        max_size: int,
        warcinfo: Mapping[str, str],
        hostname: str | None = None,
        *,
        gzip_level: int,
        fsync_each: bool,
        before_close: Callable[[], None] | None = None,
    ) -> None:
        self.layout = layout
        self.gzip_level = gzip_level
        self.fsync_each = fsync_each
        # called before a file is closed and renamed (the caller commits what it knows of it)
        self.before_close = before_close
        self.prefix = prefix
        self.max_size = max_size
        self.warcinfo = dict(warcinfo)
        self.hostname = hostname or safe_hostname()
        self.files_written: list[str] = []
        self.parts_written: list[str] = []  # closed files whose index part is written
        self.broken: str | None = None  # why the open file may not be written to or renamed
        self._broken_by: BaseException | None = None
        self._serial = 0
        self._fh: BinaryIO | None = None
        self._members: GzipMembers | None = None
        self._writer: WARCWriter | None = None
        self._name = ""
        self._warcinfo_id = ""
        self._lines: list[str] = []  # the open file's CDXJ lines

    def write_exchange(self, ex: Exchange, body_sha1: Any = None) -> WarcRef:
        """A response record and its request record. `body_sha1`: the body's hashlib sha1, if
        the caller has it (it decided "revisit?" with it: :func:`payload_sha1`), not to hash
        the body again."""
        writer = self._ensure_open()
        common = self._common(ex.fetched_at, ex.ip_address)
        response_id = record_id()
        payload = body_sha1 if body_sha1 is not None else hashlib.sha1(ex.response_body)
        response = self._record(writer, "response", ex.url, response_id, common,
                                response_headers(ex), ex.response_body, payload)  # fmt: skip
        request = self._request_record(
            writer, ex.url, ex.method, ex.request_headers, ex.request_body, ex.protocol,
            [*common, ("WARC-Concurrent-To", response_id)],
        )  # fmt: skip
        return self._write_pair(response, request, "response")

    def write_revisit(
        self, ex: Exchange, profile: str, original: Mapping[str, Any], digest: str
    ) -> WarcRef:
        """A revisit record instead of a response: HTTP headers only, referring to the original
        capture (its URI, date and record id). `profile` is IDENTICAL_PAYLOAD (the body is the
        same as the original's) or SERVER_NOT_MODIFIED (a 304). `original` is its captures row
        (what its index line is resolved with)."""
        writer = self._ensure_open()
        common = self._common(ex.fetched_at, ex.ip_address)
        revisit_id = record_id()
        revisit = self._record(
            writer, "revisit", ex.url, revisit_id,
            [*common, ("WARC-Refers-To", original["record_id"]), ("WARC-Profile", profile),
             ("WARC-Refers-To-Target-URI", original["url"]),
             ("WARC-Refers-To-Date", original["warc_date"]), ("WARC-Payload-Digest", digest)],
            response_headers(ex), b"", None,
        )  # fmt: skip
        request = self._request_record(
            writer, ex.url, ex.method, ex.request_headers, ex.request_body, ex.protocol,
            [*common, ("WARC-Concurrent-To", revisit_id)],
        )  # fmt: skip
        return self._write_pair(revisit, request, "revisit", original)

    def write_failed_attempt(
        self, url: str, method: str, request_headers: list[tuple[str, str]],
        request_body: bytes, error: str, fetched_at: datetime,
    ) -> WarcRef:  # fmt: skip
        """An attempt that got no response (timeout, reset, cut short, too large): the request
        record, and a metadata record naming the error, linked by WARC-Concurrent-To."""
        writer = self._ensure_open()
        common = self._common(fetched_at, None)
        request = self._request_record(writer, url, method, request_headers, request_body,
                                       "HTTP/1.1", common)  # fmt: skip
        request_id = request.rec_headers.get_header("WARC-Record-ID")
        fields = f"fetch-error: {error}\r\n".encode()
        metadata = self._record(
            writer, "metadata", url, record_id(), [*common, ("WARC-Concurrent-To", request_id)],
            None, fields, hashlib.sha1(fields), content_type="application/warc-fields",
        )  # fmt: skip
        return self._write_pair(request, metadata, "request")

    def _record(
        self, writer: WARCWriter, rec_type: str, url: str, record_id: str,
        headers: list[tuple[str, str]], http: StatusAndHeaders | None, body: bytes, payload: Any,
        content_type: str = "",
    ) -> Any:  # fmt: skip
        """A record with both digests set, each hashed once: `payload` (a hashlib sha1 of
        `body`) is the payload digest, and the block digest's too when there are no HTTP
        headers; with them the block digest hashes the headers, then the body. None: a
        revisit, whose payload digest is in `headers` and whose block is the headers only."""
        warc_headers = [("WARC-Type", rec_type), ("WARC-Record-ID", record_id),
                        ("WARC-Target-URI", url), *headers]  # fmt: skip
        if http is None:
            block = payload
        else:
            http.compute_headers_buffer()  # the bytes warcio writes (it makes them again, the same)
            block = hashlib.sha1(http.headers_buff)
            if payload is not None and body:
                block.update(body)
        if payload is not None:
            warc_headers.append(("WARC-Payload-Digest", sha1_digest(payload)))
        warc_headers.append(("WARC-Block-Digest", sha1_digest(block)))
        return writer.create_warc_record(
            url, rec_type, payload=RecordBody(body) if body else None, length=len(body),
            warc_content_type=content_type, http_headers=http,
            warc_headers=StatusAndHeaders("", warc_headers, protocol=WARC_VERSION),
        )  # fmt: skip

    def _write_pair(
        self, first: Any, second: Any, record_type: str,
        original: Mapping[str, Any] | None = None,
    ) -> WarcRef:  # fmt: skip
        """Write the two records of one exchange, back to back in the open file (a reader of
        the file never finds one without the other, but at a cut end), in one write. Returns
        where `first` is. A file past max_size is closed at the next write, once the caller has
        recorded this one (`before_close` commits what it knows of the file).

        Both records are in the kernel (flushed) before this returns, so what is decided on the
        strength of the returned place (a text that names its record) survives a SIGKILL of
        the process; `fsync_each` also makes it survive a power cut, at the price of a disk
        flush per exchange."""
        fh, members = self._fh, self._members
        assert self._writer is not None and fh is not None and members is not None
        offset = fh.tell()
        try:
            self._writer.write_record(first)
            self._writer.write_record(second)
            one, two = members.take()
            fh.write(one + two)
            fh.flush()
            if self.fsync_each:
                os.fsync(fh.fileno())
        except BaseException as exc:
            # part of a record may be in the file and the rest in the buffer: nothing more may
            # go after it, and the file must stay .open for the next crawl's repair to cut
            self.broken = f"{type(exc).__name__}: {exc}"
            self._broken_by = exc
            raise
        headers = first.rec_headers
        ref = WarcRef(
            warc_file=self._name,
            offset=offset,
            length=len(one),
            record_id=headers.get_header("WARC-Record-ID"),
            payload_digest=headers.get_header("WARC-Payload-Digest"),
            record_type=record_type,
            warc_date=headers.get_header("WARC-Date"),
        )
        if record_type in ("response", "revisit"):
            self._index(first, ref, original)
        return ref

    def _index(self, record: Any, ref: WarcRef, original: Mapping[str, Any] | None) -> None:
        """The CDXJ line of a response or revisit record just written at `ref`."""
        headers = record.rec_headers
        http = record.http_headers.headers_buff if record.http_headers else None
        entry = record_entry(
            record.rec_type, headers.get_header("WARC-Target-URI"), ref.warc_date, http,
            ref.payload_digest, ref.offset, ref.length, ref.warc_file,
        )  # fmt: skip
        line = None
        if record.rec_type == "revisit":
            line = resolved_line(
                entry, original, short_profile(headers.get_header("WARC-Profile") or "")
            )
        self._lines.append(line or entry_line(entry))

    def _common(self, fetched_at: datetime, ip_address: str | None) -> list[tuple[str, str]]:
        """WARC headers every record of an exchange has, after its type and id."""
        date = datetime_to_iso_date(fetched_at.replace(tzinfo=None), use_micros=True)
        common = [("WARC-Date", date)]
        if ip_address:
            common.append(("WARC-IP-Address", ip_address))
        common.append(("WARC-Warcinfo-ID", self._warcinfo_id))
        return common

    def _request_record(
        self, writer: WARCWriter, url: str, method: str, headers: list[tuple[str, str]],
        body: bytes, protocol: str, warc_headers: list[tuple[str, str]],
    ) -> Any:  # fmt: skip
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(headers)
        if not any(k.lower() == "host" for k, _ in headers):
            headers.insert(0, ("Host", parts.netloc))
        http_req = StatusAndHeaders(f"{method} {target} {protocol}", headers, is_http_request=True)
        payload = hashlib.sha1(body) if body else EMPTY_SHA1.copy()
        return self._record(writer, "request", url, record_id(), warc_headers, http_req, body,
                            payload)  # fmt: skip

    def close(self) -> None:
        """Flush, fsync and rename the open file to its final name, then write its index
        part; after a failed write (or a failed `before_close`), close it and leave it
        ``.open`` for the next crawl's repair (and no part)."""
        if self._fh is None:
            return
        if self.broken is None and self.before_close is not None:
            try:
                self.before_close()
            except BaseException as exc:
                self.broken = f"recording its records failed: {type(exc).__name__}: {exc}"
                self._broken_by = exc
                raise
        fh, self._fh, self._writer, self._members = self._fh, None, None, None
        lines, self._lines = self._lines, []
        if self.broken is not None:
            with contextlib.suppress(OSError):  # what is left to flush may not fit either
                fh.close()
            logger.warning("left %s%s for the next crawl to repair (%s)", self._name, OPEN_SUFFIX,
                           self.broken)  # fmt: skip
            return
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        open_path = self.layout.warc_dir / (self._name + OPEN_SUFFIX)
        os.replace(open_path, self.layout.warc_dir / self._name)
        fsync_dir(self.layout.warc_dir)
        logger.info("closed WARC file %s", self._name)
        try:
            write_part(self.layout, self._name, lines)
        except OSError as exc:  # the file is whole and closed: the index makes its part from it
            logger.warning("could not write the index part of %s (%s): the index makes it from "
                           "the file", self._name, exc)  # fmt: skip
            return
        self.parts_written.append(self._name)

    def _ensure_open(self) -> WARCWriter:
        if self.broken is not None:
            raise WarcWriterBroken(f"no more WARC records after a failed write ({self.broken})"
                                   ) from self._broken_by  # fmt: skip
        if self._fh is not None and self._fh.tell() >= self.max_size:
            self.close()  # rotation: the file is full; everything written to it is recorded
        if self._writer is not None and self._fh is not None:
            return self._writer
        opened = utc_now()
        while True:
            name = self.layout.warc_name(self.prefix, opened, self._serial, self.hostname)
            self._serial += 1
            path = self.layout.warc_dir / name
            if not path.exists() and not Path(str(path) + OPEN_SUFFIX).exists():
                break
        self._fh = open(str(path) + OPEN_SUFFIX, "xb")  # noqa: SIM115 - closed by close()
        if self.fsync_each:  # its name too must survive a power cut, not only its bytes
            fsync_dir(self.layout.warc_dir)
        # warcio gzips at level 9 only; it writes plain records into GzipMembers instead
        self._members = GzipMembers(self.gzip_level)
        self._writer = WARCWriter(self._members, gzip=False, warc_version="1.1")
        self._name = name
        self._lines = []
        info = self._writer.create_warcinfo_record(name, self.warcinfo)
        self._warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self._writer.write_record(info)
        (member,) = self._members.take()
        self._fh.write(member)
        self.files_written.append(name)
        logger.info("opened WARC file %s", name)
        return self._writer


def capture_row(
    ref: WarcRef, *, run_id: str | None, url: str, method: str, status: int | None,
    fetched_at: str, headers: Mapping[str, str],
) -> dict[str, Any]:  # fmt: skip
    """The manifest's ``captures`` row of one exchange written at `ref` (`headers`: the
    response's, lower-cased names)."""
    return {
        "run_id": run_id, "url": url, "method": method, "status": status,
        "fetched_at": fetched_at, "warc_file": ref.warc_file, "warc_offset": ref.offset,
        "warc_length": ref.length, "record_id": ref.record_id, "record_type": ref.record_type,
        "warc_date": ref.warc_date, "payload_digest": ref.payload_digest,
        "content_type": headers.get("content-type"), "etag": headers.get("etag"),
        "last_modified": headers.get("last-modified"),
    }  # fmt: skip
