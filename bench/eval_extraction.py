"""`make eval-extraction`: the project's extractor beside plain trafilatura on the dev set.

One run over ``../shared/extraction-devset`` (669 pages, four sources), scored with the dev set's
own ``evaluate.py`` functions (4-token shingles, per-page precision and recall, corpus means):

- **side by side, per source**: the project (``extract_article``, scored on the body as stored,
  *without its title line*: the ground truths hold the article's body, not its headline) and plain
  trafilatura with comments off in its three biases (balanced, ``favor_precision``,
  ``favor_recall``); "best plain" is the best of the three, overall and on each source;
- **catastrophes**: pages where the project scores F1 < 0.5 while plain trafilatura (balanced)
  scores >= 0.8, listed by id;
- **speed**: pages per CPU second of each extractor, timed around each call in the same worker
  processes, on the same pages;
- **ablation**: the project with each of its own rules (``pipelines.article.RULES``) switched
  off, the F1 change per source, and the verdict of the rule's test: a rule stays when it helps
  on at least three of the four sources and costs no source more than 0.003 F1.

    python -m bench.eval_extraction [--limit N] [--workers N] [--no-ablation] [--favor BIAS]

Per-page scores go to ``bench/results/extraction-<date>.json`` (git-ignored; the dev set is not
ours to publish).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEVSET = REPO.parent / "shared" / "extraction-devset"
RESULTS = REPO / "bench" / "results"
PLAIN = {"balanced": {}, "favor_precision": {"favor_precision": True},
         "favor_recall": {"favor_recall": True}}  # fmt: skip
KEEP_MIN_SOURCES = 3  # a rule must help on this many sources...
KEEP_MAX_COST = 0.003  # ...and cost no source more F1 than this


def _scorer(devset: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("devset_evaluate", devset / "evaluate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_EVAL: ModuleType | None = None
_CONFIGS: list[tuple[str, str, frozenset[str]]] = []


def _init(devset: str, configs: list[tuple[str, str, frozenset[str]]]) -> None:
    global _EVAL, _CONFIGS
    _EVAL = _scorer(Path(devset))
    _CONFIGS = configs
    import logging

    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def project_body(html: str, favor: str = "", disabled: frozenset[str] = frozenset()) -> str | None:
    """What the project stores for a page, without the title line; None for no article."""
    from pipelines.article import NoArticle, extract_article

    try:
        article = extract_article(html.encode("utf-8"), "https://devset.invalid/",
                                  "text/html; charset=utf-8", favor=favor,
                                  disabled=disabled)  # fmt: skip
    except NoArticle:
        return None
    return "\n\n".join(article.paragraphs)


def _page(item: dict[str, Any]) -> dict[str, Any]:
    import trafilatura

    assert _EVAL is not None
    html = _EVAL.read_html(Path(item["path"]))
    out: dict[str, Any] = {"id": item["id"], "source": item["source"], "scores": {}}
    for label, kind, disabled in _CONFIGS:
        started = time.process_time()
        try:
            if kind.startswith("plain:"):
                text = trafilatura.extract(html, include_comments=False,
                                           **PLAIN[kind.removeprefix("plain:")])  # fmt: skip
            else:
                text = project_body(html, kind.removeprefix("project:"), disabled)
        except Exception as exc:  # an extractor bug on one page is a zero, not a lost run
            text = None
            out.setdefault("errors", {})[label] = f"{type(exc).__name__}: {exc}"[:200]
        cpu = time.process_time() - started
        score = _EVAL.score_page(item["truth"], text)
        out["scores"][label] = {"f1": score["f1"], "precision": score["precision"],
                                "recall": score["recall"], "exact": score["exact"],
                                "cpu": cpu}  # fmt: skip
    return out


def _aggregate(pages: list[dict[str, Any]], label: str) -> dict[str, float]:
    ps = [p["scores"][label]["precision"] for p in pages
          if p["scores"][label]["precision"] is not None]  # fmt: skip
    rs = [p["scores"][label]["recall"] for p in pages if p["scores"][label]["recall"] is not None]
    precision = statistics.fmean(ps) if ps else 0.0
    recall = statistics.fmean(rs) if rs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall,
            "empty": sum(1 for p in pages if p["scores"][label]["precision"] is None)}  # fmt: skip


def evaluate(devset: Path, limit: int | None, workers: int, ablation: bool,
             favor: str) -> dict[str, Any]:  # fmt: skip
    from pipelines.article import KEPT_DESPITE_ABLATION, RULES

    items = _scorer(devset).load_dataset(devset)
    if limit:
        items = items[:limit]
    configs: list[tuple[str, str, frozenset[str]]] = [
        (f"plain {name}", f"plain:{name}", frozenset()) for name in PLAIN
    ]
    configs.append(("project", f"project:{favor}", frozenset()))
    if ablation:
        configs += [(f"without {rule}", f"project:{favor}", frozenset({rule})) for rule in RULES]
    payload = [{**it, "path": str(it["path"])} for it in items]
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(workers, initializer=_init, initargs=(str(devset), configs)) as pool:
        pages = list(pool.imap(_page, payload, chunksize=4))
    sources = sorted({p["source"] for p in pages})
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for label, _, _ in configs:
        table[label]["ALL"] = _aggregate(pages, label)
        for source in sources:
            table[label][source] = _aggregate([p for p in pages if p["source"] == source], label)
    speed = {label: len(pages) / max(sum(p["scores"][label]["cpu"] for p in pages), 1e-9)
             for label, _, _ in configs}  # fmt: skip
    base = "plain balanced"
    catastrophes = [
        p["id"] for p in pages
        if (p["scores"]["project"]["f1"] or 0) < 0.5 and (p["scores"][base]["f1"] or 0) >= 0.8
    ]  # fmt: skip
    return {"pages": len(pages), "sources": sources, "table": table, "speed": speed,
            "catastrophes": catastrophes, "favor": favor, "rules": list(RULES) if ablation
            else [], "kept_despite": KEPT_DESPITE_ABLATION, "per_page": pages}  # fmt: skip


def report(result: dict[str, Any]) -> None:
    table, sources = result["table"], result["sources"]
    cols = ["ALL", *sources]
    plain = [label for label in table if label.startswith("plain ")]
    best_plain = {c: max(plain, key=lambda label: table[label][c]["f1"]) for c in cols}
    print(f"{result['pages']} pages; F1 / P / R; project bias: {result['favor'] or 'balanced'}")
    print(f"  {'extractor':<24}" + "".join(f"{c:>22}" for c in cols))
    for label in [*plain, "project"]:
        cells = "".join(
            f"  {table[label][c]['f1']:.3f} {table[label][c]['precision']:.3f} "
            f"{table[label][c]['recall']:.3f}" for c in cols
        )  # fmt: skip
        print(f"  {label:<24}{cells}")
    deltas = "".join(
        f"{table['project'][c]['f1'] - table[best_plain[c]][c]['f1']:>+22.3f}" for c in cols
    )
    print(f"  {'project - best plain':<24}{deltas}")
    print("  best plain per column: " + ", ".join(f"{c} {best_plain[c]}" for c in cols))
    speed = result["speed"]
    print(
        f"\nspeed (pages per CPU second): project {speed['project']:.1f}, plain balanced "
        f"{speed['plain balanced']:.1f} (ratio {speed['project'] / speed['plain balanced']:.2f})"
    )
    cat = result["catastrophes"]
    print(f"catastrophes (project F1 < 0.5 where plain balanced >= 0.8): {len(cat)}"
          + (f"  {', '.join(cat[:20])}" if cat else ""))  # fmt: skip
    if not result["rules"]:
        return
    print("\nablation: F1 change when the rule is switched off (negative: the rule helps)")
    print(f"  {'rule':<24}" + "".join(f"{c:>12}" for c in cols) + "  verdict")
    dropped = set()
    for rule in result["rules"]:
        label = f"without {rule}"
        changes = {c: table[label][c]["f1"] - table["project"][c]["f1"] for c in cols}
        helps = sum(1 for s in sources if changes[s] < 0)
        costs = max(changes[s] for s in sources)  # what the rule costs its worst source
        keep = helps >= KEEP_MIN_SOURCES and costs <= KEEP_MAX_COST
        if not keep:
            dropped.add(rule)
        print(f"  {rule:<24}" + "".join(f"{changes[c]:>+12.4f}" for c in cols)
              + f"  {'keep' if keep else 'drop'} (helps {helps}/{len(sources)}, "
              f"costs at most {max(costs, 0):.4f})")  # fmt: skip
    kept = {r: why for r, why in result["kept_despite"].items() if r in dropped}
    if kept:
        print("kept although the test says drop:")
        for rule, why in kept.items():
            print(f"  {rule}: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devset", type=Path, default=DEVSET)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--favor", choices=("", "precision", "recall"), default="")
    args = parser.parse_args()
    if not (args.devset / "evaluate.py").exists():
        sys.exit(f"no dev set at {args.devset} (expected ../shared/extraction-devset)")
    started = time.monotonic()
    result = evaluate(args.devset, args.limit, args.workers, not args.no_ablation, args.favor)
    report(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    out = RESULTS / f"extraction-{stamp}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\n{time.monotonic() - started:.0f} s; per-page scores: {out}")


if __name__ == "__main__":
    main()
