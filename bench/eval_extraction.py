"""`make eval-extraction`: the project's extractor beside plain trafilatura on the dev set.

Runs ``../shared/extraction-devset/evaluate.py`` twice in one go, on the same pages: once with
:func:`extract_text` (newsarchiver's extract_article, its rendered text) and once with
trafilatura's defaults less comments (``include_comments=False``), and prints precision,
recall and F1 per source for both. Per-page results go to ``bench/results/``.

    python -m bench.eval_extraction [--devset DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from pipelines.article import NoArticle, extract_article

REPO = Path(__file__).resolve().parents[1]
DEVSET = REPO.parent / "shared" / "extraction-devset"
RESULTS = REPO / "bench" / "results"


def extract_text(html: str) -> str | None:
    """The evaluator's callable: HTML as str in, the text the pipeline would store out."""
    try:
        return extract_article(html.encode("utf-8"), "https://devset.invalid/",
                               "text/html; charset=utf-8").render()  # fmt: skip
    except NoArticle:
        return None


def run(devset: Path, label: str, extractor: list[str], limit: int | None) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(devset / "evaluate.py"), *extractor, "--data", str(devset),
           "--label", label, "--out", str(RESULTS / f"extraction-{label}.json"),
           "--n-bootstrap", "200"]  # fmt: skip
    if limit:
        cmd += ["--limit", str(limit)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devset", type=Path, default=DEVSET)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    if not (args.devset / "evaluate.py").exists():
        sys.exit(f"no dev set at {args.devset} (expected ../shared/extraction-devset)")
    runs = {
        "newsarchiver": ["--callable", "bench.eval_extraction:extract_text"],
        "trafilatura-no-comments": ["--trafilatura", "no_comments"],
    }
    for label, extractor in runs.items():
        out = run(args.devset, label, extractor, args.limit)
        tail = [line for line in out.splitlines() if line.strip()][-6:]
        print(f"== {label}")
        print("\n".join(tail))


if __name__ == "__main__":
    main()
