"""Capture every HTTP exchange of the crawl into WARC files, bytes as received.

Listens to Scrapy's ``response_downloaded`` signal, which fires before any downloader middleware
has touched the response: the body is still Content-Encoded (gzip stays gzip), redirects and
error answers (3xx, 403, 404, 5xx) are there, and so are robots.txt, sitemaps and feeds. The
writes run in one writer thread (one writer per open file, nothing blocking the reactor); a
:class:`~pipelines.twisted_util.Pending` for the response record's place is put on
``request.meta["warc"]`` so that the item pipelines can name the record in the sidecar. Each
written exchange is also a row in the manifest's ``captures`` table.

Exchanges waiting for the writer are bounded: past ``WARC_MAX_PENDING_BYTES`` the engine is paused
(no new downloads) until the writer has caught up to half of it.

Evidence comes before text: the Pending resolves only once both records of the exchange are in
the file (flushed to the kernel, so a SIGKILL cannot take them; ``WARC_FSYNC = "record"`` also
fsyncs each exchange, against power cuts; files are always fsynced at rotation and close). The
``captures`` rows go to the manifest in batches and always before a file is closed; after a
kill, the repair re-derives the rows a batch lost, and drops any text whose record did not
survive (:mod:`storage.evidence`), before the crawl makes its first request. Each write first
checks the disk keeps ``ARCHIVE_MIN_FREE_MB`` free; a full disk is the ``disk_full`` signal.

Settings: ``WARC_ENABLED``, ``WARC_PREFIX``, ``WARC_MAX_SIZE``, ``WARC_GZIP_LEVEL``,
``WARC_MAX_PENDING_BYTES``, ``WARC_FSYNC``, ``ARCHIVE_DIR``, ``ARCHIVE_MIN_FREE_MB``.
Per request: ``meta["dont_archive"] = True`` keeps an exchange out of the WARC.
A response whose payload the archive already has is a revisit record (identical-payload-digest)
referring to the first capture (the body's sha1 that finds it is the record's payload digest:
hashed once, :mod:`storage.warc`); a 304 to a conditional request is a revisit record
(server-not-modified). ``.open`` files left by a killed crawl are repaired before the first
write. An attempt that ended without a response (timeout, reset, body cut short or too large) is a
request record and a metadata record naming the error (``download_failed`` signal). Once the
files are closed at the crawl's end, the ``warc_closed`` signal (the index's cue), naming the
files whose index part the writer wrote as it closed them (:mod:`storage.index`: their CDXJ
lines are made as the records are appended, so the index never reads a WARC back).

Stats: ``warc/records/{response,request,metadata}``,
``warc/records/revisit/{identical_payload,server_not_modified}``, ``warc/repaired``,
``warc/repaired/captures_rederived``, ``warc/repaired/captures_removed``,
``warc/repaired/articles_dropped``, ``warc/repaired/texts_dropped``,
``warc/repaired/sidecars_rebuilt`` (sidecars a kill left a copy short),
``warc/files``, ``warc/bytes``,
``warc/skipped/dont_archive``, ``warc/errors``, ``warc/backpressure/paused`` (times the crawl
waited for the writer).
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
from importlib.metadata import version
from typing import Any

import scrapy
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future

from crawler import __version__
from crawler.cluster.state import ClusterState
from crawler.extensions.failures import retry_policy
from crawler.redaction import mask, mask_data
from crawler.settings_check import check_settings
from pipelines import signals as na_signals
from pipelines.run_id import run_id_for
from pipelines.twisted_util import Pending, nudge_engine
from pipelines.writer_thread import WriterThread
from storage.clock import iso, utc_now
from storage.diskspace import check_free, full_error, is_disk_full
from storage.evidence import reconcile
from storage.failures import RetryPolicy
from storage.layout import ArchiveLayout, safe_hostname
from storage.manifest import Manifest
from storage.warc import (
    IDENTICAL_PAYLOAD,
    SERVER_NOT_MODIFIED,
    Exchange,
    WarcFileWriter,
    WarcRef,
    capture_row,
)
from storage.warc_blocks import payload_sha1
from storage.warc_repair import RepairResult, repair_open_warcs

logger = logging.getLogger(__name__)

CAPTURE_BATCH = 100  # manifest rows per transaction


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    # Header bytes are latin-1 on the wire; decoding as latin-1 loses nothing.
    return [
        (key.decode("latin-1"), value.decode("latin-1"))
        for key, values in headers.items()
        for value in values
    ]


def to_exchange(request: Request, response: Response) -> Exchange:
    """The plain values of one exchange, from Scrapy's request and raw response."""
    ip = getattr(response, "ip_address", None)
    return Exchange(
        url=response.url,
        method=request.method,
        request_headers=_header_pairs(request.headers),
        request_body=request.body or b"",
        status=response.status,
        response_headers=_header_pairs(response.headers),
        response_body=response.body,
        fetched_at=utc_now(),
        protocol=getattr(response, "protocol", None) or "HTTP/1.1",
        ip_address=str(ip) if ip else None,
    )


