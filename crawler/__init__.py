"""newsarchiver: crawl news outlets into WARC captures and content-hashed clean text."""

from __future__ import annotations

__version__ = "0.1.0"
