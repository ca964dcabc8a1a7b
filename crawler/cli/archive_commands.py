"""The ``newsarchiver`` commands that work on an archive's WARC files, not on the web.

::

    newsarchiver index     --archive DIR [--search] [--stories]  # indexes/index.cdxj up to date
                                                         # (--search, --stories: those rebuilt)
    newsarchiver lookup    URL --archive DIR [--json]    # the captures of a URL
    newsarchiver export    …                             # crawler/cli/export_command.py
    newsarchiver extract   FILE...|- [--jsonl] [--url URL] [--content-type CT]  # clean text
    newsarchiver reextract --archive DIR                 # rebuild texts from the WARCs

``index --search`` also makes the full-text index ARCHIVE/search.sqlite again from the manifest
and the text files (:func:`crawler.cli.search_command.rebuild`).

``extract`` prints the clean text the pipeline would store for each saved page, one page read
at a time in one process (the extractor is imported once). A FILE may be a directory: its
``*.html``, ``*.htm`` and ``*.html.gz`` (gunzipped) files below it, sorted by path. One file
prints as ``article.render()``; several (or a directory) print each text after a
``==> FILE <==`` header, a page without text a ``newsarchiver: FILE: no article text (reason)``
line on stderr, and exit 1 if any page had none. ``--jsonl`` prints one JSON object a page
(``file``, ``url``, ``title``, ``text`` — the paragraphs without the title —, ``published``,
``language``, ``error``: the NoArticle reason or null) and exits 0: there a page without text is
data. A page's URL is ``--url`` (one page only), else its own canonical or ``og:url``, else its
``file://`` URI. A missing or unreadable FILE, or a directory without pages, is exit 2 before
any page is extracted.

``reextract`` reads each archived article's response back from its WARC record (a revisit
record is followed to the capture it refers to), extracts it with the current extractor and the
outlet's drop/keep rules of the archive's last crawl, and stores a text that changed as a new
file (new hash, next number); the old file stays, marked ``superseded_by`` in the manifest. It
stores through the crawl's text store (:class:`storage.texts.TextStore`), so the new text's
sidecar credits every copy that re-extracted to it (each outlet's, with the page's date as
extracted now), canonical copy first.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

from crawler.cli import search_command
from crawler.cli.stories_commands import rebuild_stories
from crawler.outlets import ConfigError, parse_config
from crawler.runner import build_settings
from crawler.settings_check import check_archive_dir
from pipelines.article import ArticleText, NoArticle, extract_article
from pipelines.page_bytes import choose_charset
from storage import lock
from storage.clock import new_run_id
from storage.index import lookup, update_index
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.texts import TextStore
from storage.warc import WarcRef
from storage.warc_read import RecordMissing, read_response

EXIT_OK = 0


def open_archive(archive: str) -> tuple[ArchiveLayout, Manifest]:
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
        stories = rebuild_stories(layout.root) if args.stories else None
        searched = search_command.rebuild(layout) if args.search else None  # search_command.py
    print(f"indexed {len(done.indexed)} new WARC file(s); {layout.index_path}: "
          f"{done.lines} captures in {done.total_files} file(s)")  # fmt: skip
    for line in (searched, stories):
        if line:
            print(line)
    return EXIT_OK


def cmd_lookup(args: argparse.Namespace) -> int:
    layout = ArchiveLayout(args.archive)
    captures = lookup(layout, args.url)
    if args.json:
        print(json.dumps(captures, indent=2))
        return EXIT_OK
    print(f"{'time':<14}  {'status':>6}  {'type':<8}  {'offset':>10}  warc file")
    for c in captures:
        # a revisit's line is the capture it refers to (storage.index); shown as what it is
        own, original = c.get("revisit"), c.get("refers_to")
        note = f"  (replays {original['timestamp']} of {original['filename']})" if original else ""
        if own:
            c = {**c, **own}
        kind = "revisit" if own or c.get("mime") == "warc/revisit" else "response"
        print(f"{c['timestamp']:<14}  {c.get('status', '-'):>6}  {kind:<8}  {c['offset']:>10}  "
              f"{c['filename']}{note}")  # fmt: skip
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


PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")  # what a directory given to extract holds
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.I)
# json.dumps(ensure_ascii=False) leaves these raw; str.splitlines() and some readers break on them
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class _Page:
    """One input of ``extract``: `label` as the user named it (the argument, or the argument's
    directory joined with the path below it); `path` None is standard input."""

    label: str
    path: Path | None

    def read(self) -> bytes:
        """The page's bytes (a ``.gz`` file gunzipped); a ConfigError (exit 2) if unreadable."""
        try:
            if self.path is None:
                return sys.stdin.buffer.read()
            if self.path.name.lower().endswith(".gz"):
                with gzip.open(self.path, "rb") as f:
                    return f.read()
            return self.path.read_bytes()
        except (OSError, EOFError, zlib.error) as exc:  # EOFError, zlib.error: a broken .gz
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConfigError(f"extract: cannot read {self.label}: {why}") from None

    def fallback_url(self) -> str:
        """The URL of a page that names none: its file's ``file://`` URI."""
        return self.path.resolve().as_uri() if self.path is not None else "about:blank"


