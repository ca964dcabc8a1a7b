"""Where everything lives inside an archive directory: the one place that computes a path
(the time helpers are in :mod:`storage.clock`). Settings: none.

::

    ARCHIVE/
      warc/       {prefix}-{yyyymmddHHMMSS}-{serial:05d}-{hostname}.warc.gz (.open while written)
      text/       NNN_HASH.txt (clean text) + NNN_HASH.json (sidecar)
      runs/       <run-id>.json, one summary per crawl
      logs/       <run-id>.log, one log per crawl
      indexes/    index.cdxj (sorted, every closed WARC), by-warc/<warc>.cdxj (one per WARC, written
                  by the WARC writer as it closes the file)
      tmp/        files being written; renamed into place when complete
      manifest.sqlite
      search.sqlite   full-text index (storage/search.py); stories.sqlite (storage/stories.py)
      failures.jsonl
      .lock       held by the running crawl
"""

from __future__ import annotations

import re
import socket
from datetime import datetime, timezone
from pathlib import Path

OPEN_SUFFIX = ".open"
WARC_SUFFIX = ".warc.gz"


# a name that becomes part of a file or object key (a run id, a worker id): no separator, no
# leading dot, nothing a shell or a URL would read otherwise
TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_token(value: str, what: str) -> str:
    """`value` when it can name a file (`what` is the setting or option, for the ValueError)."""
    if not isinstance(value, str) or not TOKEN_RE.match(value) or ".." in value:
        raise ValueError(
            f"{what} must be 1-64 letters, digits, '-', '_' or '.' starting with a letter or "
            f"digit (it names files), not {value!r}"
        )
    return value


def text_stem(seq: int, sha256_hex: str) -> str:
    """`NNN_HASH`: the sequence number zero-padded to 3 digits (wider past 999), 16 hex digits."""
    return f"{seq:03d}_{sha256_hex[:16]}"


def safe_hostname() -> str:
    # WARC names are split on '-' by some tools; keep the hostname free of it and of dots.
    name = socket.gethostname().split(".")[0] or "localhost"
    return "".join(c if c.isalnum() else "_" for c in name)


class ArchiveLayout:
    """Paths inside one archive directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.warc_dir = self.root / "warc"
        self.text_dir = self.root / "text"
        self.runs_dir = self.root / "runs"
        self.logs_dir = self.root / "logs"
        self.indexes_dir = self.root / "indexes"
        self.index_path = self.indexes_dir / "index.cdxj"
        self.index_parts_dir = self.indexes_dir / "by-warc"
        self.tmp_dir = self.root / "tmp"
        self.manifest_path = self.root / "manifest.sqlite"
        self.failures_path = self.root / "failures.jsonl"
        self.lock_path = self.root / ".lock"

    def ensure(self) -> ArchiveLayout:
        for directory in (self.warc_dir, self.text_dir, self.runs_dir, self.tmp_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        return self

    def text_path(self, stem: str) -> Path:
        return self.text_dir / f"{stem}.txt"

    def sidecar_path(self, stem: str) -> Path:
        return self.text_dir / f"{stem}.json"

    def run_summary_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def run_log_path(self, run_id: str) -> Path:
        return self.logs_dir / f"{run_id}.log"

    def index_part_path(self, warc_name: str) -> Path:
        """The CDXJ lines of one closed WARC file."""
        return self.index_parts_dir / f"{warc_name}.cdxj"

    def warc_name(self, prefix: str, opened: datetime, serial: int, hostname: str) -> str:
        stamp = opened.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")
        return f"{prefix}-{stamp}-{serial:05d}-{hostname}{WARC_SUFFIX}"

    def closed_warcs(self) -> list[Path]:
        return sorted(self.warc_dir.glob(f"*{WARC_SUFFIX}"))

    def open_warcs(self) -> list[Path]:
        return sorted(self.warc_dir.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}"))
