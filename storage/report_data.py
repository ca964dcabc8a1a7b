"""What a crawl report shows (``newsarchiver report``), read from an archive, nothing written.

One read-only pass over ARCHIVE/manifest.sqlite (``runs``, ``captures``, ``articles``,
``texts``, ``failure_events``), the run summaries ``runs/<run-id>.json`` (WARC bytes, page
requisites), the text files (their words, when the manifest has no ``texts.words``) and, when
present, ARCHIVE/stories.sqlite (the largest stories). ``since`` keeps what happened at or
after that time (ISO timestamps compared as strings: every stored one is ``...Z`` UTC).

How it counts:
- a page is a capture (``response`` or ``revisit`` record) of HTML (``text/html``,
  ``application/xhtml+xml``); its outlet is the one whose start URLs, feeds or sitemaps name its
  host (from the runs' ``config``), else ``(other)`` (a CDN's image, not an HTML page mostly);
- an article is an ``articles`` row (one fetch of one URL whose text is in the archive);
- a failure is a ``failure_events`` row (every failed attempt, not only the last);
- extraction health: per outlet, the failures of each kind (:data:`HEALTH_KINDS`) over its pages;
- words: ``texts.words`` if the manifest has it (schema 4), else
  :func:`storage.schema.body_words` of each text file, read once; the median is over the
  articles fetched in a time bucket;
- time buckets are hours when the range spans at most :data:`HOURLY_MAX_HOURS`, else days.
Settings: none (a command's options: the archive, ``since``).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storage.layout import ArchiveLayout
from storage.schema import body_words
from storage.stories import story_ids

HOURLY_MAX_HOURS = 7 * 24
OTHER = "(other)"
HTML_TYPES = ("text/html%", "application/xhtml+xml%")
# failure reasons by the extraction-health kind they count as (pipelines.article.NoArticle,
# pipelines.error_pages); any other reason is a fetch failure, not the extractor's
HEALTH_KINDS = {
    "no_text": ("no_text", "extraction_empty", "keep_no_match", "empty_body", "parse_error",
                "decode_error", "extraction_error", "extraction_crashed", "extraction_timeout"),
    "too_short": ("too_short",),
    "soft": ("soft_404", "blocked", "error_page"),
}  # fmt: skip
TOP_STORIES = 15
Series = dict[str, dict[str, int]]  # name -> bucket -> count


@dataclass
class ReportData:
    archive: Path
    since: str | None
    runs: list[dict[str, Any]]
    first: str | None  # the earliest and latest timestamp seen
    last: str | None
    bucket: str  # "hour" or "day"
    pages: Series  # outlet -> bucket -> HTML captures
    articles: Series  # outlet -> bucket -> article rows
    failures: Series  # reason -> bucket -> failure events
    health: dict[str, dict[str, int]]  # outlet -> {"pages", "no_text", "too_short", "soft"}
    median_words: dict[str, dict[str, float]]  # outlet -> bucket -> median words per article
    words_source: str  # "texts.words" or "text files"
    warc: list[dict[str, Any]]  # per run: run_id, bytes, files, records, requisites…
    warc_files_bytes: int  # what ARCHIVE/warc/ holds now
    stories: list[dict[str, Any]] | None  # None: no stories index
    outlets: list[str] = field(default_factory=list)


def iso_since(since: datetime | None) -> str | None:
    """`since` as the manifest writes timestamps (``2026-03-01T06:00:00Z``)."""
    if since is None:
        return None
    return since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_key(url: str) -> str:
    """host[:port] without www., as crawler.outlets.host_key names an outlet's hosts."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    return (
        host if port in (None, {"http": 80, "https": 443}.get(parts.scheme)) else f"{host}:{port}"
    )


def connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection: the report never writes into the archive (a crawl may run)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def outlet_hosts(db: sqlite3.Connection) -> dict[str, str]:
    """host -> outlet from every run's outlet config (its start URLs, feeds and sitemaps)."""
    hosts: dict[str, str] = {}
    for (config,) in db.execute(
        "SELECT config FROM runs WHERE config IS NOT NULL ORDER BY started_at"
    ):
        try:
            outlets = json.loads(config).get("outlets") or []
        except (ValueError, AttributeError):
            continue
        for outlet in outlets:
            for url in (*outlet.get("start_urls", ()), *outlet.get("feeds", ()),
                        *outlet.get("sitemaps", ())):  # fmt: skip
                hosts[host_key(url)] = outlet["name"]
    return hosts


def _bucket_expr(column: str, bucket: str) -> str:
    return f"substr({column}, 1, {13 if bucket == 'hour' else 10})"


