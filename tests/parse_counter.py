"""Run a newsarchiver command with every HTML parse of this process counted.

``python -m tests.parse_counter OUT.json crawl --config …`` patches lxml's and parsel's parse
entry points in this process only (page workers are forked from a clean forkserver, so theirs
are not counted), checks that the counting sees a parse, runs the command, and writes what was
parsed as HTML to OUT.json at exit: ``{"counted": <self-check parses>, "html": [[where,
first bytes], …]}``.
"""

from __future__ import annotations

import atexit
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

import lxml.etree
import lxml.html
import parsel.selector

parses: list[tuple[str, str]] = []


def _where() -> str:
    frames = [f for f in traceback.extract_stack()[:-2] if "parse_counter" not in f.filename]
    return " < ".join(f"{f.name} ({f.filename.rsplit('/', 2)[-1]}:{f.lineno})" for f in frames[-4:])


def _head(text: Any) -> str:
    head = text[:80] if isinstance(text, (str, bytes)) else repr(type(text))
    return head.decode("latin-1") if isinstance(head, bytes) else head


def _counted(
    fn: Callable[..., Any], html: Callable[[tuple[Any, ...], dict[str, Any]], bool]
) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if html(args, kwargs):
            parses.append((_where(), _head(args[0] if args else kwargs.get("text"))))
        return fn(*args, **kwargs)

    return wrapper


def _html_parser(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    parser = kwargs.get("parser", args[1] if len(args) > 1 else None)
    return isinstance(parser, lxml.etree.HTMLParser)


def install() -> None:
    always = lambda args, kwargs: True  # noqa: E731
    lxml.etree.fromstring = _counted(lxml.etree.fromstring, _html_parser)
    lxml.etree.HTML = _counted(lxml.etree.HTML, always)
    for name in ("document_fromstring", "fromstring", "fragment_fromstring",
                 "fragments_fromstring"):  # fmt: skip
        setattr(lxml.html, name, _counted(getattr(lxml.html, name), always))
    parsel.selector.create_root_node = _counted(parsel.selector.create_root_node, always)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    install()
    # the self-check: a Scrapy selector's parse and lxml.html's are both seen
    from scrapy.http import HtmlResponse

    assert HtmlResponse("http://x/", body=b"<p>x</p>", encoding="utf-8").selector.root is not None
    lxml.html.document_fromstring("<p>x</p>")
    counted = len(parses)
    parses.clear()

    def write() -> None:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"counted": counted, "html": parses}, f)

    atexit.register(write)
    from crawler.cli.main import main as cli

    sys.exit(cli(argv))


if __name__ == "__main__":
    main()
