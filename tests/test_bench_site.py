"""The benchmark's synthetic outlet and its CPU breakdown: pages of realistic weight that any
crawl of depth 2 reads as exactly N articles and the section pages, requisites that all exist,
and py-spy's raw output read into shares by process kind and package. In process, no network."""

from __future__ import annotations

import re
from collections import deque

from bench.cpu_profile import breakdown, package_of, parse_raw, process_kind
from bench.synthetic_site import MAX_ARTICLE_BYTES, MIN_ARTICLE_BYTES, SITE_CSS, Site
from crawler.requisite_links import css_requisites, page_requisites

BASE = "http://127.0.0.1:8000"
_HREF = re.compile(rb'<a[^>]*\shref="([^"]*)"')


def test_pages_are_the_same_bytes_every_time_and_of_realistic_weight() -> None:
    site, again = Site(300, seed=5), Site(300, seed=5)
    sizes = []
    for i in range(0, 300, 7):
        page = site.article(i)
        assert page == again.article(i)
        sizes.append(len(page))
        links = _HREF.findall(page)
        assert len(links) >= 300  # the mega-menu, the lists of other articles, the footer
        assert b'class="comments"' in page and b"__APP_STATE__" in page
    assert min(sizes) >= MIN_ARTICLE_BYTES and max(sizes) <= MAX_ARTICLE_BYTES + 4000
    assert max(sizes) > 200_000  # drawn up to 300 KB, not all alike
    assert Site(300, seed=6).article(0) != site.article(0)


def test_a_depth_2_crawl_visits_exactly_the_articles_and_section_pages() -> None:
    site = Site(250, seed=2)
    seen = {site.hub_path(1): 0}
    queue = deque([site.hub_path(1)])
    statuses = set()
    while queue:
        path = queue.popleft()
        status, body, _ = site.resolve(path)
        statuses.add(status)
        if seen[path] >= 2:
            continue
        for href in _HREF.findall(body):
            link = href.decode()
            if link.startswith("/") and link not in seen:  # other hosts and #anchors: never
                seen[link] = seen[path] + 1
                queue.append(link)
    assert statuses == {200}
    articles = {site.article_path(i) for i in range(site.pages)}
    hubs = {site.hub_path(k) for k in range(1, site.hubs + 1)}
    assert set(seen) == articles | hubs


def test_the_requisites_the_articles_name_are_served_and_the_same_for_every_run() -> None:
    site = Site(120, seed=3)
    named = {r.url for r in css_requisites(SITE_CSS, BASE + "/static/site.css")}
    for i in range(site.pages):
        url = BASE + site.article_path(i)
        named |= {r.url for r in page_requisites(site.article(i), url, "utf-8")}
    assert named == {BASE + path for path in site.requisite_paths()}
    assert len(named) == 2 * site.pages + 3
    for path in site.requisite_paths():
        status, body, _ = site.resolve(path)
        assert status == 200 and body
    assert site.resolve("/img/12-3.jpg")[0] == site.resolve("/img/120.jpg")[0] == 404


FORKSERVER = (
    "/venv/bin/python -B -c from multiprocessing.forkserver import main; main(11, 12, "
    "['__main__'], **{'sys_path': ['/x']})"
)
CRAWL = "/venv/bin/python /venv/bin/newsarchiver crawl --config c.yaml"
RAW = f"""\
process 10:"{CRAWL}";<module> (newsarchiver:8);main (crawler/cli/main.py:70);\
EPollReactor.doPoll (twisted/internet/epollreactor.py:230) 30
process 10:"{CRAWL}";<module> (newsarchiver:8);_GzipMembers.write (storage/warc.py:299) 10
process 10:"{CRAWL}";process 11:"{FORKSERVER}";process 12:"{FORKSERVER}";<module> \
(<string>:1);_trafilatura (pipelines/main_text.py:34);document_fromstring \
(lxml/html/__init__.py:740) 45
process 10:"{CRAWL}";process 11:"{FORKSERVER}";process 12:"{FORKSERVER}";\
_compile_bytecode (<frozen importlib._bootstrap_external>:729) 5
process 10:"{CRAWL}" 10
"""


def test_py_spy_raw_output_is_read_by_process_kind_and_package() -> None:
    samples = parse_raw(RAW)
    assert [(s.pid, s.kind, s.weight) for s in samples] == [
        (10, "crawl", 30), (10, "crawl", 10), (12, "workers", 45), (12, "workers", 5),
        (10, "crawl", 10),
    ]  # fmt: skip
    kinds = breakdown(samples, pages=100, cpu_seconds={"crawl": 1.0, "workers": 2.0})
    crawl = {row["package"]: row["share"] for row in kinds["crawl"]["by_package"]}
    assert crawl == {"twisted.internet": 0.6, "storage.warc": 0.2, "(C only, no Python frame)": 0.2}
    workers = kinds["workers"]
    assert workers["cpu_ms_per_page"] == 20.0
    top = workers["by_package"][0]
    assert (top["package"], top["share"], top["cpu_ms_per_page"]) == ("lxml.html", 0.9, 18.0)
    assert top["hottest"] == "document_fromstring:740"
    assert {g["group"]: g["share"] for g in workers["by_group"]} == {"lxml": 0.9, "stdlib": 0.1}


def test_files_are_grouped_by_package() -> None:
    assert package_of("scrapy/core/engine.py") == "scrapy.core"
    assert package_of("/venv/lib/python3.11/site-packages/twisted/internet/defer.py") == (
        "twisted.internet"
    )
    assert package_of("trafilatura/core.py") == "trafilatura"
    assert package_of("crawler/extensions/warc_capture.py") == "crawler.extensions.warc_capture"
    assert package_of("asyncio/base_events.py") == "asyncio (stdlib)"
    assert package_of("/usr/lib/python3.11/gzip.py") == "gzip (stdlib)"
    assert package_of("<frozen importlib._bootstrap>") == "importlib (stdlib)"
    assert process_kind("/venv/bin/py-spy record -- x") == "profiler"
    assert process_kind("python -c from multiprocessing.resource_tracker import main") == "other"