class WarcCapture:
    def __init__(
        self,
        layout: ArchiveLayout,
        prefix: str,
        max_size: int,
        run_id: str,
        stats: StatsCollector,
        *,
        gzip_level: int,
        max_pending_bytes: int,
        fsync_each: bool,
        min_free_bytes: int,
        retry_policy: RetryPolicy,
        cluster: ClusterState | None = None,
    ) -> None:
        self.cluster = cluster  # a distributed crawl's shared state, to square after a repair
        self.fsync_each = fsync_each
        self.min_free_bytes = min_free_bytes
        self.retry_policy = retry_policy
        self.layout = layout
        self.prefix = prefix
        self.max_size = max_size
        self.gzip_level = gzip_level
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self._paused = False
        self.run_id = run_id
        self.stats = stats
        self.writer: WarcFileWriter | None = None
        self.manifest: Manifest | None = None
        self._writer = WriterThread("warc-writer")
        self._rows: list[dict[str, Any]] = []
        self._stopping = False
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCapture:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured("WARC_ENABLED is off")
        check_settings(settings)
        assert crawler.stats is not None
        ext = cls(
            layout=ArchiveLayout(settings["ARCHIVE_DIR"]),
            prefix=settings["WARC_PREFIX"],
            max_size=settings.getint("WARC_MAX_SIZE"),
            run_id=run_id_for(crawler),
            stats=crawler.stats,
            gzip_level=settings.getint("WARC_GZIP_LEVEL"),
            max_pending_bytes=settings.getint("WARC_MAX_PENDING_BYTES"),
            fsync_each=settings.get("WARC_FSYNC") == "record",
            min_free_bytes=int(settings.getfloat("ARCHIVE_MIN_FREE_MB") * 1e6),
            retry_policy=retry_policy(settings),
            cluster=(ClusterState.for_crawler(crawler)
                     if settings.getbool("CLUSTER_ENABLED") else None),
        )  # fmt: skip
        ext.crawler = crawler
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(ext.download_failed, signal=na_signals.download_failed)
        return ext

    def warcinfo(self, spider: Spider) -> dict[str, str]:
        """The fields of each WARC file's warcinfo record; no secret in them (masked)."""
        config = getattr(spider, "crawl_config", None)
        masked_config = mask_data(config.as_dict() if config else {})
        fields = {
            "software": (
                f"newsarchiver/{__version__} (Scrapy/{scrapy.__version__}, "
                f"warcio/{version('warcio')}, Python/{platform.python_version()})"
            ),
            "hostname": safe_hostname(),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.run_id,
            "robots": "obey" if spider.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "http-header-user-agent": spider.settings.get("USER_AGENT"),
            # masked before encoding: a secret with a quote or backslash in it is escaped in JSON
            "newsarchiver-config": json.dumps(masked_config, sort_keys=True),
        }
        return {name: mask(value) for name, value in fields.items()}

    async def spider_opened(self, spider: Spider) -> None:
        # awaited by the engine: the repair has squared texts and records before any request
        d = self._writer.submit(self._open, self.warcinfo(spider))
        d.addErrback(self._write_failed, "(opening the archive)")
        with contextlib.suppress(Exception):  # counted, logged, crawl stopped by _write_failed
            await maybe_deferred_to_future(d)

    def _open(self, warcinfo: dict[str, str]) -> None:
        """Runs in the writer thread, before any write."""
        self.layout.ensure()
        self.manifest = Manifest(self.layout.manifest_path)
        repair_open_warcs(self.layout, self._repaired)  # what a killed crawl left open
        self.writer = WarcFileWriter(
            self.layout, self.prefix, self.max_size, warcinfo, gzip_level=self.gzip_level,
            fsync_each=self.fsync_each, before_close=self._flush_rows,
        )  # fmt: skip

    def _repaired(self, result: RepairResult) -> None:
        """Runs in the writer thread, for each repaired file before it is renamed."""
        assert self.manifest is not None
        self.stats.inc_value("warc/repaired")
        if result.bytes_dropped:
            self.stats.inc_value("warc/repaired_bytes_dropped", result.bytes_dropped)
        done = reconcile(self.layout, self.manifest, result, self.retry_policy, self.run_id)
        self.stats.inc_value("warc/repaired/captures_rederived", done.captures_added)
        self.stats.inc_value("warc/repaired/captures_removed", done.captures_removed)
        self.stats.inc_value("warc/repaired/articles_dropped", done.articles_dropped)
        self.stats.inc_value("warc/repaired/texts_dropped", len(done.texts_dropped))
        self.stats.inc_value("warc/repaired/sidecars_rebuilt", done.sidecars_rebuilt)
        if self.cluster is not None:  # the shared state must not call them stored any more
            for dropped in done.texts_dropped:
                self.cluster.forget_text(dropped.sha256, dropped.seq, dropped.urls)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get("dont_archive"):
            self.stats.inc_value("warc/skipped/dont_archive")
            return
        exchange = to_exchange(request, response)
        size = len(exchange.response_body) + len(exchange.request_body)
        self._waiting(size)
        d = self._writer.submit(self._write, exchange)
        d.addBoth(self._written, size)
        d.addErrback(self._write_failed, response.url)
        request.meta["warc"] = Pending(d)

    def _waiting(self, size: int) -> None:
        """Back-pressure: the writer is behind by more than max_pending_bytes, so no new
        download starts until it has caught up (downloads under way still finish)."""
        self._pending_bytes += size
        engine = self.crawler.engine if self.crawler is not None else None
        if self._pending_bytes > self.max_pending_bytes and not self._paused and engine:
            self._paused = True
            self.stats.inc_value("warc/backpressure/paused")
            engine.pause()

    def _written(self, result: Any, size: int) -> Any:
        """On the reactor, once an exchange is written (or failed)."""
        self._pending_bytes -= size
        engine = self.crawler.engine if self.crawler is not None else None
        if self._paused and self._pending_bytes <= self.max_pending_bytes // 2:
            self._paused = False
            if engine is not None:
                engine.unpause()
                nudge_engine(engine)
        return result

    def download_failed(self, request: Request, exception: BaseException) -> None:
        """An attempt without a response is evidence too: request + metadata records."""
        if request.meta.get("dont_archive"):
            return
        error = f"{type(exception).__name__}: {exception}"[:1000]
        d = self._writer.submit(self._write_failed_attempt, request, error)
        d.addErrback(self._write_failed, request.url)

    def _write_failed_attempt(self, request: Request, error: str) -> WarcRef:
        """Runs in the writer thread."""
        assert self.writer is not None
        check_free(self.layout.root, self.min_free_bytes)
        ref = self.writer.write_failed_attempt(
            request.url, request.method, _header_pairs(request.headers), request.body or b"",
            error, utc_now(),
        )  # fmt: skip
        self.stats.inc_value("warc/records/request")
        self.stats.inc_value("warc/records/metadata")
        return ref

    def _write(self, exchange: Exchange) -> WarcRef:
        """Runs in the writer thread: a response record, or a revisit record when the payload
        is one the archive has (identical-payload-digest) or the server said 304
        (server-not-modified) about a page the archive has."""
        assert self.writer is not None and self.manifest is not None
        check_free(self.layout.root, self.min_free_bytes)
        files_before = len(self.writer.files_written)
        ref = None
        sha1 = None  # the body's, hashed once: the revisit test's digest is the record's
        if exchange.status == 304:
            original = self._original(url=exchange.url)
            if original is not None:
                ref = self.writer.write_revisit(
                    exchange, SERVER_NOT_MODIFIED, original, original["payload_digest"]
                )
                self.stats.inc_value("warc/records/revisit/server_not_modified")
        elif 200 <= exchange.status < 300 and exchange.response_body:
            sha1, digest = payload_sha1(exchange.response_body)
            original = self._original(digest=digest)
            if original is not None:
                ref = self.writer.write_revisit(exchange, IDENTICAL_PAYLOAD, original, digest)
                self.stats.inc_value("warc/records/revisit/identical_payload")
        if ref is None:
            ref = self.writer.write_exchange(exchange, sha1)
            self.stats.inc_value("warc/records/response")
        self.stats.inc_value("warc/records/request")
        self.stats.inc_value("warc/files", len(self.writer.files_written) - files_before)
        self.stats.inc_value("warc/bytes", ref.length + len(exchange.request_body))
        headers = dict((k.lower(), v) for k, v in exchange.response_headers)
        self._rows.append(capture_row(
            ref, run_id=self.run_id, url=exchange.url, method=exchange.method,
            status=exchange.status, fetched_at=iso(exchange.fetched_at), headers=headers,
        ))  # fmt: skip
        if len(self._rows) >= CAPTURE_BATCH:
            self._flush_rows()
        return ref

    def _original(self, url: str | None = None, digest: str | None = None) -> dict[str, Any] | None:
        """The full capture a revisit refers to: among this batch's rows, then the manifest."""
        for row in reversed(self._rows):
            if (
                row["status"] == 200
                and row["record_type"] == "response"
                and (row["url"] == url if url is not None else row["payload_digest"] == digest)
            ):
                return row
        assert self.manifest is not None
        return self.manifest.original_capture(url=url, digest=digest)

    def _flush_rows(self) -> None:
        if self._rows and self.manifest is not None:
            self.manifest.add_captures(self._rows)
            self._rows = []  # only once committed: a failed batch is tried again at close

    def _write_failed(self, failure: Any, url: str) -> Any:
        """A crawl whose evidence cannot be written must not go on as if it were: the first
        failure stops it (a full disk through the disk guard, which says it once); the
        exchanges still in flight after it are only counted."""
        self.stats.inc_value("warc/errors")
        if self._stopping:
            logger.debug("not written (the crawl is stopping): %s", url)
            return failure
        self._stopping = True
        reason = "warc_error"
        if is_disk_full(failure.value):
            reason = "disk_full"
            error = full_error(failure.value, self.layout.root)
            handled = self.crawler is not None and any(
                result is None for _, result in self.crawler.signals.send_catch_log(
                    na_signals.disk_full, error=error, source="warc")
            )  # fmt: skip
            if handled:
                return failure  # the disk guard logs it and stops the crawl
            logger.critical("stopping the crawl: %s", error)
        else:
            logger.error("could not write the WARC records of %s: %s", url,
                         failure.getErrorMessage())  # fmt: skip
            logger.critical("stopping the crawl: WARC capture failed")
        if self.crawler is not None and self.crawler.engine is not None:
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))
        return failure

    def _close(self) -> None:
        """Runs in the writer thread, after every write queued before it."""
        try:
            if self.writer is not None:
                self.writer.close()  # its before_close commits the rows first
            self._flush_rows()
        except Exception as exc:  # survivable: the file stays .open and the next crawl repairs it
            logger.error("could not close the WARC file: %s; the next crawl repairs it", exc)
            if self.writer is not None:
                self.writer.close()  # broken now: closed, left .open
        finally:
            if self.manifest is not None:
                self.manifest.close()

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        await self._writer.close(self._close)  # after every write queued before it
        if self.crawler is not None:  # the files are closed: the index may take them in now
            parts = list(self.writer.parts_written) if self.writer is not None else []
            await self.crawler.signals.send_catch_log_async(
                na_signals.warc_closed, reason=reason, parts=parts
            )
