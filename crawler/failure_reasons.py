"""Name why a request ended without a page: the ``reason`` of failure records and stats.

Reasons: ``http_403``, ``http_404``, ``http_429``… (every 5xx is ``http_5xx``), ``timeout``,
``dns``, ``connection``, ``truncated``, ``too_large``, ``redirect_loop``, ``soft_404``,
``blocked``, ``not_html`` and ``charset_mismatch`` (the spider), ``url_too_long``
(:mod:`crawler.middlewares.url_length`), and from the pipelines ``extraction_empty``-like
reasons of the extractor.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error
from twisted.python.failure import Failure

# By class name, so that Scrapy's and Twisted's exceptions across versions map alike.
EXCEPTION_REASONS = {
    "DownloadTimeoutError": "timeout",
    "TimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
    "CannotResolveHostError": "dns",
    "DNSLookupError": "dns",
    "ResponseDataLossError": "truncated",
    "DownloadCancelledError": "too_large",  # Scrapy cancels a body past DOWNLOAD_MAXSIZE
    "CancelledError": "too_large",
    "DownloadConnectionRefusedError": "connection",
    "ConnectionRefusedError": "connection",
    "DownloadFailedError": "connection",
    "ConnectionDone": "connection",
    "ConnectionLost": "connection",
    "ConnectError": "connection",
    "ResponseFailed": "connection",
    "ResponseNeverReceived": "connection",
}


def http_reason(status: int) -> str:
    """http_403, http_404, http_429…; every 5xx is http_5xx."""
    return "http_5xx" if 500 <= status <= 599 else f"http_{status}"


def _data_loss_reason(exc: BaseException) -> str:
    """A body cut short: 'connection' when the peer reset the connection (a non-clean close),
    'truncated' when it closed cleanly before Content-Length bytes came."""
    for failure in getattr(exc.__cause__, "reasons", None) or []:
        value = getattr(failure, "value", None)
        if isinstance(value, tx_error.ConnectionLost) and not isinstance(
            value, tx_error.ConnectionDone
        ):
            return "connection"
    return "truncated"


def exception_reason(exc: BaseException) -> str:
    if type(exc).__name__ == "ResponseDataLossError":
        return _data_loss_reason(exc)
    for cls in type(exc).__mro__:
        if cls.__name__ in EXCEPTION_REASONS:
            reason = EXCEPTION_REASONS[cls.__name__]
            if reason == "connection" and "_DataLoss" in repr(exc):
                return "truncated"  # Twisted's ResponseFailed([_DataLoss]): body cut short
            return reason
    return type(exc).__name__.lower()


def failed_request(failure: Failure) -> Any:
    """The Request a failure is about: on the failure (Scrapy's errbacks) or on its exception
    (HttpError, IgnoreRequest); None if neither says."""
    return getattr(failure, "request", None) or getattr(failure.value, "request", None)


def failure_reason(failure: Failure) -> str | None:
    """The reason token for a request's failure; None when nothing failed (a retry is
    scheduled) or the request was turned away on purpose (robots.txt, offsite)."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return http_reason(exc.response.status)
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        if "max redirections" in message:
            return "redirect_loop"
        if "DOWNLOAD_MAXSIZE" in message or "download max size" in message:
            return "too_large"  # HttpCompressionMiddleware: a decompression bomb
        return None
    return exception_reason(exc) if exc is not None else "error"
