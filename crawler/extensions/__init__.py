"""Scrapy extensions: WARC capture, run summary."""