def _raise_walk_error(exc: OSError) -> None:
    raise exc  # os.walk skips an unreadable directory silently; a user should hear about it


def _extract_inputs(names: list[str]) -> list[_Page]:
    """The pages named on the command line, in order, a directory's pages sorted by path.

    Only paths are collected (the bodies are read one at a time), and every argument is checked
    before the first page is extracted, so that a typo ends the run before its output starts.
    """
    if names.count("-") > 1:
        raise ConfigError("extract: - (standard input) can be given only once")
    pages: list[_Page] = []
    for name in names:
        if name == "-":
            pages.append(_Page("-", None))
            continue
        path = Path(name)
        try:
            if not path.is_dir():
                with path.open("rb"):  # exists and is readable: fail now, not pages later
                    pass
                pages.append(_Page(name, path))
                continue
            found = sorted(
                Path(top, file)
                for top, _dirs, files in os.walk(path, onerror=_raise_walk_error)
                for file in files
                if file.lower().endswith(PAGE_SUFFIXES)
            )
        except OSError as exc:
            where = exc.filename or name
            raise ConfigError(f"extract: cannot read {where}: {exc.strerror or exc}") from None
        if not found:
            raise ConfigError(f"extract: no pages in {name} (no {', '.join(PAGE_SUFFIXES)} files)")
        pages.extend(_Page(str(p), p) for p in found)
    return pages


def page_url(body: bytes, content_type: str | None = None) -> str | None:
    """The URL a saved page gives itself: its ``<link rel=canonical>``, else its ``og:url``
    (absolute http(s) URLs only); None if it names neither.

    Only the head is parsed (the extractor parses the whole page again, with its own rules;
    ArticleText does not carry the URL trafilatura found).
    """
    encoding = choose_charset(content_type, body).encoding or "utf-8"
    try:
        text = body.decode(encoding, "replace")
    except LookupError:
        return None
    end = _HEAD_END.search(text)
    head = text[: end.start()] if end else text[:65536]  # no head end: the start is enough
    try:
        root = lxml_html.document_fromstring(head.encode("utf-8"), parser=_HEAD_PARSER)
    except (etree.ParserError, ValueError):
        return None
    if root is None:
        return None
    canonical = [
        link.get("href", "")
        for link in root.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    og = [m.get("content", "") for m in root.iter("meta") if m.get("property") == "og:url"]
    for url in (*canonical, *og):
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return url
    return None


_HEAD_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, collect_ids=False)


def _jsonl(page: _Page, url: str, article: ArticleText | None, error: str | None) -> bytes:
    """One JSON line of ``extract --jsonl``: UTF-8, never a raw line break inside."""
    line = json.dumps(
        {
            "file": page.label,
            "url": url,
            "title": article.title if article else None,
            "text": "\n\n".join(article.paragraphs) if article else None,  # no title line
            "published": article.published if article else None,
            "language": article.language if article else None,
            "error": error,
        },
        ensure_ascii=False,
    )
    for char, escaped in _LINE_BREAKS.items():
        line = line.replace(char, escaped)
    return line.encode("utf-8") + b"\n"


