"""Crawl throughput: the newsarchiver pipeline against bare Scrapy and the extraction floor.

One synthetic outlet (bench/synthetic_site.py: N article pages of 60-300 KB, each with a
mega-menu of ~300 links, teasers, comments and scripts, plus section pages of 100 links, served
from a process of its own on loopback) is crawled, in one run over the same pages, by:

1. ``bare``  a bare Scrapy spider that only fetches (bench/bare_spider.py);
2. ``warc``  ``newsarchiver crawl`` with WARC capture only (EXTRACT_ENABLED/TEXT_ENABLED off);
3. ``full``  ``newsarchiver crawl`` with everything: WARC, extraction workers, texts, manifest;
   and ``requisites``: the same with the page requisites (ARCHIVE_REQUISITES), beside it;

each a subprocess with a fresh archive, timed from start to exit, its process tree's RSS summed
and each process's CPU read every 0.15 s (by kind: the crawl process, the extraction workers).
Then, on one core in this process over the same pages' HTML (CPU time): 4. the extraction
floor, plain ``trafilatura.extract(..., include_comments=False)``, and beside it the project's
``pipelines.article.extract_article``; and 5. the two-core limit, ``2 / (CPU s per page of (1)
+ CPU s per page of extract_article)``: what two cores could crawl if fetching cost what bare
Scrapy costs and extracting what the project's extractor costs, with nothing else done at all.

Targets, printed met / NOT met: (2)/(1) >= 0.8, (3)/(4) >= 1.5, (3) >= 0.85 x (5); with
``--large``, a full crawl of 20000 pages under 1 GB peak RSS and within 10 % of the 5000-page
crawl. Medians of ``--runs``. After the timed runs one more full crawl runs under py-spy
(bench/cpu_profile.py) for where its CPU goes: self time by package, for the crawl process and
for the extraction workers apart (``--no-profile`` skips it). JSON to bench/results/. The runs
are timed by :mod:`bench.timed_runs`, summed up and printed by :mod:`bench.pipeline_report`.

    python -m bench.pipeline_bench [--pages 1000] [--runs 3] [--floor-pages 1000] [--large]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cpu_profile
from bench.pipeline_report import (
    CONFIGS,
    TARGET_PEAK_RSS_MB,
    TARGET_RSS_GROWTH,
    met_text,
    print_table,
    summarise,
    target_row,
)
from bench.site_server import SiteServer
from bench.synthetic_site import Site
from bench.timed_runs import BenchFailure, Run, timed

RESULTS = Path(__file__).resolve().parent / "results"
# The brief's settings for the pipeline runs; the bare spider sets the same (BENCH_SETTINGS).
CRAWL_SETTINGS = [
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "ROBOTSTXT_OBEY=False",
    "CONCURRENT_REQUESTS=32",
    "CONCURRENT_REQUESTS_PER_DOMAIN=32",
]
WARC_ONLY = ["EXTRACT_ENABLED=False", "TEXT_ENABLED=False"]
KNOWN_FLAKE = "database is locked"


def newsarchiver_cmd() -> list[str]:
    script = Path(sys.executable).parent / "newsarchiver"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crawler.cli"]


def run_bare(server: SiteServer, n: int, work: Path) -> Run:
    log = work / "bare.log"
    cmd = [sys.executable, "-m", "bench.bare_spider", "--start", server.start_url]
    seconds, peak, procs, cpu, scpu, other, kinds = timed(cmd, log, _pid(server))
    counts = json.loads(log.read_text().strip().splitlines()[-1])
    if counts["articles"] != n:
        raise BenchFailure(f"bare spider fetched {counts['articles']} of {n} articles")
    return Run("bare", n, seconds, n / seconds, peak / 2**20, procs, cpu, scpu, other, kinds,
               counts)  # fmt: skip


def run_pipeline(
    server: SiteServer,
    n: int,
    work: Path,
    full: bool,
    requisites: bool = False,
    wrap: list[str] | None = None,
    name: str | None = None,
) -> Run:
    """One `newsarchiver crawl` of the site, timed and checked (every article archived, and
    with `full` extracted and stored); `wrap`: a command prefix it runs under (a profiler)."""
    name = name or ("requisites" if requisites else "full" if full else "warc")
    archive = work / f"archive-{name}"
    config = work / "outlets.yaml"
    config.write_text(
        "outlets:\n  - name: synthetic\n"
        f'    start_urls: ["{server.start_url}"]\n'
        # section page 1 -> pager -> other section pages -> their articles: two hops, as an
        # outlet config would say (README: depth 2); articles past depth 1 follow no links
        "    depth: 2\n"
    )
    # (2) and (3) as before page requisites were fetched; the requisites run: (3) with them
    sets = CRAWL_SETTINGS + ([] if full else WARC_ONLY)
    sets += [] if requisites else ["ARCHIVE_REQUISITES=False"]
    cmd = [*(wrap or []), *newsarchiver_cmd(), "crawl", "--config", str(config),
           "--archive", str(archive)]  # fmt: skip
    for item in sets:
        cmd += ["-s", item]
    crashes = 0
    while True:
        try:
            timing = timed(cmd, work / f"{name}.log", _pid(server))
            seconds, peak, procs, cpu, scpu, other, kinds = timing
            break
        except BenchFailure:
            # A known start-up race of the project (manifest.sqlite "database is locked" as
            # the WARC writer opens a fresh archive, about one crawl in six here): run again,
            # loudly and counted, so one flake does not void the whole benchmark.
            log = (work / f"{name}.log").read_text(errors="replace")
            if KNOWN_FLAKE not in log or crashes >= 2:
                raise
            crashes += 1
            print(f"  {name}: crawl crashed at start ({KNOWN_FLAKE}); running it again")
            shutil.rmtree(archive, ignore_errors=True)
    summaries = list((archive / "runs").glob("*.json"))
    if len(summaries) != 1:
        raise BenchFailure(f"{name}: expected one run summary, found {len(summaries)}")
    summary = json.loads(summaries[0].read_text())
    stats, totals = summary["stats"], summary["totals"]
    articles = stats.get("spider/pages/article", 0)
    responses = stats.get("warc/records/response", 0)
    if articles != n or responses < n:
        raise BenchFailure(f"{name}: {articles} article pages, {responses} WARC responses of {n}")
    detail: dict[str, Any] = {
        "crashed_at_start": crashes,
        "fetched": totals["fetched"],
        "warc_responses": responses,
        "warc_bytes": stats.get("warc/bytes"),
        "crawl_seconds": summary["elapsed_seconds"],  # reactor start to close, from the summary
        "outside_crawl_seconds": round(seconds - summary["elapsed_seconds"], 2),
        "memusage_max_mb": round(stats.get("memusage/max", 0) / 2**20, 1),
        "requisites_fetched": sum(
            v for k, v in stats.items() if k.startswith("requisites/fetched/")
        ),
        "bytes_per_article": round((stats.get("warc/bytes") or 0) / n),
    }
    if requisites and not detail["requisites_fetched"]:
        raise BenchFailure("requisites: the crawl fetched no page requisites")
    if full:
        texts = len(list((archive / "text").glob("*.txt")))
        if texts != n or stats.get("extract/ok") != n:
            raise BenchFailure(
                f"full: {texts} text files, extract/ok {stats.get('extract/ok')}, of {n}; "
                f"no_article: { {k: v for k, v in stats.items() if 'no_article' in k} }"
            )
        detail.update(texts=texts, extract_ok=stats["extract/ok"],
                      text_written=stats.get("text/written"))  # fmt: skip
    return Run(name, n, seconds, n / seconds, peak / 2**20, procs, cpu, scpu, other, kinds,
               detail)  # fmt: skip


def _pid(server: SiteServer) -> int:
    assert server.process is not None and server.process.pid is not None
    return server.process.pid


WARM_UP = 5  # pages each extractor reads before its clock starts (imports, compiled patterns)


def run_floor(site: Site, sample: int) -> dict[str, float]:
    """On one core, in this process, over the first `sample` article pages (generated before the
    clock starts), CPU time: (4) plain trafilatura with comments off, and the project's
    extract_article beside it, each as pages/s and CPU ms per page."""
    import trafilatura

    from pipelines.article import extract_article

    pages = [site.article(i) for i in range(min(sample, site.pages))]
    url = "http://127.0.0.1/news/"
    ctype = "text/html; charset=utf-8"

    def plain(body: bytes) -> object:
        return trafilatura.extract(body, url=url, include_comments=False)

    def ours(body: bytes) -> object:
        return extract_article(body, url, ctype)

    out: dict[str, float] = {"pages": len(pages)}
    for name, extract in (("trafilatura", plain), ("extract_article", ours)):
        for body in pages[:WARM_UP]:
            extract(body)
        start = time.process_time()  # CPU time: the figure is "per core", whatever else runs
        for body in pages:
            extract(body)
        seconds = time.process_time() - start
        out[f"{name}_pages_per_s"] = len(pages) / seconds
        out[f"{name}_cpu_ms_per_page"] = 1000 * seconds / len(pages)
    return out


# --- results ----------------------------------------------------------------------------------
def results_header(benchmark: str) -> dict[str, Any]:
    """What every crawl benchmark's JSON starts with: which, when, on what, with what."""
    return {
        "benchmark": benchmark,
        "at": time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": CRAWL_SETTINGS,
    }


