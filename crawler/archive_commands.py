"""The ``newsarchiver`` commands that work on an archive's WARC files, not on the web.

::

    newsarchiver index     --archive DIR                 # bring indexes/index.cdxj up to date
    newsarchiver lookup    URL --archive DIR [--json]    # the captures of a URL
    newsarchiver export    --archive DIR --wacz OUT.wacz [--outlet NAME] [--since DATE]
    newsarchiver extract   PAGE.html|- [--url URL]       # the clean text the pipeline would store
    newsarchiver reextract --archive DIR                 # rebuild texts from the WARCs

``reextract`` reads each archived article's response back from its WARC record (a revisit
record is followed to the capture it refers to), extracts it with the current extractor and the
outlet's drop/keep rules of the archive's last crawl, and stores a text that changed as a new
file (new hash, next number); the old file stays, marked ``superseded_by`` in the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from crawler.items import ArticleItem
from crawler.outlets import ConfigError, parse_config
from crawler.settings_check import check_archive_dir
from pipelines.article import NoArticle, extract_article
from pipelines.store_text import StoreTextPipeline
from storage import lock
from storage.index import lookup, update_index
from storage.layout import ArchiveLayout, new_run_id
from storage.manifest import Manifest
from storage.wacz import export_wacz
from storage.warc import WarcRef
from storage.warc_read import RecordMissing, read_response

EXIT_OK = 0


class _Stats(Counter[str]):
    """The one stats method the text store uses, outside a crawl."""

    def inc_value(self, key: str, count: int = 1) -> None:
        self[key] += count


def _manifest(archive: str) -> tuple[ArchiveLayout, Manifest]:
    """The layout and manifest of an existing archive this process can write in (export and
    reextract take its lock and write into it); a ConfigError or SettingsError (exit 2)."""
    check_archive_dir(archive)
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    return layout, Manifest(layout.manifest_path)


def cmd_index(args: argparse.Namespace) -> int:
    check_archive_dir(args.archive)
    layout = ArchiveLayout(args.archive)
    with lock.held(layout.lock_path):
        done = update_index(layout)
    print(f"indexed {len(done.indexed)} new WARC file(s); {layout.index_path}: "
          f"{done.lines} captures in {done.total_files} file(s)")  # fmt: skip
    return EXIT_OK


def cmd_lookup(args: argparse.Namespace) -> int:
    layout = ArchiveLayout(args.archive)
    captures = lookup(layout, args.url)
    if args.json:
        print(json.dumps(captures, indent=2))
        return EXIT_OK
    print(f"{'time':<14}  {'status':>6}  {'type':<8}  {'offset':>10}  warc file")
    for c in captures:
        kind = "revisit" if c.get("mime") == "warc/revisit" else "response"
        print(f"{c['timestamp']:<14}  {c.get('status', '-'):>6}  {kind:<8}  {c['offset']:>10}  "
              f"{c['filename']}")  # fmt: skip
    print(f"{len(captures)} capture(s) of {args.url}")
    if not captures and layout.manifest_path.exists():
        manifest = Manifest(layout.manifest_path)
        try:
            rows = manifest.query(
                "SELECT t.stem, a.warc_file, a.warc_offset FROM articles a JOIN texts t"
                " ON t.id = a.text_id WHERE a.url = ? OR a.final_url = ?", (args.url, args.url),
            )  # fmt: skip
        finally:
            manifest.close()
        for row in rows:  # a text without its evidence: say so, the archive is not whole
            print(
                f"newsarchiver: {args.url} has text {row['stem']} but no WARC record "
                f"(named {row['warc_file']} at offset {row['warc_offset']})",
                file=sys.stderr,
            )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    layout, manifest = _manifest(args.archive)
    manifest.close()
    with lock.held(layout.lock_path):
        report = export_wacz(layout, Path(args.wacz), outlet=args.outlet, since=args.since)
    print(f"wrote {report.path}: {report.pages} page(s), {report.warc_files} WARC file(s), "
          f"{report.bytes / 1e6:.1f} MB")  # fmt: skip
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    try:
        body = sys.stdin.buffer.read() if args.page == "-" else Path(args.page).read_bytes()
    except OSError as exc:
        raise ConfigError(f"extract: cannot read {args.page}: {exc.strerror or exc}") from None
    url = args.url or (Path(args.page).resolve().as_uri() if args.page != "-" else "about:blank")
    try:
        article = extract_article(body, url, args.content_type)
    except NoArticle as exc:
        print(f"newsarchiver: no article text ({exc})", file=sys.stderr)
        return 1
    sys.stdout.write(article.render())
    return EXIT_OK


def cmd_reextract(args: argparse.Namespace) -> int:
    layout, manifest = _manifest(args.archive)
    stats = _Stats()
    with lock.held(layout.lock_path):
        store = StoreTextPipeline(layout, new_run_id(), stats)  # type: ignore[arg-type]
        store._open()
        try:
            total = reextract(layout, manifest, store, stats)
        finally:
            store._close()
            manifest.close()
    print(f"re-extracted {total} article(s): {stats['reextract/unchanged']} unchanged, "
          f"{stats['reextract/changed']} changed (new text files; the old ones superseded), "
          f"{sum(v for k, v in stats.items() if 'no_article' in k)} without text, "
          f"{stats['reextract/no_warc']} whose WARC file is not here, "
          f"{stats['reextract/record_missing']} whose WARC record is missing")  # fmt: skip
    return EXIT_OK


def reextract(layout: ArchiveLayout, manifest: Manifest, store: StoreTextPipeline,
              stats: _Stats) -> int:  # fmt: skip
    """Extract every current article again from its WARC record; returns how many."""
    rules: dict[str, Any] = {}
    if stored := manifest.last_run_config():
        for outlet in parse_config(stored, source="last run's config").outlets:
            rules[outlet.name] = (outlet.drop, outlet.keep)
    rows = manifest.query(
        "SELECT a.*, t.sha256, t.id AS old_id FROM articles a JOIN texts t ON t.id = a.text_id"
        " WHERE t.state = 'stored' AND t.superseded_by IS NULL ORDER BY t.id, a.fetched_at"
    )
    for row in rows:
        if not row["warc_file"] or not (layout.warc_dir / row["warc_file"]).exists():
            stats["reextract/no_warc"] += 1
            continue
        try:
            record = read_response(layout, manifest, row["warc_file"], row["warc_offset"])
        except RecordMissing as exc:
            stats["reextract/record_missing"] += 1
            print(f"newsarchiver: {row['url']}: {exc}", file=sys.stderr)
            continue
        body, ctype, record_id = record.body, record.header("Content-Type"), record.record_id
        drop, keep = rules.get(row["outlet"], ((), ()))
        try:
            article = extract_article(body, row["final_url"], ctype, drop=drop, keep=keep)
        except NoArticle as exc:
            stats[f"reextract/no_article/{exc.reason}"] += 1
            continue
        sha = hashlib.sha256(article.render().encode("utf-8")).hexdigest()
        if sha == row["sha256"]:
            stats["reextract/unchanged"] += 1
            continue
        item = ArticleItem(
            url=row["url"], final_url=row["final_url"], outlet=row["outlet"],
            http_status=row["http_status"], body=b"", content_type=ctype,
            fetched_at=row["fetched_at"], article=article,
        )  # fmt: skip
        store._store(item, WarcRef(row["warc_file"], row["warc_offset"], 0, record_id, None))
        new = manifest.text_by_sha(sha)
        assert new is not None
        manifest.supersede(row["old_id"], new.id)
        stats["reextract/changed"] += 1
    return len(rows)


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("index", help="bring the archive's CDXJ index up to date")
    p.add_argument("--archive", required=True)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("lookup", help="list the captures of a URL")
    p.add_argument("url")
    p.add_argument("--archive", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("export", help="export the archive (or part of it) as a WACZ file")
    p.add_argument("--archive", required=True)
    p.add_argument("--wacz", required=True, metavar="OUT.wacz")
    p.add_argument("--outlet", help="only this outlet's articles and their WARC files")
    p.add_argument("--since", metavar="DATE", help="only articles fetched since (ISO 8601)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("extract", help="print the clean text the pipeline would store")
    p.add_argument("page", help="an HTML file, or - for standard input")
    p.add_argument("--url", help="the page's URL (for relative links and metadata)")
    p.add_argument("--content-type", help="its Content-Type header (for the charset)")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("reextract", help="rebuild the text files from the WARCs")
    p.add_argument("--archive", required=True)
    p.set_defaults(func=cmd_reextract)
