"""Queue trust: what a worker reads from Redis is rebuilt from an allow-list, or dropped.

Someone who can write to the shared Redis writes hostile requests straight into a run's queue
(another class, another callback, a proxy, an internal address, another scheme) and a hostile
failure row; a real worker crawling the demo outlets through that real Redis must fetch none of
them (an "internal" HTTP server on 127.0.0.3 logs every request it gets: zero; the demo's CDN
is on 127.0.0.2), archive none, count each by its reason, and still archive every article
(crawler.cluster.admission).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scrapy import Request

from crawler.cluster import serializer
from crawler.cluster.admission import Admission, Rejected, admitted_failures
from crawler.demo import DemoSite
from crawler.outlets import parse_config
from crawler.spiders.outlets import OutletsSpider
from testkit.mockserver import MockServer, Page, PageSite
from testkit.redis_server import RedisServer
from tests.cluster_workers import (
    Worker,
    check_archive_once,
    cluster_name,
    spawn,
    sqlite_rows,
    stop_all,
)
from tests.conftest import Crawl, cli
from tests.helpers import project_settings


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*args: Any) -> Worker:
        started.append(spawn(tmp_path, *args))
        return started[-1]

    yield start
    stop_all(started)


SECRET = Page("text/html", b"<html><body><p>internal secret</p></body></html>")


@pytest.fixture
def internal(mockserver: MockServer) -> PageSite:
    """A site on 127.0.0.3 standing for an internal address: it must get no request."""
    return mockserver.pages("internal", lambda base: {}, host="127.0.0.3", default=SECRET)


def entry(url: str, **fields: Any) -> bytes:
    raw: dict[str, Any] = {"url": url, "callback": "parse_page", "errback": "on_error",
                           "method": "GET", "priority": 100,
                           "meta": {"kind": "page", "depth": 1}}  # fmt: skip
    meta = fields.pop("meta", {})
    raw.update(fields)
    raw["meta"].update(meta)
    return json.dumps(raw).encode()


def hostile_entries(outlet: str, home: str, internal: str) -> dict[str, list[bytes]]:
    """reason -> entries written straight into the queue."""
    page = {"outlet": outlet}
    return {
        "class": [entry(f"{internal}/class", _class="scrapy.http.FormRequest", meta=page)],
        "method": [entry(f"{home}hostile-post", method="POST", meta=page)],
        "callback": [entry(f"{home}hostile-callback", callback="closed", meta=page)],
        "scope": [
            entry(f"{internal}/scope", meta=page),
            # found at an outlet URL, says it: the URL fetched is still the internal one
            entry(f"{internal}/redirected", meta={**page, "redirect_urls": [home]}),
        ],
        "requisite": [  # any URL could be named a requisite: none is taken from the queue
            entry(
                f"{internal}/requisite.css",
                callback="parse_requisite",
                errback="on_requisite_error",
                meta={
                    **page,
                    "kind": "requisite",
                    "requisite": "stylesheet",
                    "requisite_of": home,
                    "requisite_level": 0,
                },
            ),
            entry(  # a stylesheet's own, which no outlet page names
                "https://public.example/any.css",
                callback="parse_requisite",
                errback="on_requisite_error",
                meta={**page, "kind": "requisite", "requisite": "font", "requisite_level": 1},
            ),
        ],
        "scheme": [entry("file:///etc/passwd", meta=page)],
        "outlet": [entry(f"{internal}/no-outlet", meta={"outlet": "nobody"})],
        "kind": [entry(f"{home}hostile-kind", meta={**page, "kind": "spider_closed"})],
        "malformed": [b"\x80not json", json.dumps({"url": 5}).encode(), b"[1, 2]"],
    }


def test_hostile_queue_entries_are_neither_fetched_nor_archived(
    demo_site: DemoSite,
    demo_crawl: Crawl,
    redis_server: RedisServer,
    internal: PageSite,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    name = cluster_name()
    outlet, home = next(iter(demo_site.outlets.items()))
    home = home.rstrip("/") + "/"
    client = redis_server.client()
    # a hostile failure row (out of scope) and a legit one (an outlet page, due now)
    row = {"outlet": outlet, "kind": "page", "state": "pending", "reason": "http_503",
           "next_retry_at": "2000-01-01T00:00:00Z",
           "last_tried": "2000-01-01T00:00:00Z"}  # fmt: skip
    client.hset(f"{name}:failures", mapping={
        f"{internal.base}/failure": json.dumps({**row, "url": f"{internal.base}/failure"}),
        "ftp://x/y": json.dumps({**row, "url": "ftp://x/y"}),
        f"{home}legit-failure": json.dumps({**row, "url": f"{home}legit-failure"}),
        "junk": "not json",
    })  # fmt: skip
    seed_archive = tmp_path / "seed-archive"
    result = cli("seed", "--config", str(config), "--redis", redis_server.url, "--cluster", name,
                 "--archive", str(seed_archive))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = (seed_archive / "runs").glob("*.json")
    seed_stats = json.loads(summary.read_text())["stats"]
    assert seed_stats.get("cluster/rejected_failures/scope") == 1
    assert seed_stats.get("cluster/rejected_failures/scheme") == 1
    assert seed_stats.get("cluster/rejected_failures/malformed") == 1
    assert seed_stats.get("spider/requeued") == 1  # the legit row only

    hostile = hostile_entries(outlet, home, internal.base)
    # admitted, with what it must not carry stripped: a proxy (the internal server: a worker
    # obeying it would send the request there), robots.txt ignored, every status a page
    stripped = entry(f"{home}proxied", meta={
        "outlet": outlet, "proxy": internal.base, "dont_obey_robotstxt": True,
        "handle_httpstatus_all": True, "download_timeout": 1000, "my_own": 1,
    }, headers={"Host": ["internal"], "Cookie": ["a=b"], "If-None-Match": ['"x"']})  # fmt: skip
    queue = f"{name}:requests"
    client.zadd(queue, {e: -100 for entries in hostile.values() for e in entries})
    client.zadd(queue, {stripped: -100})
    demo_site.clear_requests()

    worker = start_worker(config, redis_server.url, "w1", name)
    assert worker.wait() == 0, worker.err[-3000:]
    stats = worker.summary["stats"]

    assert internal.requests == []  # the internal address got nothing
    paths = {r.path for r in demo_site.requests}
    assert not {"/hostile-post", "/hostile-callback", "/hostile-kind"} & paths
    assert "/proxied" in paths  # fetched, straight from the outlet
    assert "/legit-failure" in paths  # the legit shared failure row was retried
    for reason, entries in hostile.items():
        assert stats.get(f"cluster/rejected/{reason}") == len(entries), reason
    assert stats["cluster/unreadable"] == sum(len(e) for e in hostile.values())
    for key in ("proxy", "dont_obey_robotstxt", "handle_httpstatus_all", "download_timeout",
                "other"):  # fmt: skip
        assert stats.get(f"cluster/stripped/meta/{key}") == 1, key
    assert stats.get("cluster/stripped/header/host") == 1
    assert stats.get("cluster/stripped/header/cookie") == 1
    assert "rejected a request from the Redis queue (scope)" in worker.err
    # nothing of them archived; every article archived, once
    captured = {url for (url,) in worker.query("SELECT url FROM captures")}
    assert not [u for u in captured if "127.0.0.3" in u or u.startswith("file:")]
    check_archive_once([worker], demo_crawl)
    assert not [u for (u,) in sqlite_rows(worker.archive, "SELECT url FROM articles")
                if "hostile" in u]  # fmt: skip
    # every lease ended: rejected entries do not come back
    assert client.zcard(queue) == 0


# --- the checks one by one ----------------------------------------------------------------
CONFIG = """
outlets:
  - name: daily
    start_urls: ["http://127.0.0.1:8001/"]
  - name: herald
    start_urls: ["https://www.herald.example/news/"]
