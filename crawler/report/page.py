"""The crawl report as one self-contained HTML page: the charts of :mod:`crawler.report.charts`
inline (SVG), each beside a table of its exact numbers, under a header naming the archive, its
date range and its runs (:class:`storage.report_data.ReportData`).

Nothing in the page is fetched: no script, stylesheet, font or image outside it. Tables carry
``data-outlet`` / ``data-reason`` / ``data-run`` on their rows and ``data-key`` on their number
cells, for tests and for anyone scraping the report.
Settings: none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape

from crawler.report import charts
from storage.report_data import HEALTH_KINDS, ReportData

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.6em 0 .4em; }
.meta { color: #555; } .meta code { font-size: .95em; }
section { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
figure { margin: 0; } figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.none { color: #777; font-style: italic; }
"""
KIND_LABELS = {"no_text": "no text", "too_short": "too short", "soft": "soft failure"}


def buckets(data: ReportData) -> list[str]:
    """Every hour (or day) from the first to the last, gaps included: an empty hour shows."""
    if not data.first or not data.last:
        return []
    step, width = (timedelta(hours=1), 13) if data.bucket == "hour" else (timedelta(days=1), 10)
    fmt = "%Y-%m-%dT%H" if data.bucket == "hour" else "%Y-%m-%d"
    at = datetime.strptime(data.first[:width], fmt)
    end = datetime.strptime(data.last[:width], fmt)
    out = []
    while at <= end:
        out.append(at.strftime(fmt))
        at += step
    return out


