"""Spiders of the Scrapy project: OutletsSpider (``scrapy crawl outlets``)."""
