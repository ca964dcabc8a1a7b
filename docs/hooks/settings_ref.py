"""MkDocs hook: the settings reference page, generated from crawler/settings.py at build time.

The page ``settings.md`` holds a marker line ``<!-- settings-reference -->``; this hook replaces it
with one table per group of settings. It parses crawler/settings.py with ``ast`` (nothing is
imported, so the build needs neither Scrapy nor the project installed) and takes, for every
upper-case top-level assignment, its name, its default (the source expression, as written) and
its meaning: the ``#`` comment block right above it plus its trailing comment (and the ``#   ``
continuation lines below one). A ``# --- name: text ---`` line starts a group. A setting without
any comment is an error naming it, so ``mkdocs build --strict`` fails instead of printing an
undocumented setting. Reads no settings of its own.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "<!-- settings-reference -->"
SETTINGS_FILE = Path(__file__).resolve().parents[2] / "crawler" / "settings.py"
HEADER_RE = re.compile(r"^#\s*---\s*(.*?)\s*-*\s*$")
# a trailing comment continued on the next lines is indented past the hash ("#   more")
CONTINUATION_RE = re.compile(r"^#\s{2,}\S")


class UndocumentedSetting(ValueError):
    """A setting in crawler/settings.py has no comment: the reference would not say what it is."""


@dataclass
class Setting:
    name: str
    default: str
    meaning: str
    line: int


@dataclass
class Group:
    title: str
    settings: list[Setting] = field(default_factory=list)
    # comment paragraphs of the group that belong to no one setting (AWS_*, NAME_ENV)
    notes: list[str] = field(default_factory=list)


def _trailing_comment(line: str) -> str:
    """The comment after the code on a source line ('' if none); strings with '#' are rare here."""
    tokens = line.split("  # ", 1)
    return tokens[1].strip() if len(tokens) == 2 else ""


def parse_settings(source: str) -> list[Group]:
    """The groups and settings of a settings module's source, in file order."""
    lines = source.splitlines()
    tree = ast.parse(source)
    header_at = {
        number: match.group(1)
        for number, text in enumerate(lines, start=1)
        if (match := HEADER_RE.match(text.strip()))
    }
    groups: list[Group] = [Group("Scrapy project")]
    assignments = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.isupper()
    ]
    # a continuation of the line above is no block comment of the assignment below it
    continued: set[int] = set()
    for node in assignments:
        end = node.end_lineno or node.lineno
        if _trailing_comment(lines[end - 1]):
            number = end + 1
            while number <= len(lines) and CONTINUATION_RE.match(lines[number - 1].strip()):
                continued.add(number)
                number += 1
    previous_end = 0
    for node in assignments:
        name = node.targets[0].id  # type: ignore[attr-defined]
        for number in sorted(header_at):
            if previous_end < number < node.lineno:
                groups.append(Group(header_at[number]))
        block: list[str] = []
        number = node.lineno - 1
        while number > previous_end:
            text = lines[number - 1].strip()
            if not text.startswith("#") or number in header_at or number in continued:
                break
            block.insert(0, text.lstrip("#").strip())
            number -= 1
        _notes(lines, previous_end, number, header_at, continued, groups)
        end = node.end_lineno or node.lineno
        trailing = [_trailing_comment(lines[end - 1])]
        number = end + 1
        while number in continued:
            trailing.append(lines[number - 1].strip().lstrip("#").strip())
            number += 1
        meaning = " ".join(part for part in [*block, *trailing] if part)
        if not meaning:
            raise UndocumentedSetting(
                f"crawler/settings.py:{node.lineno}: setting {name} has no comment: "
                "say what it is in a # line above it or after it"
            )
        default = ast.get_source_segment(source, node.value) or ""
        groups[-1].settings.append(Setting(name, default, meaning, node.lineno))
        previous_end = end
        while previous_end + 1 in continued:
            previous_end += 1
    return [group for group in groups if group.settings]


def _notes(
    lines: list[str],
    after: int,
    before: int,
    header_at: dict[int, str],
    continued: set[int],
    groups: list[Group],
) -> None:
    """Comment paragraphs between two settings that no setting owns, as notes of their group."""
    group = groups[-2] if any(after < n <= before for n in header_at) else groups[-1]
    paragraph: list[str] = []
    for number in range(after + 1, before + 2):
        text = lines[number - 1].strip() if number <= before else ""
        if text.startswith("#") and number not in continued and number not in header_at:
            paragraph.append(text.lstrip("#").strip())
            continue
        if paragraph:
            group.notes.append(" ".join(paragraph))
            paragraph = []
        if number in header_at:
            group = groups[-1]


def _cell(text: str) -> str:
    """Text for a Markdown table cell: escaped, pipes and newlines kept out of the table syntax."""
    return html.escape(text).replace("|", "&#124;").replace("\n", " ")


def _default_cell(default: str) -> str:
    """The default's source expression as code; a dict over several lines keeps its lines."""
    escaped = html.escape(default).replace("|", "&#124;")
    if "\n" in default:
        escaped = "<br>".join(
            "&nbsp;" * (len(line) - len(line.lstrip())) + line.lstrip()
            for line in escaped.splitlines()
        )
    return "<code>" + escaped + "</code>"


def render(groups: list[Group]) -> str:
    """The Markdown tables of the settings reference."""
    out: list[str] = []
    for group in groups:
        out += [f"## {group.title}", ""]
        out += [note + "\n" for note in group.notes]
        out += ["| setting | default | meaning |", "| --- | --- | --- |"]
        for setting in group.settings:
            out.append(
                f'| <span id="{setting.name}"></span>`{setting.name}` '
                f"| {_default_cell(setting.default)} | {_cell(setting.meaning)} |"
            )
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: put the generated tables where settings.md has its marker."""
    if MARKER not in markdown:
        return markdown
    groups = parse_settings(SETTINGS_FILE.read_text(encoding="utf-8"))
    return markdown.replace(MARKER, render(groups))