def write_results(out: dict[str, Any]) -> Path:
    """bench/results/<benchmark>-<at>.json; prints its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{out['benchmark']}-{out['at']}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\n{path}")
    return path


# --- one size ---------------------------------------------------------------------------------
def bench_size(
    n: int, runs: int, floor_sample: int, seed: int, profile_rate: int | None
) -> dict[str, Any]:
    site = Site(n, seed)
    all_runs: list[Run] = []
    floors: list[dict[str, float]] = []
    with SiteServer(site) as server, tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        print(f"\n{n} articles + {site.hubs} section pages at {server.start_url}", flush=True)
        for k in range(runs):
            for config in CONFIGS:
                work = Path(tmp) / f"run{k}"
                work.mkdir(exist_ok=True)
                if config == "bare":
                    run = run_bare(server, n, work)
                else:
                    run = run_pipeline(server, n, work, full=config != "warc",
                                       requisites=config == "requisites")  # fmt: skip
                all_runs.append(run)
                print(f"  run {k + 1} {config:<10} {run.seconds:7.1f} s  "
                      f"{run.pages_per_s:7.1f} pages/s  peak RSS {run.peak_rss_mb:6.0f} MB "
                      f"({run.peak_procs} procs)  CPU {run.cpu_seconds:6.1f} s  "
                      f"server CPU {run.server_cpu_seconds:5.1f} s  "
                      f"others' CPU {run.other_cpu_seconds:5.1f} s", flush=True)  # fmt: skip
                _clean(work)
            floors.append(run_floor(site, floor_sample))
            print(
                f"  run {k + 1} floor      trafilatura (comments off) "
                f"{floors[-1]['trafilatura_pages_per_s']:.1f} pages/s, extract_article "
                f"{floors[-1]['extract_article_pages_per_s']:.1f} pages/s (one core)",
                flush=True,
            )
        profile = None
        if profile_rate:
            work = Path(tmp) / "profile"
            work.mkdir()
            profile = run_profile(server, n, work, profile_rate)
    result = summarise(n, all_runs, floors)
    if profile is not None:
        cpu = result["cpu_by_process"]["full"]
        kinds = profile.get("kinds", {})
        for kind, row in kinds.items():  # ms per page from the timed runs, unprofiled
            if (seconds := cpu.get(kind)) is not None:
                _scale(row, 1000 * seconds / n)
        result["cpu_breakdown"] = profile
    return result


def run_profile(server: SiteServer, n: int, work: Path, rate: int) -> dict[str, Any]:
    """One more full crawl, under py-spy: the self time of its processes by package. Never
    fails the benchmark: what went wrong is in the result's "skipped"."""
    py_spy = cpu_profile.find_py_spy()
    if py_spy is None:
        return {"skipped": "py-spy is not installed (pip install -e '.[dev]')"}
    raw = work / "py-spy.txt"
    print(f"  profile: one more full crawl under py-spy ({rate} samples/s)", flush=True)
    try:
        run = run_pipeline(server, n, work, full=True, name="profile",
                           wrap=cpu_profile.spy_cmd(py_spy, raw, rate))  # fmt: skip
    except BenchFailure as exc:
        print(f"  profile: failed, no breakdown: {str(exc)[:2000]}", flush=True)
        return {"skipped": f"the profiled crawl failed: {str(exc)[-2000:]}"}
    finally:
        _clean(work)
    if not raw.exists():
        return {"skipped": "py-spy wrote no samples"}
    text = raw.read_text(errors="replace")
    # the raw stacks, for a flame graph (flamegraph.pl, speedscope): bench/results/ as the JSON
    RESULTS.mkdir(parents=True, exist_ok=True)
    kept = RESULTS / f"py-spy-{n}-{time.strftime('%Y-%m-%dT%H%M%SZ', time.gmtime())}.txt.gz"
    kept.write_bytes(gzip.compress(text.encode(), 6))
    version = subprocess.run([py_spy, "--version"], capture_output=True, text=True, check=False)
    # py-spy's own count: samples it could not read (a process between two states) are dropped
    log = (work / "profile.log").read_text(errors="replace")
    said = re.search(r"Samples: (\d+) Errors: (\d+)", log)
    return {
        "tool": version.stdout.strip() or "py-spy",
        "rate": rate,
        "mode": "nonblocking, Python frames only",
        "samples": int(said[1]) if said else None,
        "errors": int(said[2]) if said else None,
        "raw": str(kept.relative_to(RESULTS.parent.parent)),
        "profiled_seconds": round(run.seconds, 2),
        "profiled_cpu_by_process": run.cpu_by_process,
        "kinds": cpu_profile.breakdown(cpu_profile.parse_raw(text), n),
    }


