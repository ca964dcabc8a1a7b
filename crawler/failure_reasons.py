"""Name why a request ended without a page: the ``reason`` of failure records and stats."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

TIMEOUTS = (tx_error.TimeoutError, tx_error.TCPTimedOutError)
DNS = (tx_error.DNSLookupError,)
CONNECTION = (
    tx_error.ConnectionRefusedError, tx_error.ConnectionDone, tx_error.ConnectError,
    tx_error.ConnectionLost, ResponseFailed, ResponseNeverReceived,
)  # fmt: skip


def http_reason(status: int) -> str:
    """http_403, http_404, http_429…; every 5xx is http_5xx."""
    return "http_5xx" if 500 <= status <= 599 else f"http_{status}"


def failure_reason(failure: Failure) -> str | None:
    """The reason token for a request's failure; None for requests turned away on purpose."""
    if isinstance(failure.value, HttpError):
        return http_reason(failure.value.response.status)
    if failure.check(IgnoreRequest):
        return None  # robots.txt, offsite, dont_* decisions are not failures of the outlet
    if failure.check(*TIMEOUTS):
        return "timeout"
    if failure.check(*DNS):
        return "dns"
    if failure.check(*CONNECTION):
        return "connection"
    return failure.type.__name__.lower() if failure.type else "error"
