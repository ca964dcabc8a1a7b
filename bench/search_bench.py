"""How fast ``newsarchiver search`` answers on a large archive: a synthetic search.sqlite of
100,000 texts (by default), then 50 queries of each kind, median and p95 per kind.

The texts are made of pseudo-words drawn with a Zipf distribution (as words in news are: a few
very common, most rare), a title of 8 and a body of ``--words`` words, one copy each at one of 4
outlets on a day of 2024; they go straight into :class:`storage.search.SearchIndex` in large
transactions (no crawl, no text files). The queries time :meth:`SearchIndex.search` with the
command's default ``--limit 20`` in this process, snippets and copies included; a ``newsarchiver
search`` process adds its start (Python and the imports), printed at the end for one query.

    python -m bench.search_bench [--texts 100000] [--words 250] [--db PATH] [--keep]

Not a test: the figures go in the README.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from storage.search import Copy, Doc, SearchIndex

SYLLABLES = "ka lo mi ren tor vel sa den bri ga hul no pe ster wy quo lan fe dri mos tun ark ze bo"
SYLLABLES_LIST = SYLLABLES.split()
OUTLETS = ["iconnews", "wirehub", "valleydaily", "nordpress"]


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(2, 5))
        words.add("".join(SYLLABLES_LIST[int(i)] for i in rng.integers(0, len(SYLLABLES_LIST), n)))
    return sorted(words)


def build(path: Path, texts: int, words: int, seed: int = 19) -> tuple[list[str], list[str]]:
    """The index at `path`; returns the vocabulary (by rank: most common first) and a few
    bodies to take phrases from."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(30_000, rng)
    ranks = np.minimum(rng.zipf(1.15, size=(texts, words + 8)) - 1, len(vocab) - 1)
    days = rng.integers(0, 365, texts)
    outlets = rng.integers(0, len(OUTLETS), texts)
    index = SearchIndex(path)
    samples: list[str] = []
    batch = 5000
    for start in range(0, texts, batch):
        docs = []
        for i in range(start, min(start + batch, texts)):
            tokens = [vocab[r] for r in ranks[i]]
            title, body = " ".join(tokens[:8]).capitalize(), " ".join(tokens[8:])
            day = np.datetime64("2024-01-01") + int(days[i])
            docs.append(Doc(i + 1, f"text/{i:06d}_synthetic.txt", title, body,
                            (Copy(f"https://{OUTLETS[outlets[i]]}.example/{i}",
                                  OUTLETS[outlets[i]], f"{day}T08:00:00+00:00"),)))  # fmt: skip
            if i % 997 == 0:
                samples.append(body)
        index.write(docs)
    index._db.execute("INSERT INTO texts_fts (texts_fts) VALUES ('optimize')")
    index.close()
    return vocab, samples


Queries = dict[str, list[tuple[str, dict[str, Any]]]]


def queries(vocab: list[str], samples: list[str], n: int, rng: np.random.Generator) -> Queries:
    def pick(lo: int, hi: int) -> str:
        return vocab[int(rng.integers(lo, hi))]

    def phrase() -> str:
        body = samples[int(rng.integers(0, len(samples)))].split()
        at = int(rng.integers(0, len(body) - 2))
        return f'"{body[at]} {body[at + 1]}"'

    return {
        "common word": [(pick(0, 50), {}) for _ in range(n)],
        "mid word": [(pick(200, 2000), {}) for _ in range(n)],
        "rare word": [(pick(5000, 30000), {}) for _ in range(n)],
        "two words": [(f"{pick(20, 500)} {pick(20, 500)}", {}) for _ in range(n)],
        "phrase": [(phrase(), {}) for _ in range(n)],
        "prefix": [(pick(0, 3000)[:4] + "*", {}) for _ in range(n)],
        "a AND NOT b": [(f"{pick(20, 300)} AND NOT {pick(20, 300)}", {}) for _ in range(n)],
        "a OR b": [(f"{pick(100, 1000)} OR {pick(100, 1000)}", {}) for _ in range(n)],
        "word+outlet+since": [
            (pick(50, 1000), {"outlets": [OUTLETS[int(rng.integers(0, 4))]], "since": "2024-07-01"})
            for _ in range(n)
        ],
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=250, help="words in a body")
    parser.add_argument("--queries", type=int, default=50, help="of each kind")
    parser.add_argument("--db", type=Path, help="where to build it (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="search-bench-")
    path = args.db or Path(tmp.name) / "search.sqlite"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    vocab, samples = build(path, args.texts, args.words)
    built = time.perf_counter() - started
    print(f"built {args.texts} texts x {args.words} words in {built:.1f} s, "
          f"{path.stat().st_size / 1e6:.0f} MB")  # fmt: skip
    index = SearchIndex(path, readonly=True)
    rng = np.random.default_rng(7)
    print(f"{'kind':<20} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'hits':>5}")
    for kind, qs in queries(vocab, samples, args.queries, rng).items():
        times, hits = [], 0
        for q, filters in qs:
            started = time.perf_counter()
            hits += len(index.search(q, **filters))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{kind:<20} {statistics.median(times):>10.2f} {p95:>8.2f} {times[-1]:>8.2f} "
              f"{hits / len(qs):>5.1f}")  # fmt: skip
    index.close()
    archive = path.parent
    if not (archive / "manifest.sqlite").exists():  # the command asks for an archive
        (archive / "manifest.sqlite").touch()
    cmd = [sys.executable, "-m", "crawler.cli", "search", vocab[300], "--archive", str(archive)]
    runs = sorted(timed(lambda: subprocess.run(cmd, capture_output=True, check=True))
                  for _ in range(5))  # fmt: skip
    print(f"a `newsarchiver search` process, start to exit: {statistics.median(runs):.0f} ms")
    if args.keep:
        print(f"kept {path}")
        tmp = None  # type: ignore[assignment]
    return 0


if __name__ == "__main__":
    sys.exit(main())
