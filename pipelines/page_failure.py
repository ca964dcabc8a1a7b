"""The ``page_failed`` payload: the keyword arguments every sender of the signal hands the
failure recorder (:class:`crawler.extensions.failures.FailureRecorder`).

One builder, so that every failure row names its URL by one rule:

- the URL is the one the crawl **found** (an outlet's link, a feed or sitemap entry, a start URL,
  an earlier run's failure row), before redirects: ``meta["redirect_urls"][0]`` of the request,
  else its URL. An :class:`ArticleItem`'s ``url`` is that URL already. A failure heals by it
  (``page_ok`` is sent for every URL of a redirect chain), and the next run requests it again.
- a URL past ``URLLENGTH_LIMIT`` (reason :data:`URL_TOO_LONG`) is shown shortened, the first
  :data:`SHOWN_CHARS` characters and "…" (a manifest row, a log line, a table cell each hold
  it): such a row names no URL that can be requested, and is never retried
  (``storage.failures.NOT_REQUESTABLE``). No other URL is shortened: its row is requested again.

The payload's keys: ``url``, ``outlet``, ``reason``, ``status`` (int or None), ``attempts``
(requests made for it, this one included), ``detail``, ``kind`` (the request's meta kind),
``retry_after`` (seconds the server asked for, or None) and ``due_now`` (retry in the next run
without the backoff: the failure was the crawl's, not the page's).

Reads no settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from scrapy import Request

URL_TOO_LONG = "url_too_long"
SHOWN_CHARS = 200


class FailedItem(Protocol):
    """What the builder reads of an item (``ArticleItem``): a page fetched, its text not kept."""

    url: str  # before redirects
    outlet: str
    http_status: int


def shown_url(url: str) -> str:
    """The URL as a failure row of an over-long URL holds it: SHOWN_CHARS characters and '…'."""
    return url if len(url) <= SHOWN_CHARS else url[:SHOWN_CHARS] + "…"


def found_url(url: str, meta: Mapping[str, Any]) -> str:
    """The URL a request was made for before redirects: what a failure row names."""
    return str((meta.get("redirect_urls") or [url])[0])


def payload(
    url: str,
    outlet: str | None,
    reason: str,
    *,
    status: int | None = None,
    attempts: int = 1,
    detail: str = "",
    kind: str | None = None,
    retry_after: float | None = None,
    due_now: bool = False,
) -> dict[str, Any]:
    """The signal's keyword arguments; `url` is taken as it is (the callers below choose it)."""
    return {
        "url": url,
        "outlet": outlet,
        "reason": reason,
        "status": status,
        "attempts": attempts,
        "detail": detail,
        "kind": kind,
        "retry_after": retry_after,
        "due_now": due_now,
    }


def from_meta(
    url: str,
    meta: Mapping[str, Any],
    reason: str,
    *,
    status: int | None = None,
    detail: str = "",
    attempts: int | None = None,
    due_now: bool = False,
) -> dict[str, Any]:
    """The payload for a request (its `url` and `meta`, or a response's) that failed.

    `attempts` defaults to the requests made for it: ``retry_times`` + 1 (the one that failed);
    a request that never went out (a retry that waited, a link too long) says its own.
    """
    shown = found_url(url, meta)
    if reason == URL_TOO_LONG:
        shown = shown_url(shown)
    return payload(
        shown,
        meta.get("outlet"),
        reason,
        status=status,
        attempts=meta.get("retry_times", 0) + 1 if attempts is None else attempts,
        detail=detail,
        kind=meta.get("kind"),
        retry_after=meta.get("retry_after"),
        due_now=due_now,
    )


def from_request(
    request: Request,
    reason: str,
    *,
    status: int | None = None,
    detail: str = "",
    attempts: int | None = None,
    due_now: bool = False,
) -> dict[str, Any]:
    """:func:`from_meta` for a request."""
    return from_meta(request.url, request.meta, reason, status=status, detail=detail,
                     attempts=attempts, due_now=due_now)  # fmt: skip


def from_item(
    item: FailedItem, reason: str, *, detail: str = "", due_now: bool = False
) -> dict[str, Any]:
    """The payload for an article page fetched whose text is not stored (no article, its WARC
    record or its text not written): one attempt, kind ``page``, the page's status."""
    return payload(
        item.url,
        item.outlet,
        reason,
        status=item.http_status,
        attempts=1,
        detail=detail,
        kind="page",
        due_now=due_now,
    )
