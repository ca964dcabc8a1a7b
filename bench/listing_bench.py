"""How long ``newsarchiver articles --format parquet`` takes for a large archive (target: 100,000
texts in under 10 s).

A synthetic manifest is made straight through sqlite (the schema from :class:`Manifest`, then
bulk inserts): N texts over four outlets, one in five syndicated by a second outlet (two copies,
so each names the other in ``other_urls``), one in ten without a published date; a
``stories.sqlite`` names a story for half of them. Then the command runs as a user runs it (a
subprocess, Python's start included) and the time, rows and file size are printed::

    python -m bench.listing_bench [--texts 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storage.manifest import Manifest

OUTLETS = ("iconnews", "wirehub", "valleydaily", "nordpress")


def make_archive(root: Path, texts: int) -> int:
    """The synthetic archive at `root`; how many article rows it has."""
    (root / "text").mkdir(parents=True)
    Manifest(root / "manifest.sqlite").close()  # the current schema
    db = sqlite3.connect(root / "manifest.sqlite")
    text_rows, article_rows, story_rows = [], [], []
    for n in range(texts):
        sha = hashlib.sha256(str(n).encode()).hexdigest()
        outlet = OUTLETS[n % 4]
        day = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"
        text_rows.append((n + 1, sha, f"{n:03d}_{sha[:16]}", "stored", f"Story number {n}",
                          f"{day}T06:00:00Z", "run", 150 + n % 700))  # fmt: skip
        copies = [outlet] + ([OUTLETS[(n + 1) % 4]] if n % 5 == 0 else [])
        for c, name in enumerate(copies):
            url = f"https://{name}.example/news/{day}/story-{n}.html"
            published = None if n % 10 == 3 else (day if c else f"{day}T05:30:00+01:00")
            article_rows.append((url, n + 1, url, name, 200, f"{day}T07:{c:02d}:00Z", "x.warc.gz",
                                 n * 1000, "run", published, "A. Writer", "en", f"<urn:{n}>",
                                 url))  # fmt: skip
        if n % 2 == 0:
            story_rows.append((n + 1, f"s{n // 4:06d}"))
    db.executemany("INSERT INTO texts (id, sha256, stem, state, title, created_at, run_id, words)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", text_rows)  # fmt: skip
    db.executemany("INSERT INTO articles (url, text_id, final_url, outlet, http_status,"
                   " fetched_at, warc_file, warc_offset, run_id, published, author, language,"
                   " warc_record_id, canonical_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                   " ?, ?)", article_rows)  # fmt: skip
    db.commit()
    db.close()
    stories = sqlite3.connect(root / "stories.sqlite")
    stories.execute(
        "CREATE TABLE story_texts (text_id INTEGER PRIMARY KEY, story_id TEXT"
        " NOT NULL, near_duplicate_of INTEGER, similarity REAL, joined_at TEXT)"
    )
    stories.executemany("INSERT INTO story_texts (text_id, story_id) VALUES (?, ?)", story_rows)
    stories.commit()
    stories.close()
    return len(article_rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="make the archive here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "archive"
        started = time.perf_counter()
        rows = make_archive(root, args.texts)
        print(f"synthetic archive: {args.texts} texts, {rows} article rows "
              f"({time.perf_counter() - started:.1f} s to make)")  # fmt: skip
        for fmt in ("parquet", "jsonl", "csv"):
            out = Path(tmp) / f"articles.{fmt}"
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "crawler.cli", "articles", "--archive", str(root),
                 "--format", fmt, "--out", str(out)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            took = time.perf_counter() - started
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
            print(f"articles --format {fmt}: {took:.2f} s, {out.stat().st_size / 1e6:.1f} MB "
                  f"({result.stdout.strip()})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
