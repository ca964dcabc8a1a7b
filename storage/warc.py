"""WARC/1.1 files: one writer per open file, request/response pairs, rotation by size.

Files are named ``{prefix}-{yyyymmddHHMMSS}-{serial:05d}-{hostname}.warc.gz``, written as
``….warc.gz.open`` and renamed when closed. Each record is gzipped on its own, at ``gzip_level``
(so any record can be read from its offset) and each file opens with a warcinfo record. The writer
takes plain values (:class:`Exchange`) and knows nothing of Scrapy; it is not thread-safe: one
thread owns it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from storage.atomic import fsync_dir
from storage.layout import OPEN_SUFFIX, ArchiveLayout, safe_hostname, utc_now

logger = logging.getLogger(__name__)

# Twisted hands over the body with its chunked framing removed; a record that still said
# "Transfer-Encoding: chunked" would not parse as HTTP. Content-Encoding (gzip, br) is kept.
DROPPED_RESPONSE_HEADERS = {"transfer-encoding"}
IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


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
        gzip_level: int = 6,
        fsync_each: bool = False,
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
        self.broken: str | None = None  # why the open file may not be written to or renamed
        self._broken_by: BaseException | None = None
        self._serial = 0
        self._fh: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._name = ""
        self._warcinfo_id = ""

    def write_exchange(self, ex: Exchange) -> WarcRef:
        writer = self._ensure_open()
        common = self._common(ex.fetched_at, ex.ip_address)
        http_resp = _response_headers(ex)
        response = writer.create_warc_record(
            ex.url,
            "response",
            payload=io.BytesIO(ex.response_body),
            length=len(ex.response_body),
            http_headers=http_resp,
            warc_headers_dict=dict(common),
        )
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request = self._request_record(
            writer, ex.url, ex.method, ex.request_headers, ex.request_body, ex.protocol,
            {**common, "WARC-Concurrent-To": response_id},
        )  # fmt: skip

        return self._write_pair(response, request, "response")

    def write_revisit(
        self, ex: Exchange, profile: str, original: Mapping[str, Any], digest: str
    ) -> WarcRef:
        """A revisit record instead of a response: HTTP headers only, referring to the original
        capture (its URI, date and record id). `profile` is IDENTICAL_PAYLOAD (the body is the
        same as the original's) or SERVER_NOT_MODIFIED (a 304)."""
        writer = self._ensure_open()
        common = self._common(ex.fetched_at, ex.ip_address)
        revisit = writer.create_revisit_record(
            ex.url, digest, original["url"], original["warc_date"],
            http_headers=_response_headers(ex),
            warc_headers_dict={**common, "WARC-Refers-To": original["record_id"]},
        )  # fmt: skip
        revisit.rec_headers.replace_header("WARC-Profile", profile)
        revisit_id = revisit.rec_headers.get_header("WARC-Record-ID")
        request = self._request_record(
            writer, ex.url, ex.method, ex.request_headers, ex.request_body, ex.protocol,
            {**common, "WARC-Concurrent-To": revisit_id},
        )  # fmt: skip
        return self._write_pair(revisit, request, "revisit")

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
        metadata = writer.create_warc_record(
            url, "metadata", payload=io.BytesIO(fields), length=len(fields),
            warc_content_type="application/warc-fields",
            warc_headers_dict={**common, "WARC-Concurrent-To": request_id},
        )  # fmt: skip
        return self._write_pair(request, metadata, "request")

    def _write_pair(self, first: Any, second: Any, record_type: str) -> WarcRef:
        """Write the two records of one exchange, back to back in the open file (a reader of
        the file never finds one without the other, but at a cut end). Returns where `first`
        is. A file past max_size is closed at the next write, once the caller has recorded this
        one (`before_close` commits what it knows of the file).

        Both records are in the kernel (flushed) before this returns, so what is decided on the
        strength of the returned place (a text that names its record) survives a SIGKILL of
        the process; `fsync_each` also makes it survive a power cut, at the price of a disk
        flush per exchange."""
        fh = self._fh
        assert self._writer is not None and fh is not None
        offset = fh.tell()
        try:
            self._writer.write_record(first)
            length = fh.tell() - offset
            self._writer.write_record(second)
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
            length=length,
            record_id=headers.get_header("WARC-Record-ID"),
            payload_digest=headers.get_header("WARC-Payload-Digest"),
            record_type=record_type,
            warc_date=headers.get_header("WARC-Date"),
        )
        return ref

    def _common(self, fetched_at: datetime, ip_address: str | None) -> dict[str, str]:
        date = datetime_to_iso_date(fetched_at.replace(tzinfo=None), use_micros=True)
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": self._warcinfo_id}
        if ip_address:
            common["WARC-IP-Address"] = ip_address
        return common

    def _request_record(
        self, writer: WARCWriter, url: str, method: str, headers: list[tuple[str, str]],
        body: bytes, protocol: str, warc_headers: dict[str, str],
    ) -> Any:  # fmt: skip
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(headers)
        if not any(k.lower() == "host" for k, _ in headers):
            headers.insert(0, ("Host", parts.netloc))
        http_req = StatusAndHeaders(f"{method} {target} {protocol}", headers, is_http_request=True)
        return writer.create_warc_record(
            url, "request", payload=io.BytesIO(body), length=len(body), http_headers=http_req,
            warc_headers_dict=warc_headers,
        )  # fmt: skip

    def close(self) -> None:
        """Flush, fsync and rename the open file to its final name; after a failed write (or a
        failed `before_close`), close it and leave it ``.open`` for the next crawl's repair."""
        if self._fh is None:
            return
        if self.broken is None and self.before_close is not None:
            try:
                self.before_close()
            except BaseException as exc:
                self.broken = f"recording its records failed: {type(exc).__name__}: {exc}"
                self._broken_by = exc
                raise
        fh, self._fh, self._writer = self._fh, None, None
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
        # warcio gzips at level 9 only; it writes plain records into _GzipMembers instead
        self._writer = WARCWriter(
            _GzipMembers(self._fh, self.gzip_level), gzip=False, warc_version="1.1"
        )
        self._name = name
        info = self._writer.create_warcinfo_record(name, self.warcinfo)
        self._warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self._writer.write_record(info)
        self.files_written.append(name)
        logger.info("opened WARC file %s", name)
        return self._writer


class _GzipMembers:
    """The file WARCWriter(gzip=False) writes to: each record, which the writer ends with a
    flush(), becomes a gzip member of its own in `fh`, as warcio's gzip=True would make it."""

    def __init__(self, fh: BinaryIO, level: int) -> None:
        self.fh = fh
        self.level = level
        self._gz = self._compressor()

    def _compressor(self) -> Any:
        # zlib-ng: the same gzip, at the same level and within 0.5 % of the same size, for about
        # half of zlib's CPU (0.51 instead of 0.91 ms for a 60 KB news page at level 6)
        return zlib_ng.compressobj(self.level, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self.fh.write(self._gz.compress(data))
        return len(data)

    def flush(self) -> None:
        self.fh.write(self._gz.flush())
        self._gz = self._compressor()


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


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest of a body as warcio writes it: sha1, base32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _response_headers(ex: Exchange) -> StatusAndHeaders:
    return StatusAndHeaders(
        f"{ex.status} {_reason(ex.status)}".strip(),
        [(k, v) for k, v in ex.response_headers if k.lower() not in DROPPED_RESPONSE_HEADERS],
        protocol=ex.protocol,
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