"""


@pytest.fixture
def admission(tmp_path: Path) -> tuple[Admission, dict[str, int]]:
    spider = OutletsSpider(crawl_config=parse_config(yaml.safe_load(CONFIG)))
    counts: dict[str, int] = {}

    def count(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    settings = project_settings()
    admission = Admission(spider, count, url_limit=settings["URLLENGTH_LIMIT"],
                          redirect_max=settings["REDIRECT_MAX_TIMES"])  # fmt: skip
    return admission, counts


def raw(url: str, **meta: Any) -> dict[str, Any]:
    kind = meta.get("kind", "page")
    callbacks = {"requisite": ("parse_requisite", "on_requisite_error"),
                 "probe": ("parse_probe", "on_probe_error")}  # fmt: skip
    callback, errback = callbacks.get(kind, ("parse_page", "on_error"))
    return {"url": url, "callback": callback, "errback": errback,
            "meta": {"outlet": "herald", "kind": kind, **meta}}  # fmt: skip


def reason(admission: Admission, value: dict[str, Any]) -> str | None:
    try:
        admission.rebuild(value)
    except Rejected as exc:
        return exc.reason
    return None


@pytest.mark.parametrize(
    ("url", "meta", "expected"),
    [
        ("https://herald.example/a", {}, None),  # www. or not, one host
        ("http://www.herald.example/a", {}, None),  # http or https
        ("https://herald.example:8443/a", {}, "scope"),  # another port, another host
        ("https://evil.example/a", {}, "scope"),
        ("https://herald.example.evil.example/a", {}, "scope"),
        ("https://herald.example@127.0.0.3/a", {}, "scope"),  # userinfo is not the host
        ("gopher://herald.example/a", {}, "scheme"),
        ("https://herald.example/a b", {}, "malformed"),
        ("https://herald.example/a", {"redirect_urls": ["https://evil.example/"]}, "scope"),
        ("https://herald.example/a", {"depth": -1}, "malformed"),
        ("https://herald.example/a", {"kind": "other"}, "kind"),
        ("https://herald.example/a", {"outlet": "daily2"}, "outlet"),
        # a requisite: never from the queue, whatever it names
        (
            "https://cdn.example/s.css",
            {
                "kind": "requisite",
                "requisite": "stylesheet",
                "requisite_of": "https://herald.example/a",
            },
            "requisite",
        ),
        (
            "https://cdn.example/f.woff",
            {"kind": "requisite", "requisite": "font", "requisite_level": 1},
            "requisite",
        ),
    ],
)
def test_scope(admission: tuple[Admission, dict[str, int]], url: str, meta: dict[str, Any],
               expected: str | None) -> None:  # fmt: skip
    assert reason(admission[0], raw(url, **meta)) == expected


def test_rebuilt_from_the_allow_list(admission: tuple[Admission, dict[str, int]]) -> None:
    adm, counts = admission
    value = raw("https://herald.example/a", depth=2, proxy="http://127.0.0.3:1",
                dont_obey_robotstxt=True, download_maxsize=0, handle_httpstatus_list=[304],
                original_capture={"url": "https://herald.example/a", "warc_file": "a.warc.gz",
                                  "warc_offset": 10})  # fmt: skip
    value["headers"] = {"If-None-Match": ['"e"'], "Proxy-Authorization": ["x"], "X-Mine": ["1"]}
    value["cookies"] = {"a": "b"}
    value["cb_kwargs"] = {"x": 1}
    request = adm.admit(json.dumps(value).encode(), serializer.loads)  # a hostile writer's JSON
    assert isinstance(request, Request) and type(request) is Request
    assert request.meta == {
        "outlet": "herald", "kind": "page", "depth": 2, "handle_httpstatus_list": [304],
        "original_capture": {"url": "https://herald.example/a", "warc_file": "a.warc.gz",
                             "warc_offset": 10},
    }  # fmt: skip
    assert dict(request.headers) == {b"If-None-Match": [b'"e"']}
    assert not request.cookies and not request.cb_kwargs
    assert request.callback == adm.spider.parse_page  # type: ignore[attr-defined]
    assert request.errback == adm.spider.on_error  # type: ignore[attr-defined]
    assert counts == {"cluster/stripped/meta/proxy": 1, "cluster/stripped/meta/download_maxsize": 1,
                      "cluster/stripped/meta/dont_obey_robotstxt": 1,
                      "cluster/stripped/header/proxy-authorization": 1,
                      "cluster/stripped/header/other": 1, "cluster/admitted": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"_class": "scrapy.http.FormRequest"}, "class"),
        ({"_class": "os.system"}, "class"),
        ({"callback": "closed"}, "callback"),
        ({"callback": "parse_sitemap"}, "callback"),  # a page's callback is parse_page
        ({"errback": None}, "callback"),
        ({"method": "POST"}, "method"),
        ({"body": "x=1"}, "malformed"),
        ({"priority": "high"}, "malformed"),
        ({"meta": {"outlet": "herald", "kind": "page", "original_capture": {
            "url": "https://herald.example/a", "warc_file": "../../etc/passwd",
            "warc_offset": 0}}}, "malformed"),
        ({"headers": {"Referer": ["https://x/\r\nHost: y"]}}, "malformed"),
    ],
)  # fmt: skip
def test_rejected(admission: tuple[Admission, dict[str, int]], change: dict[str, Any],
                  expected: str) -> None:  # fmt: skip
    value = {**raw("https://herald.example/a"), **change}
    assert reason(admission[0], value) == expected
    adm, counts = admission
    assert adm.admit(json.dumps(value).encode(), serializer.loads) is None
    assert counts == {f"cluster/rejected/{expected}": 1}


def test_what_the_spider_makes_is_admitted(admission: tuple[Admission, dict[str, int]]) -> None:
    adm = admission[0]
    spider: Any = adm.spider
    herald = spider.crawl_config.outlet("herald")
    request = Request("https://herald.example/news/", callback=spider.parse_page,
                      errback=spider.on_error, meta={"outlet": "herald", "kind": "hub"},
                      headers={"Referer": "https://herald.example/",
                               "User-Agent": "x"})  # fmt: skip
    data = serializer.dumps(request.to_dict(spider=spider))
    assert adm.reason(serializer.loads(data)) is None
    assert b"User-Agent" not in data  # the writer leaves its middlewares' headers out
    probe = spider.probes.__class__(True, lambda key: None).request(
        herald, spider.parse_probe, spider.on_probe_error
    )
    assert adm.reason(serializer.loads(serializer.dumps(probe.to_dict(spider=spider)))) is None


def test_shared_failure_rows(tmp_path: Path) -> None:
    config = parse_config(yaml.safe_load(CONFIG))
    counts: dict[str, int] = {}
    row = {"outlet": "herald", "kind": "page", "state": "pending"}
    values = [
        json.dumps({**row, "url": u})
        for u in ("https://herald.example/ok", "http://127.0.0.3/x", "file:///etc/passwd")
    ]
    values += ["{", json.dumps([1]), json.dumps({**row, "url": "https://herald.example/b",
                                                 "next_retry_at": 5})]  # fmt: skip
    values.append(json.dumps({**row, "outlet": "not-ours", "url": "http://10.0.0.1/"}))
    # requisites are never listed as failures: a row saying one is off any outlet's hosts
    values.append(json.dumps({**row, "kind": "requisite", "url": "https://cdn.example/s.css"}))
    kept = admitted_failures(values, config.outlets, lambda k: counts.__setitem__(
        k, counts.get(k, 0) + 1))  # fmt: skip
    assert [r["url"] for r in kept] == ["https://herald.example/ok"]
    assert counts == {"cluster/rejected_failures/scope": 1, "cluster/rejected_failures/scheme": 1,
                      "cluster/rejected_failures/malformed": 3,
                      "cluster/rejected_failures/kind": 1}  # fmt: skip