def _window(db: sqlite3.Connection, since: str | None) -> tuple[str | None, str | None]:
    where = "WHERE fetched_at >= :since" if since else ""
    lo, hi = db.execute(f"SELECT min(fetched_at), max(fetched_at) FROM captures {where}",
                        {"since": since}).fetchone()  # fmt: skip
    flo, fhi = db.execute(
        f"SELECT min(at), max(at) FROM failure_events {where.replace('fetched_at', 'at')}",
        {"since": since},
    ).fetchone()
    both = [t for t in (lo, hi, flo, fhi) if t]
    return (min(both), max(both)) if both else (None, None)


def _pick_bucket(first: str | None, last: str | None) -> str:
    if not first or not last:
        return "hour"
    span = datetime.fromisoformat(last.replace("Z", "+00:00")) - datetime.fromisoformat(
        first.replace("Z", "+00:00")
    )
    return "hour" if span <= timedelta(hours=HOURLY_MAX_HOURS) else "day"


def _pages(db: sqlite3.Connection, since: str | None, bucket: str,
           hosts: dict[str, str]) -> Series:  # fmt: skip
    # the host by SQL (no Python call per row): what follows "//" up to the next "/"
    rest = "substr(url, instr(url, '//') + 2)"
    host = (f"CASE WHEN instr({rest}, '/') > 0 THEN substr({rest}, 1, instr({rest}, '/') - 1)"
            f" ELSE {rest} END")  # fmt: skip
    sql = (
        f"SELECT {host} AS host, {_bucket_expr('fetched_at', bucket)} AS b, count(*) FROM captures"
        " WHERE record_type IN ('response', 'revisit')"
        " AND (content_type LIKE ? OR content_type LIKE ?)"
        + (" AND fetched_at >= ?" if since else "")
        + " GROUP BY host, b"
    )
    out: Series = defaultdict(lambda: defaultdict(int))
    for h, b, n in db.execute(sql, (*HTML_TYPES, *([since] if since else []))):
        out[hosts.get(host_key(f"http://{h}/"), OTHER)][b] += n
    return out


def _series(db: sqlite3.Connection, sql: str, since: str | None) -> Series:
    out: Series = defaultdict(lambda: defaultdict(int))
    for name, b, n in db.execute(sql, {"since": since}):
        out[name or OTHER][b] += n
    return out


def _health(db: sqlite3.Connection, since: str | None, pages: Series) -> dict[str, dict[str, int]]:
    health = {o: {"pages": sum(b.values()), **dict.fromkeys(HEALTH_KINDS, 0)}
              for o, b in pages.items() if o != OTHER}  # fmt: skip
    kind_of = {reason: kind for kind, reasons in HEALTH_KINDS.items() for reason in reasons}
    where = " WHERE at >= :since" if since else ""
    for outlet, reason, n in db.execute(
        f"SELECT outlet, reason, count(*) FROM failure_events{where} GROUP BY 1, 2",
        {"since": since},
    ):
        if (kind := kind_of.get(reason)) is not None:
            row = health.setdefault(outlet or OTHER, {"pages": 0, **dict.fromkeys(HEALTH_KINDS, 0)})
            row[kind] += n
    return health


def _words(
    db: sqlite3.Connection, layout: ArchiveLayout, text_ids: set[int]
) -> tuple[dict[int, int], str]:
    have = {row[1] for row in db.execute("PRAGMA table_info(texts)")}
    if "words" in have:
        rows = db.execute("SELECT id, words FROM texts WHERE words IS NOT NULL")
        return {i: w for i, w in rows if i in text_ids}, "texts.words"
    words: dict[int, int] = {}
    for i, stem in db.execute("SELECT id, stem FROM texts"):
        if i not in text_ids:
            continue
        try:
            words[i] = body_words((layout.text_dir / f"{stem}.txt").read_text(encoding="utf-8"))
        except OSError:
            continue  # a text 'elsewhere' (another worker's disk) or removed: no figure
    return words, "text files"


def _median_words(db: sqlite3.Connection, layout: ArchiveLayout, since: str | None,
                  bucket: str) -> tuple[dict[str, dict[str, float]], str]:  # fmt: skip
    where = " WHERE fetched_at >= :since" if since else ""
    rows = db.execute(
        f"SELECT outlet, {_bucket_expr('fetched_at', bucket)}, text_id FROM articles{where}",
        {"since": since},
    ).fetchall()
    words, source = _words(db, layout, {r[2] for r in rows})
    samples: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for outlet, b, text_id in rows:
        if text_id in words and b:
            samples[outlet or OTHER][b].append(words[text_id])
    medians = {o: {b: float(statistics.median(v)) for b, v in sorted(bs.items())}
               for o, bs in sorted(samples.items())}  # fmt: skip
    return medians, source


