"""The benchmark's baseline: a bare Scrapy spider that fetches the synthetic outlet, nothing else.

It starts at the first section page and follows the site's own links (``/news/…``: the pager,
the teasers, the mega-menu and the other article lists) from every page less than ``DEPTH``
hops from the start, as the project's spider does with the outlet's ``depth: 2``: the same pages
fetched, the same links read and deduplicated. No WARC, no extraction, no manifest, no page
requisites: what Scrapy alone costs for those downloads, with the concurrency settings the
pipeline runs get. Prints one JSON line with the counts.

    python -m bench.bare_spider --start http://127.0.0.1:PORT/news/page/1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

# The same switches the pipeline runs get on their command line (bench/pipeline_bench.py).
BENCH_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "ROBOTSTXT_OBEY": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
}
DEPTH = 2  # the outlet config's depth in bench/pipeline_bench.py: links followed below it


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, start: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.articles = 0
        self.hubs = 0

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if "/news/page/" in response.url:
            self.hubs += 1
        else:
            self.articles += 1  # an article page: fetched, its links read at depth 1
        if response.meta.get("depth", 0) >= DEPTH:
            return
        for href in response.css("a::attr(href)").getall():
            if href.startswith("/news/"):  # the site's pages; other hosts and #anchors never
                yield response.follow(href, callback=self.parse)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", required=True, help="URL of the first section page")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    process = CrawlerProcess(
        {
            **BENCH_SETTINGS,
            "LOG_LEVEL": args.log_level,
            "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        }
    )
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, start=args.start)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, BareSpider)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(json.dumps({
        "articles": spider.articles,
        "hubs": spider.hubs,
        "responses": stats.get("response_received_count", 0),
        "elapsed_seconds": stats.get("elapsed_time_seconds"),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