def cmd_extract(args: argparse.Namespace) -> int:
    """Extract each page named (a directory: the pages below it), one at a time."""
    pages = _extract_inputs(args.files)
    # one file (or -) prints exactly as before; several, or a directory, get a header each
    single = len(args.files) == 1 and len(pages) == 1 and pages[0].label == args.files[0]
    if args.url and not single:
        raise ConfigError("extract: --url applies to one page; several files or a directory "
                          "take each page's own URL")  # fmt: skip
    missing = printed = 0
    try:
        for page in pages:
            body = page.read()
            url = args.url or page_url(body, args.content_type) or page.fallback_url()
            article: ArticleText | None = None
            error: str | None = None
            detail = ""
            try:
                article = extract_article(body, url, args.content_type)
            except NoArticle as exc:
                error, detail = exc.reason, str(exc)
            except Exception as exc:  # one odd page must not end a long batch
                if single:
                    raise
                error, detail = "extraction_failed", f"extraction_failed: {exc!r}"
            del body  # streamed: at most one page's bytes held at a time
            if args.jsonl:
                sys.stdout.buffer.write(_jsonl(page, url, article, error))
                sys.stdout.buffer.flush()  # each line as it is done, for a pipe into jq
                continue
            if article is None:
                missing += 1
                where = "" if single else f"{page.label}: "
                sys.stdout.flush()  # the message after the texts before it, in a terminal
                print(f"newsarchiver: {where}no article text ({detail})", file=sys.stderr)
                continue
            if not single:  # as head(1) does: a blank line between one file's text and the next
                sys.stdout.write(("\n" if printed else "") + f"==> {page.label} <==\n")
            sys.stdout.write(article.render())
            printed += 1
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, without Python's complaint at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 1 if missing else EXIT_OK


def cmd_reextract(args: argparse.Namespace) -> int:
    layout, manifest = open_archive(args.archive)
    stats: Counter[str] = Counter()
    with lock.held(layout.lock_path):
        try:
            fsync = build_settings(str(layout.root)).getbool("TEXT_FSYNC")
            with TextStore(layout.root, new_run_id(), fsync) as store:
                total = reextract(layout, manifest, store, stats)
        finally:
            manifest.close()
    print(f"re-extracted {total} article(s): {stats['reextract/unchanged']} unchanged, "
          f"{stats['reextract/changed']} changed (new text files; the old ones superseded), "
          f"{sum(v for k, v in stats.items() if 'no_article' in k)} without text, "
          f"{stats['reextract/no_warc']} whose WARC file is not here, "
          f"{stats['reextract/record_missing']} whose WARC record is missing")  # fmt: skip
    return EXIT_OK


def reextract(layout: ArchiveLayout, manifest: Manifest, store: TextStore,
              stats: Counter[str]) -> int:  # fmt: skip
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
        new = store.put(
            article, url=row["url"], final_url=row["final_url"], outlet=row["outlet"],
            http_status=row["http_status"], fetched_at=row["fetched_at"],
            warc=WarcRef(row["warc_file"], row["warc_offset"], 0, record_id, None),
        )  # fmt: skip
        assert new.text_id is not None
        manifest.supersede(row["old_id"], new.text_id)
        stats["reextract/changed"] += 1
    return len(rows)


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("index", help="bring the archive's CDXJ index up to date")
    p.add_argument("--archive", required=True)
    p.add_argument("--stories", action="store_true",
                   help="rebuild stories.sqlite from the manifest and text files too")  # fmt: skip
    p.add_argument("--search", action="store_true",
                   help="also make the full-text search index (search.sqlite) again")  # fmt: skip
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("lookup", help="list the captures of a URL")
    p.add_argument("url")
    p.add_argument("--archive", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("extract", help="print the clean text the pipeline would store")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="an HTML file (.gz: gunzipped), a directory (its *.html, *.htm, "
                        "*.html.gz below it, sorted), or - for standard input")  # fmt: skip
    p.add_argument("--jsonl", action="store_true",
                   help="one JSON object a page: file, url, title, text, published, language, "
                        "error (exit 0: a page without text is data, its error field)")  # fmt: skip
    p.add_argument("--url",
                   help="the page's URL (for relative links and metadata; one page only; "
                        "default: its canonical or og:url, else its file:// URI)")  # fmt: skip
    p.add_argument("--content-type", help="its Content-Type header (for the charset)")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("reextract", help="rebuild the text files from the WARCs")
    p.add_argument("--archive", required=True)
    p.set_defaults(func=cmd_reextract)
