"""An EXTRACT_FUNCTION for the tests: kills its worker on one page, hangs on another."""

from __future__ import annotations

import os
import time
from typing import Any

from pipelines.article import ArticleText, extract_article


def extract(body: bytes, url: str, content_type: str | None = None, **kwargs: Any) -> ArticleText:
    if url.endswith("/f/ok"):
        os._exit(13)  # the worker process dies, as on a segfault in a C extension
    if url.endswith("/f/bad-charset"):
        time.sleep(3600)  # never returns, as on a pathological page
    return extract_article(body, url, content_type, **kwargs)
