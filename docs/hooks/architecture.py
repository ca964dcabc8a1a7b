"""MkDocs hook: the architecture picture, an SVG drawn from the list FLOW at build time.

``architecture.md`` holds a marker line ``<!-- architecture-picture -->``; this hook replaces it
with an inline SVG: down the left, the steps an article goes through (spider, downloader
middlewares, page worker, extraction, text pipeline, output item), each with the modules that do
it; on the right, where that step writes (WARC, failure records, texts, indexes). The picture is
made from FLOW alone, so tests/test_docs_architecture.py can check that every module path it
names exists, and fails when a module moves. Reads no settings.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

MARKER = "<!-- architecture-picture -->"


@dataclass(frozen=True)
class Box:
    title: str
    modules: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Step:
    """One step of an article's way (left) and, if it writes, where to (right)."""

    step: Box
    writes: Box | None = None
    arrow: str = ""


FLOW: tuple[Step, ...] = (
    Step(
        Box(
            "spider: what to fetch",
            ("crawler/spiders/outlets.py", "crawler/outlets.py"),
            "start pages, sitemaps, feeds → requests",
        ),
    ),
    Step(
        Box(
            "downloader middlewares",
            (
                "crawler/middlewares/retry.py",
                "crawler/middlewares/charset.py",
                "crawler/middlewares/not_modified.py",
            ),
            "retries, the charset, a 304 read from its capture",
        ),
        Box(
            "WARC capture",
            ("crawler/extensions/warc_capture.py", "storage/warc.py", "storage/index.py"),
            "response_downloaded → request + response records",
        ),
        "every exchange",
    ),
    Step(
        Box(
            "page worker: one parse per page",
            (
                "crawler/page_analysis.py",
                "crawler/page_work.py",
                "pipelines/worker_pool.py",
                "pipelines/error_pages.py",
            ),
            "error-page verdict, article signal, links, requisites, text",
        ),
        Box(
            "failure records",
            ("pipelines/page_failure.py", "crawler/extensions/failures.py", "storage/failures.py"),
            "page_failed → manifest, failures.jsonl",
        ),
        "no article",
    ),
    Step(
        Box(
            "extraction",
            (
                "pipelines/extract.py",
                "pipelines/article.py",
                "pipelines/main_text.py",
                "pipelines/cleaning.py",
                "pipelines/items.py",
            ),
            "the ArticleItem gets its ArticleText",
        ),
    ),
    Step(
        Box("text pipeline", ("pipelines/store_text.py",), "sha256 → stored once → NNN_HASH.txt"),
        Box(
            "texts and manifest",
            ("storage/texts.py", "storage/sidecar.py", "storage/manifest.py"),
            "TextStore.put → StoredText, crash-safe",
        ),
        "new text",
    ),
    Step(
        Box("text_stored signal", ("pipelines/signals.py",), "each text once it is stored"),
        Box(
            "search and stories",
            (
                "crawler/extensions/search_index.py",
                "storage/search.py",
                "crawler/extensions/stories_update.py",
                "storage/stories.py",
            ),
            "search.sqlite, stories.sqlite (threads)",
        ),
        "text id",
    ),
    Step(
        Box(
            "output item",
            ("pipelines/output_item.py",),
            "ArchivedArticle of plain values → feeds (-o)",
        ),
    ),
)


def module_paths() -> list[str]:
    """Every module path the picture names, in order."""
    paths: list[str] = []
    for step in FLOW:
        for box in (step.step, step.writes):
            if box:
                paths += [p for p in box.modules if p not in paths]
    return paths


LINE = 15
LEFT_X, LEFT_W, RIGHT_X, RIGHT_W, GAP = 10, 360, 470, 360, 34


def _box(x: int, y: int, width: int, box: Box, fill: str) -> tuple[list[str], int]:
    height = 26 + LINE * (len(box.modules) + (1 if box.note else 0))
    out = [
        f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="6" '
        f'fill="{fill}" stroke="#455a64"/>',
        f'<text x="{x + 10}" y="{y + 18}" font-weight="bold">{html.escape(box.title)}</text>',
    ]
    line_y = y + 18
    for module in box.modules:
        line_y += LINE
        out.append(
            f'<text x="{x + 10}" y="{line_y}" font-family="monospace" font-size="12">'
            f"{html.escape(module)}</text>"
        )
    if box.note:
        line_y += LINE
        out.append(
            f'<text x="{x + 10}" y="{line_y}" font-size="12" font-style="italic">'
            f"{html.escape(box.note)}</text>"
        )
    return out, height


def render_svg() -> str:
    """The picture: the steps down the left, arrows between them and to what each writes."""
    parts: list[str] = []
    y = 10
    for index, step in enumerate(FLOW):
        left, left_h = _box(LEFT_X, y, LEFT_W, step.step, "#eceff1")
        parts += left
        row_h = left_h
        if step.writes:
            right, right_h = _box(RIGHT_X, y, RIGHT_W, step.writes, "#e3f2fd")
            parts += right
            row_h = max(row_h, right_h)
            mid = y + 22
            parts.append(
                f'<line x1="{LEFT_X + LEFT_W}" y1="{mid}" x2="{RIGHT_X - 4}" y2="{mid}" '
                'stroke="#455a64" marker-end="url(#arrow)"/>'
            )
            parts.append(
                f'<text x="{LEFT_X + LEFT_W + 6}" y="{mid - 5}" font-size="10">'
                f"{html.escape(step.arrow)}</text>"
            )
        if index < len(FLOW) - 1:
            x = LEFT_X + LEFT_W // 2
            parts.append(
                f'<line x1="{x}" y1="{y + left_h}" x2="{x}" y2="{y + row_h + GAP - 4}" '
                'stroke="#455a64" marker-end="url(#arrow)"/>'
            )
        y += row_h + GAP
    height = y - GAP + 10
    width = RIGHT_X + RIGHT_W + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="The flow of an article through the modules" '
        f'font-family="sans-serif" font-size="13">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#455a64"/>'
        "</marker></defs>" + "".join(parts) + "</svg>"
    )


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: put the picture where architecture.md has its marker."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, '<div class="architecture">' + render_svg() + "</div>")
