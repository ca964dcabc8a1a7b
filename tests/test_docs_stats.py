"""The stats reference (docs/stats.md) names every counter the code increments.

Reads crawler/, pipelines/ and storage/ for counter names passed as a literal (a string, or the
literal start of an f-string) to ``inc_value``, ``set_value``, ``max_value``, ``min_value`` or a
component's ``_count``/``_count_many``/``_inc`` helper, and fails naming each one the page does
not mention inside a code span. Names built wholly at run time are the page's to describe by
their prefix. Reads no settings.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATS_PAGE = ROOT / "docs" / "stats.md"
CALL_RE = re.compile(
    r"\b(?:inc_value|set_value|max_value|min_value|_count|_count_many|_inc)\(\s*"
    r"(f?)(?P<quote>[\"'])(?P<name>[^\"'\n]*)(?P=quote)"
)
# a counter name: slash-separated words (a log message passed to a _count of another kind is not)
COUNTER_RE = re.compile(r"^[a-z_]+(/[a-z0-9_<>.-]*)+$|^[a-z_]+/$")
CODE_SPAN_RE = re.compile(r"`([^`]+)`")


def counter_names() -> dict[str, str]:
    """Each literal counter name (an f-string's up to its first field) and where it is used."""
    found: dict[str, str] = {}
    for package in ("crawler", "pipelines", "storage"):
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            for match in CALL_RE.finditer(source):
                name = match.group("name")
                if match.group(1):
                    name = name.split("{", 1)[0]
                if "/" not in name or not COUNTER_RE.match(name):
                    continue
                line = source.count("\n", 0, match.start()) + 1
                found.setdefault(name, f"{path.relative_to(ROOT)}:{line}")
    return found


def documented_spans() -> list[str]:
    return CODE_SPAN_RE.findall(STATS_PAGE.read_text(encoding="utf-8"))


def test_the_code_increments_counters_the_scan_finds() -> None:
    names = counter_names()
    # a guard on the scan itself: a regex that finds nothing would pass everything
    assert "warc/records/request" in names
    assert "text/failed/" in names
    assert len(names) > 100


def test_every_counter_is_on_the_stats_page() -> None:
    spans = documented_spans()
    # the spider's _count(key, outlet) also counts outlet/<name>/<key>: the key alone is named
    missing = {
        name: where
        for name, where in counter_names().items()
        if not any(name in span for span in spans)
    }
    assert not missing, "counters docs/stats.md does not document: " + ", ".join(
        f"{name} ({where})" for name, where in sorted(missing.items())
    )
