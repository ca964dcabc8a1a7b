"""Failure records: a row per URL in the manifest plus an append-only ARCHIVE/failures.jsonl.

One small API, ``FailureLog.record``, for every place a URL can end without an article.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from storage.layout import iso, utc_now
from storage.manifest import Manifest

logger = logging.getLogger(__name__)


class FailureLog:
    def __init__(self, manifest: Manifest, jsonl_path: Path) -> None:
        self.manifest = manifest
        self.jsonl_path = jsonl_path

    def record(
        self,
        url: str,
        outlet: str | None,
        reason: str,
        *,
        status: int | None = None,
        detail: str = "",
        attempts: int = 1,
        next_retry_at: str | None = None,
    ) -> dict[str, Any]:
        row = self.manifest.record_failure({
            "url": url, "outlet": outlet, "reason": reason, "status": status,
            "attempts": attempts, "when": iso(utc_now()), "next_retry_at": next_retry_at,
            "detail": detail[:2000],
        })  # fmt: skip
        line = json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
        # One write() on an O_APPEND descriptor: concurrent appenders never interleave a line.
        fd = os.open(self.jsonl_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        logger.info("failed: %s (%s) %s", url, reason, detail[:200])
        return row