def _scale(kind: dict[str, Any], ms_page: float) -> None:
    """Fill a kind's breakdown with ms per page from its measured CPU."""
    kind["cpu_ms_per_page"] = round(ms_page, 3)
    for key in ("by_package", "by_function", "by_group"):
        for row in kind.get(key, []):
            row["cpu_ms_per_page"] = round(ms_page * row["share"], 3)


def _clean(work: Path) -> None:
    """Archives go as soon as they are verified: at 20000 pages each holds ~1 GB of WARC."""
    for path in work.glob("archive-*"):
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="articles in the synthetic site")
    parser.add_argument("--runs", type=int, help="runs per size (default 3; 1 with --large)")
    parser.add_argument(
        "--large", action="store_true", help="the memory target: 5000 and 20000 pages"
    )
    parser.add_argument(
        "--floor-pages", type=int, default=1000, help="pages the one-core loop extracts (a sample)"
    )
    parser.add_argument(
        "--large-sizes", type=int, nargs=2, default=[5000, 20000], metavar=("SMALL", "LARGE"),
        help="the two sizes of --large (a quick try of that path: --large-sizes 100 300)",
    )  # fmt: skip
    parser.add_argument("--no-profile", action="store_true",
                        help="no py-spy'd crawl for the CPU breakdown")  # fmt: skip
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples/s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runs = args.runs or (1 if args.large else 3)
    sizes = list(args.large_sizes) if args.large else [args.pages]
    results = []
    try:
        for k, n in enumerate(sizes):
            # with --large the breakdown is of the smaller crawl: the larger one is for memory
            rate = None if args.no_profile or k > 0 else args.profile_rate
            res = bench_size(n, runs, args.floor_pages, args.seed, rate)
            print_table(res)
            results.append(res)
    except BenchFailure as exc:
        print(f"\npipeline_bench: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    out: dict[str, Any] = {
        **results_header("pipeline"),
        "runs": runs,
        "sizes": results,
    }
    if args.large:
        (small_n, small), (large_n, large) = (
            (r["pages"], r["configs"]["full"]["max_peak_rss_mb"]) for r in results
        )
        growth = large / small - 1
        under = target_row(large, TARGET_PEAK_RSS_MB, at_least=False)
        within = target_row(growth, TARGET_RSS_GROWTH, at_least=False)
        within["met"] = growth <= TARGET_RSS_GROWTH
        within["target"] = f"<= {TARGET_RSS_GROWTH}"
        out["memory"] = {f"peak_rss_mb_{small_n}": small, f"peak_rss_mb_{large_n}": large,
                         "growth": round(growth, 3), "under_1gb": under["met"],
                         "within_10pct": within["met"]}  # fmt: skip
        out["targets"] = {"peak_rss_mb": under, "rss_growth": within}
        print(f"\nmemory (full pipeline, peak RSS of the process tree): {small_n} pages "
              f"{small:.0f} MB, {large_n} pages {large:.0f} MB ({growth:+.1%}); "
              f"< 1 GB: {met_text(under)}; within 10 %: {met_text(within)}")  # fmt: skip
    write_results(out)


if __name__ == "__main__":
    main()
