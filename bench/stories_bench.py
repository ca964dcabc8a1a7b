"""Stories benchmark: near-duplicate precision/recall on the fixture, assignment time at scale.

    python -m bench.stories_bench --fixture          # P/R of near-duplicates at a few thresholds
    python -m bench.stories_bench [--texts 10000]    # assign new texts to a 10,000-text archive

``--fixture`` takes the demo outlets' stories and the syndicated variants
(:mod:`crawler.demo.variants`) as their texts (one text per distinct title and paragraphs, as
the archive stores them), finds near-duplicate pairs through :class:`storage.stories.Stories`
at each threshold and scores them against the truth (same ``syndicated_group``); it also says
whether the variants form one story with nothing else in it. The scale run assigns N synthetic
texts (Zipf-distributed words, 250-700 words each, a year of dates; a third of them edited
copies of earlier ones), closes the file, times the reopening (the LSH index is in the file:
nothing is loaded) and then the assignment of 500 new texts one at a time, sqlite commit included:
median, p95, max. Not a test: run it and read the figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from crawler.cli.stories_commands import thresholds
from crawler.demo.stories import STORIES
from crawler.demo.variants import CORRECTION, UNRELATED, VARIANTS
from storage.stories import Stories

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def fixture(threshold: float, related: float) -> tuple[float, float, bool, dict[int, str]]:
    texts: dict[tuple[str, tuple[str, ...]], object] = {}
    for s in sorted((*STORIES, *VARIANTS, *UNRELATED, CORRECTION), key=lambda s: s.published):
        texts.setdefault((s.title, s.paragraphs), s)
    stories_list = list(texts.values())
    with tempfile.TemporaryDirectory() as tmp:
        st = Stories(Path(tmp) / "s.sqlite", **{**thresholds(), "near_threshold": threshold,
                                                "related_threshold": related})  # fmt: skip
        placed = {}
        for i, s in enumerate(stories_list):
            placed[i] = st.assign(i, s.title, s.paragraphs, s.published, f"{i:012d}")  # type: ignore[attr-defined]
        st.close()
    groups = {i: s.syndicated_group for i, s in enumerate(stories_list)}  # type: ignore[attr-defined]
    truth = {
        (a, b) for a in groups for b in groups if a < b and groups[a] and groups[a] == groups[b]
    }
    found = {
        tuple(sorted((i, p.near_duplicate_of)))
        for i, p in placed.items() if p.near_duplicate_of is not None
    }  # fmt: skip
    # a text matched against one earlier copy: its pairs with the others of that story count too
    story_of = {i: p.story_id for i, p in placed.items()}
    predicted = {
        (a, b) for a in placed for b in placed
        if a < b and story_of[a] == story_of[b]
        and (placed[a].near_duplicate_of is not None or placed[b].near_duplicate_of is not None)
    } | found  # fmt: skip
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    sewage = {story_of[i] for i, g in groups.items() if g == "npa-sewage"}
    one_story = len(sewage) == 1 and all(
        groups[i] == "npa-sewage" for i in placed if story_of[i] in sewage
    )
    return precision, recall, one_story, story_of


_VOCAB = [f"w{i}" for i in range(20_000)]
_WEIGHTS = [1 / (i + 1) for i in range(len(_VOCAB))]


def _text(rng: random.Random) -> tuple[str, list[str]]:
    n = rng.randint(250, 700)
    w = rng.choices(_VOCAB, _WEIGHTS, k=n)
    paras = [" ".join(w[i : i + 60]) for i in range(0, n, 60)]
    return " ".join(rng.choices(_VOCAB, _WEIGHTS, k=8)), paras


def _edited(rng: random.Random, paras: list[str]) -> list[str]:
    out = list(paras)
    if rng.random() < 0.5:
        out.insert(rng.randrange(len(out) + 1), " ".join(rng.choices(_VOCAB, _WEIGHTS, k=60)))
    else:
        out = out[:-1] or out
    return out


def scale(n: int, new: int = 500, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    bodies: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stories.sqlite"
        st = Stories(path, **thresholds())
        t0 = time.perf_counter()
        for i in range(n):
            title, paras = _text(rng)
            if bodies and rng.random() < 1 / 3:
                paras = _edited(rng, rng.choice(bodies))
            bodies.append(paras)
            when = (start + timedelta(minutes=i * 52)).isoformat()
            st.assign(i, title, paras, when, f"{i:012x}")
        built = time.perf_counter() - t0
        st.close()
        t0 = time.perf_counter()
        st = Stories(path, **thresholds())
        loaded = time.perf_counter() - t0
        times = []
        for j in range(new):
            title, paras = _text(rng)
            if j % 2:
                paras = _edited(rng, rng.choice(bodies))
            when = (start + timedelta(minutes=(n + j) * 52)).isoformat()
            t0 = time.perf_counter()
            st.assign(n + j, title, paras, when, f"{n + j:012x}")
            times.append((time.perf_counter() - t0) * 1000)
        st.close()
        size = path.stat().st_size
    times.sort()
    print(f"{n} texts assigned in {built:.1f} s ({built / n * 1000:.2f} ms each); "
          f"stories.sqlite {size / 1e6:.1f} MB")  # fmt: skip
    print(f"reopen: {loaded * 1000:.0f} ms")
    print(f"assign one new text ({new}, half of them edited copies): median "
          f"{statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
          f"max {times[-1]:.2f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixture", action="store_true")
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--related", type=float, default=0.4)
    args = parser.parse_args()
    if args.fixture:
        print("threshold  precision  recall  variants one story, nothing else in it")
        for t in THRESHOLDS:
            p, r, one, _ = fixture(t, args.related)
            print(f"{t:>9.1f}  {p:>9.2f}  {r:>6.2f}  {one}")
        return
    scale(args.texts)


if __name__ == "__main__":
    main()