def _table(head: Sequence[str], rows: Iterable[tuple[dict[str, str], Sequence[object]]],
           keys: Sequence[str], table_id: str) -> str:  # fmt: skip
    """`rows`: (row attributes, cells); the first cell is the row's name, the others numbers
    (their data-key from `keys`)."""
    ths = "".join(f'<th class="{"num" if i else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = []
    for attrs, cells in rows:
        attr = "".join(f' data-{k}="{escape(v)}"' for k, v in attrs.items())
        tds = [f"<td>{escape(str(cells[0]))}</td>"]
        tds += [f'<td class="num" data-key="{escape(k)}">{escape(str(c))}</td>'
                for k, c in zip(keys, cells[1:], strict=True)]  # fmt: skip
        body.append(f"<tr{attr}>{''.join(tds)}</tr>")
    return (f'<table id="{table_id}"><thead><tr>{ths}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "\u2013"


def _header(data: ReportData) -> str:
    span = f"{data.first} \u2013 {data.last}" if data.first else "nothing fetched"
    since = f" (since {data.since})" if data.since else ""
    runs = _table(
        ["run", "started", "finished", "status"],
        (({"run": r["run_id"]}, [r["run_id"], r["started_at"], r["finished_at"] or "", r["status"]])
         for r in data.runs),
        ["started", "finished", "status"], "table-runs",
    )  # fmt: skip
    return (
        f'<h1>Crawl report</h1><p class="meta">archive <code>{escape(str(data.archive))}</code>'
        f' · <span id="range">{escape(span)}</span>{escape(since)} · {len(data.runs)} run(s)'
        f" · per {data.bucket}</p><details><summary>runs</summary>{runs}</details>"
    )


def _activity(data: ReportData, bs: list[str]) -> str:
    pages = charts.stacked_bars("chart-pages", f"HTML pages fetched per {data.bucket}", "pages",
                                data.pages, bs)  # fmt: skip
    articles = charts.stacked_bars("chart-articles", f"Articles per {data.bucket}", "articles",
                                   data.articles, bs)  # fmt: skip
    table = _table(
        ["outlet", "pages", "articles"],
        (({"outlet": o}, [o, sum(data.pages.get(o, {}).values()),
                          sum(data.articles.get(o, {}).values())]) for o in data.outlets),
        ["pages", "articles"], "table-activity",
    )  # fmt: skip
    return (f"<h2>Pages and articles</h2><section><figure>{pages}</figure>"
            f"<figure>{articles}</figure>{table}</section>")  # fmt: skip


def _failures(data: ReportData, bs: list[str]) -> str:
    chart = charts.stacked_bars("chart-failures", f"Failures by reason per {data.bucket}",
                                "failed attempts", data.failures, bs)  # fmt: skip
    table = _table(["reason", "failed attempts"],
                   (({"reason": r}, [r, sum(b.values())]) for r, b in data.failures.items()),
                   ["count"], "table-failures")  # fmt: skip
    return f"<h2>Failures</h2><section><figure>{chart}</figure>{table}</section>"


def _health(data: ReportData, bs: list[str]) -> str:
    outlets = [o for o in data.outlets if o in data.health]
    shares = {KIND_LABELS[k]: [data.health[o][k] / data.health[o]["pages"]
                               if data.health[o]["pages"] else 0.0 for o in outlets]
              for k in HEALTH_KINDS}  # fmt: skip
    chart = charts.grouped_bars("chart-health", "Extraction health: share of pages", "pages",
                                outlets, shares, percent=True)  # fmt: skip
    keys = ["pages", *HEALTH_KINDS, *(f"{k}_share" for k in HEALTH_KINDS)]
    rows = []
    for o in outlets:
        h = data.health[o]
        rows.append(({"outlet": o}, [o, h["pages"], *(h[k] for k in HEALTH_KINDS),
                                     *(_pct(h[k], h["pages"]) for k in HEALTH_KINDS)]))  # fmt: skip
    head = ["outlet", "pages", *(KIND_LABELS[k] for k in HEALTH_KINDS),
            *(f"% {KIND_LABELS[k]}" for k in HEALTH_KINDS)]  # fmt: skip
    table = _table(head, rows, keys, "table-health")
    words = charts.lines("chart-words", f"Median words per article, per {data.bucket}", "words",
                         data.median_words, bs)  # fmt: skip
    wrows = []
    for o in data.outlets:
        series = data.median_words.get(o) or {}
        values = list(series.values())
        if not values:
            wrows.append(({"outlet": o}, [o, "\u2013", "\u2013", "\u2013"]))
            continue
        first, last = values[0], values[-1]
        change = f"{(last - first) / first:+.1%}" if first else "\u2013"
        wrows.append(({"outlet": o}, [o, _num(first), _num(last), change]))
    wtable = _table(["outlet", "first median", "last median", "change"], wrows,
                    ["first", "last", "change"], "table-words")  # fmt: skip
    note = (
        f'<p class="meta">words from {escape(data.words_source)}; a drop in an outlet\'s '
        "median often means its page template changed.</p>"
    )
    return (
        f"<h2>Extraction health</h2><section><figure>{chart}</figure>{table}</section>"
        f"<section><figure>{words}</figure><div>{wtable}{note}</div></section>"
    )


def _num(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _warc(data: ReportData) -> str:
    runs = [w["run_id"] for w in data.warc]
    kinds = sorted({k for w in data.warc for k in w["requisites_fetched"]})
    mb = charts.grouped_bars("chart-warc", "WARC bytes per run", "MB", [r[:15] for r in runs],
                             {"WARC": [w["bytes"] / 1e6 for w in data.warc],
                              "requisites": [w["requisites_bytes"] / 1e6
                                             for w in data.warc]})  # fmt: skip
    req = charts.grouped_bars("chart-requisites", "Page requisites fetched per run", "fetched",
                              [r[:15] for r in runs],
                              {k: [w["requisites_fetched"].get(k, 0) for w in data.warc]
                               for k in kinds})  # fmt: skip
    rows = [({"run": w["run_id"]}, [w["run_id"], w["bytes"], w["records"], w["requisites_bytes"],
                                    sum(w["requisites_fetched"].values()),
                                    sum(w["requisites_failed"].values())])
            for w in data.warc]  # fmt: skip
    table = _table(["run", "WARC bytes", "WARC records", "requisite bytes", "requisites fetched",
                    "requisites failed"], rows,
                   ["warc_bytes", "records", "requisites_bytes", "requisites", "requisites_failed"],
                   "table-warc")  # fmt: skip
    note = (
        f'<p class="meta">WARC files on disk now: <span id="warc-files-bytes">'
        f"{data.warc_files_bytes}</span> bytes (compressed; the runs' figures are what each "
        "run wrote)</p>"
    )
    return (
        f"<h2>WARC and page requisites</h2><section><figure>{mb}</figure>"
        f"<figure>{req}</figure><div>{table}{note}</div></section>"
    )


def _stories(data: ReportData) -> str:
    if data.stories is None:
        return '<h2>Largest stories</h2><p class="none" id="stories-none">no stories index</p>'
    rows = [({"story": s["id"]}, [s["title"] or s["id"], s["texts"], ", ".join(s["outlets"])])
            for s in data.stories]  # fmt: skip
    table = _table(["story", "texts", "outlets"], rows, ["texts", "outlets"], "table-stories")
    return f"<h2>Largest stories</h2>{table}"


def render(data: ReportData) -> str:
    """The whole page."""
    bs = buckets(data)
    title = f"Crawl report: {data.archive.name}"
    parts = [_header(data), _activity(data, bs), _failures(data, bs), _health(data, bs),
             _warc(data), _stories(data)]  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f"</title><style>{CSS}</style></head><body>{''.join(parts)}</body>"
            "</html>\n")  # fmt: skip
