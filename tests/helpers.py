"""Shared test helpers: components built the way Scrapy builds them, with the project's settings."""

from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings_module


def project_settings(**overrides: Any) -> dict[str, Any]:
    """crawler.settings as a dict, with overrides: what `scrapy crawl` would run with."""
    values = {
        name: getattr(project_settings_module, name)
        for name in dir(project_settings_module)
        if name.isupper()
    }
    values.update(overrides)
    return values


def project_crawler(spidercls: type[Spider] = Spider, **settings: Any) -> Crawler:
    crawler = get_crawler(spidercls, project_settings(**settings))
    crawler.spider = crawler._create_spider("test")
    return crawler
