"""The bundled offline demo news site (four fictional outlets on 127.0.0.1).

Used by ``make demo``, the end-to-end tests and the benchmark; see :class:`DemoSite`.
"""

from __future__ import annotations

from crawler.demo.site import DemoArticle, DemoSite, RequestLog

__all__ = ["DemoArticle", "DemoSite", "RequestLog"]