def _warc(layout: ArchiveLayout, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        path = layout.run_summary_path(run["run_id"])
        try:
            stats = json.loads(path.read_text(encoding="utf-8")).get("stats") or {}
        except (OSError, ValueError):
            stats = {}
        fetched = {k.removeprefix("requisites/fetched/"): v for k, v in stats.items()
                   if k.startswith("requisites/fetched/")}  # fmt: skip
        failed = {k.removeprefix("requisites/failed/"): v for k, v in stats.items()
                  if k.startswith("requisites/failed/")}  # fmt: skip
        records = sum(v for k, v in stats.items() if k.startswith("warc/records/") and
                      isinstance(v, int))  # fmt: skip
        out.append({"run_id": run["run_id"], "bytes": int(stats.get("warc/bytes", 0)),
                    "files": int(stats.get("warc/files", 0)), "records": records,
                    "requisites_bytes": int(stats.get("requisites/bytes", 0)),
                    "requisites_fetched": fetched, "requisites_failed": failed,
                    "summary": path.exists()})  # fmt: skip
    return out


def _stories(
    db: sqlite3.Connection, layout: ArchiveLayout, since: str | None
) -> list[dict[str, Any]] | None:
    path = layout.root / "stories.sqlite"
    if not path.exists():
        return None
    ids = story_ids(path)
    titles: dict[str, str] = {}
    sdb = connect_ro(path)
    try:
        titles = {str(i): t or "" for i, t in sdb.execute("SELECT id, title FROM stories")}
    finally:
        sdb.close()
    where = " WHERE fetched_at >= :since" if since else ""
    texts: dict[str, set[int]] = defaultdict(set)
    outlets: dict[str, set[str]] = defaultdict(set)
    for text_id, outlet in db.execute(
        f"SELECT text_id, outlet FROM articles{where}", {"since": since}
    ):
        if (story := ids.get(text_id)) is not None:
            texts[story].add(text_id)
            outlets[story].add(outlet or OTHER)
    ranked = sorted(texts, key=lambda s: (-len(texts[s]), -len(outlets[s]), s))[:TOP_STORIES]
    return [{"id": s, "title": titles.get(s, ""), "texts": len(texts[s]),
             "outlets": sorted(outlets[s])} for s in ranked]  # fmt: skip


def report_data(archive: Path, since: datetime | None = None) -> ReportData:
    """Everything the report shows; FileNotFoundError when the archive has no manifest."""
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise FileNotFoundError(layout.manifest_path)
    cut = iso_since(since)
    db = connect_ro(layout.manifest_path)
    try:
        where = " WHERE coalesce(finished_at, started_at) >= :since" if cut else ""
        runs = [dict(r) for r in db.execute(
            f"SELECT run_id, started_at, finished_at, status FROM runs{where} ORDER BY started_at",
            {"since": cut})]  # fmt: skip
        first, last = _window(db, cut)
        bucket = _pick_bucket(first, last)
        hosts = outlet_hosts(db)
        pages = _pages(db, cut, bucket, hosts)
        where = " WHERE fetched_at >= :since" if cut else ""
        articles = _series(db, f"SELECT outlet, {_bucket_expr('fetched_at', bucket)}, count(*)"
                               f" FROM articles{where} GROUP BY 1, 2", cut)  # fmt: skip
        where = " WHERE at >= :since" if cut else ""
        failures = _series(db, f"SELECT reason, {_bucket_expr('at', bucket)}, count(*)"
                               f" FROM failure_events{where} GROUP BY 1, 2", cut)  # fmt: skip
        health = _health(db, cut, pages)
        medians, source = _median_words(db, layout, cut, bucket)
        stories = _stories(db, layout, cut)
    finally:
        db.close()
    warc_bytes = sum(p.stat().st_size for p in layout.root.joinpath("warc").glob("*.warc*")
                     if p.is_file())  # fmt: skip
    outlets = sorted({*pages, *articles, *health} - {OTHER}) + ([OTHER] if OTHER in pages else [])
    return ReportData(
        archive=layout.root, since=cut, runs=runs, first=first, last=last, bucket=bucket,
        pages=_plain(pages), articles=_plain(articles), failures=_plain(failures), health=health,
        median_words=medians, words_source=source, warc=_warc(layout, runs),
        warc_files_bytes=warc_bytes, stories=stories, outlets=outlets,
    )  # fmt: skip


def _plain(series: Series) -> Series:
    return {name: dict(sorted(b.items())) for name, b in sorted(series.items())}
