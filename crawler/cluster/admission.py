"""Admission: what a worker takes from Redis is data, never trusted; requests are rebuilt.

Whoever can write to the shared Redis must not be able to make a worker fetch what the crawl
would not (internal addresses, other sites), run a callback of its choosing, or load a class.
So a request read from the queue (or a lease hash) is not handed to Scrapy's
``request_from_dict`` (which calls ``load_object`` on ``_class`` and looks up any callback
name): :meth:`Admission.admit` rebuilds a plain :class:`scrapy.Request` from an allow-list.

- ``_class`` absent (a plain Request), else rejected (``class``); ``load_object`` is never
  called on queue data.
- method GET or HEAD (``method``), no body (``malformed``); cookies, ``cb_kwargs``, flags and
  encoding are not read.
- the URL http(s) (``scheme``), well-formed and not longer than ``URLLENGTH_LIMIT``
  (``malformed``).
- ``meta["outlet"]`` a configured outlet (``outlet``), ``meta["kind"]`` one the spider makes
  (``kind``); callback and errback exactly the spider methods of that kind (``callback``).
- scope (``scope``): a request (hub, page, feed entry, sitemap, feed, probe) is on one of its
  outlet's hosts (:attr:`OutletConfig.hosts`), and so is the URL it was found at
  (``redirect_urls[0]``: what the archive and the failure log name). So whatever the queue
  holds, a worker fetches nothing but the configured outlets' own URLs.
- no requisite (``requisite``): a page's stylesheets, images, fonts… may be on any host (CDNs),
  so none is taken from the queue, where anyone could name any URL one: the worker that read
  the page fetches its requisites itself, the shared seen-URL filter deciding which worker
  fetches a requisite several pages name (:mod:`crawler.cluster.outgoing`).
- headers: only those the crawl itself puts on a queued request (:data:`HEADERS`); others are
  stripped and counted, the receiving worker's middlewares set theirs again (User-Agent,
  Accept…, its own cookie jar, its own proxy settings).
- meta: only the keys of :data:`META` (types checked, ``malformed`` otherwise); any other key is
  stripped and counted (``proxy``, ``dont_obey_robotstxt``, ``handle_httpstatus_all``,
  ``download_timeout``, ``download_slot``, ``download_maxsize``…: they are each worker's own
  decision).

The writer side uses the same check (:meth:`Admission.reason`) on what it would push: a request
of this process's own that the others would reject (a page redirected to another host, every
requisite) is kept and fetched here (``cluster/kept_local/<reason>``), never pushed to be
dropped.

Shared failure rows (``{ns}:failures``) go through :func:`admitted_failures` before a run
retries them: a row whose URL is out of its outlet's scope, of a kind a run does not retry
(requisites are never listed), or that is not a row, is neither retried nor listed
(``cluster/rejected_failures/<reason>``).

Settings: ``URLLENGTH_LIMIT``, ``REDIRECT_MAX_TIMES``.
Stats: ``cluster/admitted``, ``cluster/admitted/unscoped`` (a spider without outlets: tools and
tests only), ``cluster/rejected/<class|method|malformed|scheme|outlet|kind|requisite|callback|
scope>``, ``cluster/stripped/meta/<key>``, ``cluster/stripped/header/<name>`` (a name outside
a fixed list is counted as ``other``), ``cluster/kept_local/<reason>``,
``cluster/rejected_failures/<reason>``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider

from crawler.outlets import OutletConfig
from crawler.requisite_links import REQUISITE

logger = logging.getLogger(__name__)

# kind -> (callback, errback): the spider's methods for the requests it makes of that kind
CALLBACKS: dict[str, tuple[str, str]] = {
    "hub": ("parse_page", "on_error"),
    "page": ("parse_page", "on_error"),
    "feed_entry": ("parse_page", "on_error"),
    "sitemap": ("parse_sitemap", "on_error"),
    "feed": ("parse_feed", "on_error"),
    "probe": ("parse_probe", "on_probe_error"),
}
FAILURE_KINDS = frozenset({"hub", "page", "feed_entry", "sitemap", "feed"})  # retried by a run
# the headers a queued request of ours carries (spider: validators; Scrapy: Referer)
HEADERS = frozenset({"referer", "if-none-match", "if-modified-since"})
# names counted by name when stripped; any other is "other" (stats keys stay bounded)
KNOWN_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization", "host",
                           "user-agent", "accept", "accept-language", "accept-encoding",
                           "x-forwarded-for", "range"})  # fmt: skip
KNOWN_META = frozenset({
    "proxy", "_auth_proxy", "_scheme_proxy", "dont_obey_robotstxt", "handle_httpstatus_all",
    "download_timeout", "download_slot", "download_latency", "download_maxsize",
    "download_warnsize", "dont_redirect", "dont_merge_cookies", "cookiejar", "bindaddress",
    "max_retry_times", "priority_adjust", "dont_cache", "allow_offsite", "referrer_policy",
    "verbatim_url", "http_user", "http_pass", "http_auth_domain", "dont_archive",
    "dont_archive_requisites", "not_modified", "charset_unfit", "soft_failure", "warc",
    "cluster_lease", "cluster_parent", "requisite_counted", "depth_reset", "is_start_request",
})  # fmt: skip
MAX_PRIORITY = 1_000_000
WARC_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LOG_FIRST = 10  # rejections logged per reason; the rest only counted


class Rejected(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def _int(value: Any, low: int = 0, high: int = 2**31) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Rejected("malformed", f"not an integer in [{low}, {high}]: {value!r}")
    return value


def _str(value: Any, limit: int = 8192) -> str:
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        raise Rejected("malformed", f"not a short string: {value!r:.80}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Rejected("malformed", f"not a boolean: {value!r:.80}")
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CRLF = re.compile(r"[\r\n\x00]")


def http_url(value: Any, limit: int) -> str:
    """`value` if it is a well-formed http(s) URL with a host; Rejected otherwise."""
    url = _str(value, limit)
    if " " in url:
        raise Rejected("malformed", f"a space in {url!r:.200}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise Rejected("malformed", f"unreadable URL {url!r:.200}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise Rejected("scheme", f"not http(s): {url!r:.200}")
    if not parts.hostname:
        raise Rejected("malformed", f"no host: {url!r:.200}")
    return url


class Admission:
    """The checks of one crawl: its spider's outlets, callbacks and limits."""

    def __init__(
        self,
        spider: Spider,
        count: Callable[[str], None],
        *,
        url_limit: int,
        redirect_max: int,
    ) -> None:
        self.spider = spider
        self.count = count
        self.url_limit = url_limit or 2**31
        self.redirect_max = redirect_max
        config = getattr(spider, "crawl_config", None)
        self.outlets: dict[str, OutletConfig] | None = (
            {o.name: o for o in config.outlets} if config is not None else None
        )
        self._logged: dict[str, int] = {}

    # --- the reader's side ------------------------------------------------------------------
    def admit(self, data: bytes, loads: Callable[[bytes], Any]) -> Request | None:
        """The request `data` stands for, rebuilt, or None (counted and logged)."""
        try:
            raw = loads(data)
            request = self.rebuild(raw, strip=self._stripped)
        except Rejected as exc:
            self.reject(exc, data)
            return None
        except Exception as exc:  # not JSON, not UTF-8, not a dict…
            self.reject(Rejected("malformed", f"{type(exc).__name__}: {exc}"), data)
            return None
        self.count("cluster/admitted" if self.outlets is not None else "cluster/admitted/unscoped")
        return request

    def reject(self, exc: Rejected, data: bytes | str) -> None:
        self.count(f"cluster/rejected/{exc.reason}")
        seen = self._logged.get(exc.reason, 0)
        self._logged[exc.reason] = seen + 1
        if seen < LOG_FIRST:
            logger.warning("rejected a request from the Redis queue (%s): %s; entry %r%s",
                           exc.reason, exc, data[:200],
                           "" if seen + 1 < LOG_FIRST else " (further ones only counted)",
                           )  # fmt: skip

    def _stripped(self, what: str, name: str) -> None:
        known = KNOWN_META if what == "meta" else KNOWN_HEADERS
        self.count(f"cluster/stripped/{what}/{name if name in known else 'other'}")

    def reason(self, raw: dict[str, Any]) -> str | None:
        """Why the readers would reject this process's own request (its ``to_dict``), or None:
        they admit it."""
        try:
            self.rebuild(raw)
        except Rejected as exc:
            return exc.reason
        except Exception:
            return "malformed"
        return None

    def rebuild(self, raw: Any, strip: Callable[[str, str], None] | None = None) -> Request:
        if not isinstance(raw, dict):
            raise Rejected("malformed", f"not a request: {type(raw).__name__}")
        if raw.get("_class") not in (None, "scrapy.http.request.Request", "scrapy.Request"):
            raise Rejected("class", f"_class {raw.get('_class')!r:.100}")
        method = raw.get("method", "GET")
        if method not in ("GET", "HEAD"):
            raise Rejected("method", f"method {method!r:.20}")
        if raw.get("body") not in (None, b"", ""):
            raise Rejected("malformed", "a body")
        url = http_url(raw.get("url"), self.url_limit)
        meta_in = raw.get("meta") or {}
        if not isinstance(meta_in, dict):
            raise Rejected("malformed", "meta is not a mapping")
        meta = self._meta(url, meta_in, strip)
        callback, errback = self._callbacks(meta.get("kind"), raw)
        headers = self._headers(raw.get("headers") or {}, strip)
        priority = _int(raw.get("priority", 0), -MAX_PRIORITY, MAX_PRIORITY)
        return Request(url, callback=callback, errback=errback, method=method, headers=headers,
                       meta=meta, priority=priority,
                       dont_filter=_bool(raw.get("dont_filter", False)))  # fmt: skip

    def _callbacks(self, kind: Any, raw: dict[str, Any]) -> tuple[Any, Any]:
        names = [raw.get("callback"), raw.get("errback")]
        if self.outlets is not None:
            if names != list(CALLBACKS[kind]):
                raise Rejected("callback", f"{names!r:.100} for a {kind}")
        else:  # a spider of no outlets: public methods of its own class only
            for name in names:
                if name is None:
                    continue
                if (not isinstance(name, str) or name.startswith("_") or
                        not callable(getattr(type(self.spider), name, None))):  # fmt: skip
                    raise Rejected("callback", f"{name!r:.100}")
        return tuple(None if n is None else getattr(self.spider, n) for n in names)  # type: ignore[return-value]

    def _headers(self, raw: Any, strip: Callable[[str, str], None] | None) -> dict[str, list[str]]:
        if not isinstance(raw, dict):
            raise Rejected("malformed", "headers are not a mapping")
        headers: dict[str, list[str]] = {}
        for name, values in raw.items():
            text_name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            lower = text_name.lower()
            if lower not in HEADERS:
                if strip is not None:
                    strip("header", lower)
                continue
            kept = []
            for value in values if isinstance(values, list) else [values]:
                text = value.decode("latin-1") if isinstance(value, bytes) else value
                if not isinstance(text, str) or len(text) > self.url_limit or _CRLF.search(text):
                    raise Rejected("malformed", f"header {lower}: {text!r:.80}")
                if lower != "referer" or text.lower().startswith(("http://", "https://")):
                    kept.append(text)
            if kept:
                headers[text_name] = kept
        return headers

    def _meta(self, url: str, raw: dict[str, Any],
              strip: Callable[[str, str], None] | None) -> dict[str, Any]:  # fmt: skip
        kind, outlet_name = raw.get("kind"), raw.get("outlet")
        meta: dict[str, Any] = {}
        outlet: OutletConfig | None = None
        if self.outlets is not None:
            if kind == REQUISITE:
                raise Rejected("requisite", "a requisite is fetched by the worker whose page "
                                            "names it, never from the queue")  # fmt: skip
            if kind not in CALLBACKS:
                raise Rejected("kind", f"kind {kind!r:.50}")
            outlet = self.outlets.get(outlet_name) if isinstance(outlet_name, str) else None
            if outlet is None:
                raise Rejected("outlet", f"outlet {outlet_name!r:.80}")
        for key, value in raw.items():
            check = _META.get(key)
            if check is None:
                if strip is not None:
                    strip("meta", key if isinstance(key, str) else "other")
                continue
            meta[key] = check(self, value)
        if "redirect_ttl" in meta:
            meta["redirect_ttl"] = min(meta["redirect_ttl"], self.redirect_max)
        if outlet is not None:
            self._scope(url, meta, outlet)
        return meta

    def _scope(self, url: str, meta: dict[str, Any], outlet: OutletConfig) -> None:
        found = (meta.get("redirect_urls") or [url])[0]
        for u in {url, found}:
            if not outlet.owns(u):
                raise Rejected("scope", f"{u!r:.200} is not on {outlet.name}'s hosts")

    # meta values, by key (see _META)
    def _url(self, value: Any) -> str:
        return http_url(value, self.url_limit)

    def _urls(self, value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) > self.redirect_max + 1:
            raise Rejected("malformed", "redirect_urls is not a short list")
        return [self._url(v) for v in value]

    def _capture(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or set(value) != {"url", "warc_file", "warc_offset"}:
            raise Rejected("malformed", "original_capture")
        name = _str(value["warc_file"], 255)
        if not WARC_NAME_RE.match(name) or ".." in name:
            raise Rejected("malformed", f"original_capture names {name!r:.100}")
        return {"url": self._url(value["url"]), "warc_file": name,
                "warc_offset": _int(value["warc_offset"], 0, 2**62)}  # fmt: skip


def _statuses(value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) > 600:
        raise Rejected("malformed", "handle_httpstatus_list")
    return [_int(v, 100, 599) for v in value]


def _reasons(value: Any) -> list[int | str]:
    if not isinstance(value, list) or len(value) > 100:
        raise Rejected("malformed", "redirect_reasons")
    return [v if isinstance(v, int) and not isinstance(v, bool) else _str(v, 50) for v in value]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise Rejected("malformed", f"not a number: {value!r:.50}")
    return float(value)


# meta key -> its check (the value kept); every other key is stripped (and counted)
_META: dict[str, Callable[[Admission, Any], Any]] = {
    "outlet": lambda a, v: _str(v, 200),
    "kind": lambda a, v: _str(v, 50),
    "depth": lambda a, v: _int(v, 0, 10_000),
    "dont_retry": lambda a, v: _bool(v),
    "retry_times": lambda a, v: _int(v, 0, 1000),
    "retry_after": lambda a, v: _number(v),
    "redirect_times": lambda a, v: _int(v, 0, 1000),
    "redirect_ttl": lambda a, v: _int(v, 0, 1000),
    "redirect_urls": Admission._urls,
    "redirect_reasons": lambda a, v: _reasons(v),
    "handle_httpstatus_list": lambda a, v: _statuses(v),
    "original_capture": Admission._capture,
}


def admitted_failures(
    values: Iterable[bytes | str], outlets: Iterable[OutletConfig], count: Callable[[str], None]
) -> list[dict[str, Any]]:
    """The shared failure rows a run may retry: JSON objects naming an outlet of this crawl, a
    kind a run retries and an http(s) URL on that outlet's hosts (rows of outlets not in this
    crawl are left for the crawls that have them). The others are counted and logged."""
    by_name = {o.name: o for o in outlets}
    rows: list[dict[str, Any]] = []
    for value in values:
        try:
            row = json.loads(value)
            if not isinstance(row, dict) or not isinstance(row.get("url"), str):
                raise Rejected("malformed", "not a failure row")
            outlet = by_name.get(row.get("outlet"))  # type: ignore[arg-type]
            if outlet is None:
                continue  # another crawl's outlet: requeue_plan leaves it alone
            http_url(row["url"], 2**31)
            for key in ("state", "reason", "next_retry_at", "last_tried", "kind"):
                if not isinstance(row.setdefault(key, None), (str, type(None))):
                    raise Rejected("malformed", f"{key} {row[key]!r:.50}")
            if (row.get("kind") or "page") not in FAILURE_KINDS:  # never a requisite
                raise Rejected("kind", f"kind {row.get('kind')!r:.50}")
            if not outlet.owns(row["url"]):
                raise Rejected("scope", f"{row['url']!r:.200} is not on {outlet.name}'s hosts")
        except Rejected as exc:
            count(f"cluster/rejected_failures/{exc.reason}")
            logger.warning("shared failure row rejected (%s): %s", exc.reason, exc)
            continue
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            count("cluster/rejected_failures/malformed")
            logger.warning("shared failure row rejected (malformed): %s", exc)
            continue
        rows.append(row)
    return rows
