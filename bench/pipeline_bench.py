"""Crawl throughput: the newsarchiver pipeline against bare Scrapy and the extraction floor.

One synthetic outlet (bench/synthetic_site.py: N article pages of 60-150 KB plus section pages
of 100 links, served from a process of its own on loopback) is crawled, in one run, by:

1. ``bare``  a bare Scrapy spider that only fetches (bench/bare_spider.py);
2. ``warc``  ``newsarchiver crawl`` with WARC capture only (EXTRACT_ENABLED/TEXT_ENABLED off);
3. ``full``  ``newsarchiver crawl`` with everything: WARC, extraction workers, texts, manifest;

each a subprocess with a fresh archive, timed from start to exit, its process tree's RSS summed
every 0.15 s; and 4. ``floor``: ``pipelines.article.extract_article`` in a loop on one core over
the same pages (plain ``trafilatura.extract`` beside it, for reference). Targets: warc/bare
>= 0.8, full/floor >= 1.5, and with ``--large`` a full crawl of 20000 pages under 1 GB peak RSS
and within 10 % of the 5000-page crawl. Medians of ``--runs``; JSON to bench/results/.

    python -m bench.pipeline_bench [--pages 1000] [--runs 3] [--large]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.synthetic_site import Site, SiteServer

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
# (1) bare, (2) WARC only, (3) full, (5) full with the page requisites (ARCHIVE_REQUISITES)
CONFIGS = ("bare", "warc", "full", "requisites")
KNOWN_FLAKE = "database is locked"
SAMPLE_EVERY = 0.15  # seconds between RSS samples
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchFailure(RuntimeError):
    """A crawl that did not get every page: the figures would be meaningless."""


# --- process tree memory ---------------------------------------------------------------------
def _children(cpu: dict[int, float] | None = None) -> dict[int, list[int]]:
    """Parent pid -> child pids of every process; fills `cpu` with each one's own CPU seconds."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # gone between listdir and open
            continue
        fields = stat.rsplit(b")", 1)[1].split()  # comm may hold spaces and ')'
        tree.setdefault(int(fields[1]), []).append(int(entry))
        if cpu is not None:
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_SIZE  # resident pages, as VmRSS
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int, cpu: dict[int, float] | None = None) -> tuple[int, int]:
    """(summed RSS in bytes, number of processes) of a process and all its descendants; their
    CPU seconds so far into `cpu`, by pid."""
    seen: dict[int, float] = {}
    tree, todo, total, count = _children(seen), [root], 0, 0
    while todo:
        pid = todo.pop()
        total += _rss(pid)
        count += 1
        if cpu is not None and pid in seen:
            cpu[pid] = seen[pid]
        todo.extend(tree.get(pid, ()))
    return total, count


class TreeSampler(threading.Thread):
    """Samples a process tree's RSS until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.peak_procs = 0
        # own CPU seconds of every process of the tree, last seen: the extraction workers hang
        # off a forkserver that outlives the crawl, so nobody we wait for ever reaps them
        self.cpu: dict[int, float] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            rss, procs = tree_rss(self.pid, self.cpu)
            if rss > self.peak:
                self.peak, self.peak_procs = rss, procs
            self.stopped.wait(SAMPLE_EVERY)


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, /proc/stat)."""
    with open("/proc/stat", "rb") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one live process (the site server's share of the machine)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- one timed subprocess --------------------------------------------------------------------
@dataclass
class Run:
    config: str
    pages: int
    seconds: float
    pages_per_s: float
    peak_rss_mb: float
    peak_procs: int
    cpu_seconds: float  # the whole tree's user+sys (children are reaped by their parents)
    server_cpu_seconds: float
    other_cpu_seconds: float  # anything else busy on the machine meanwhile: noise
    detail: dict[str, Any] = field(default_factory=dict)


Timing = tuple[float, int, int, float, float, float]


def timed(cmd: list[str], log: Path, server_pid: int) -> Timing:
    """Run cmd to its exit: (wall seconds, peak tree RSS, processes then, tree CPU, server CPU,
    CPU anything else on the machine used meanwhile)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before, busy_before = _cpu_seconds(server_pid), _busy_seconds()
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - start
    sampler.stopped.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchFailure(f"{' '.join(cmd[:4])}… exited {code}; its output ends:\n{tail}")
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(reaped, sum(sampler.cpu.values()))  # sampled: ≤ 0.15 s short per process
    server = _cpu_seconds(server_pid) - server_before
    # our own sampler thread's few ms are in "other" too
    other = max(0.0, _busy_seconds() - busy_before - cpu - server)
    return seconds, sampler.peak, sampler.peak_procs, cpu, server, other


def newsarchiver_cmd() -> list[str]:
    script = Path(sys.executable).parent / "newsarchiver"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crawler.cli"]


def run_bare(server: SiteServer, n: int, work: Path) -> Run:
    log = work / "bare.log"
    cmd = [sys.executable, "-m", "bench.bare_spider", "--start", server.start_url]
    seconds, peak, procs, cpu, scpu, other = timed(cmd, log, _pid(server))
    counts = json.loads(log.read_text().strip().splitlines()[-1])
    if counts["articles"] != n:
        raise BenchFailure(f"bare spider fetched {counts['articles']} of {n} articles")
    return Run("bare", n, seconds, n / seconds, peak / 2**20, procs, cpu, scpu, other, counts)


def run_pipeline(
    server: SiteServer, n: int, work: Path, full: bool, requisites: bool = False
) -> Run:
    name = "requisites" if requisites else "full" if full else "warc"
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
    cmd = [*newsarchiver_cmd(), "crawl", "--config", str(config), "--archive", str(archive)]
    for item in sets:
        cmd += ["-s", item]
    crashes = 0
    while True:
        try:
            seconds, peak, procs, cpu, scpu, other = timed(cmd, work / f"{name}.log", _pid(server))
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
    return Run(name, n, seconds, n / seconds, peak / 2**20, procs, cpu, scpu, other, detail)


def _pid(server: SiteServer) -> int:
    assert server.process is not None and server.process.pid is not None
    return server.process.pid


def run_floor(site: Site, sample: int) -> dict[str, float]:
    """Pages/s of the project's extractor and of plain trafilatura on one core, in this
    process, on the first `sample` pages (generated before the clock starts)."""
    import trafilatura

    from pipelines.article import extract_article

    pages = [site.article(i) for i in range(min(sample, site.pages))]
    url = "http://127.0.0.1/news/"
    start = time.process_time()  # CPU time: the figure is "per core", whatever else runs
    for body in pages:
        extract_article(body, url, "text/html; charset=utf-8")
    ours = len(pages) / (time.process_time() - start)
    start = time.process_time()
    for body in pages:
        trafilatura.extract(body, url=url)
    plain = len(pages) / (time.process_time() - start)
    return {"pages": len(pages), "extract_article_pages_per_s": ours,
            "trafilatura_pages_per_s": plain}  # fmt: skip


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
def bench_size(n: int, runs: int, floor_sample: int, seed: int) -> dict[str, Any]:
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
                print(f"  run {k + 1} {config:<5} {run.seconds:7.1f} s  "
                      f"{run.pages_per_s:7.1f} pages/s  peak RSS {run.peak_rss_mb:6.0f} MB "
                      f"({run.peak_procs} procs)  CPU {run.cpu_seconds:6.1f} s  "
                      f"server CPU {run.server_cpu_seconds:5.1f} s  "
                      f"others' CPU {run.other_cpu_seconds:5.1f} s", flush=True)  # fmt: skip
                _clean(work)
            floors.append(run_floor(site, floor_sample))
            print(
                f"  run {k + 1} floor extract_article "
                f"{floors[-1]['extract_article_pages_per_s']:.1f} pages/s, trafilatura "
                f"{floors[-1]['trafilatura_pages_per_s']:.1f} pages/s (one core)",
                flush=True,
            )
    return summarise(n, all_runs, floors)


def _clean(work: Path) -> None:
    """Archives go as soon as they are verified: at 20000 pages each holds ~1 GB of WARC."""
    for path in work.glob("archive-*"):
        shutil.rmtree(path, ignore_errors=True)


def summarise(n: int, runs: list[Run], floors: list[dict[str, float]]) -> dict[str, Any]:
    def med(config: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs if r.config == config)

    result: dict[str, Any] = {"pages": n, "configs": {}}
    for config in CONFIGS:
        result["configs"][config] = {
            "pages_per_s": round(med(config, "pages_per_s"), 1),
            "seconds": round(med(config, "seconds"), 2),
            "peak_rss_mb": round(med(config, "peak_rss_mb"), 1),
            "max_peak_rss_mb": round(max(r.peak_rss_mb for r in runs if r.config == config), 1),
            "cpu_seconds": round(med(config, "cpu_seconds"), 2),
            "server_cpu_seconds": round(med(config, "server_cpu_seconds"), 2),
            "other_cpu_seconds": round(med(config, "other_cpu_seconds"), 2),
        }
    floor = statistics.median(f["extract_article_pages_per_s"] for f in floors)
    plain = statistics.median(f["trafilatura_pages_per_s"] for f in floors)
    result["configs"]["floor"] = {"pages_per_s": round(floor, 1), "sample": floors[0]["pages"]}
    result["trafilatura_pages_per_s"] = round(plain, 1)
    c = result["configs"]
    result["ratio_warc_bare"] = round(c["warc"]["pages_per_s"] / c["bare"]["pages_per_s"], 3)
    result["ratio_full_floor"] = round(c["full"]["pages_per_s"] / floor, 3)
    full = [r for r in runs if r.config == "full"]
    result["full_detail"] = {
        key: statistics.median(r.detail[key] for r in full)
        for key in ("crawl_seconds", "outside_crawl_seconds", "memusage_max_mb", "warc_bytes")
    }
    result["requisites"] = {
        config: {key: statistics.median(r.detail[key] for r in runs if r.config == config)
                 for key in ("requisites_fetched", "bytes_per_article")}
        for config in ("full", "requisites")
    }  # fmt: skip
    result["ratio_requisites_full"] = round(
        c["requisites"]["pages_per_s"] / c["full"]["pages_per_s"], 3
    )
    result["runs"] = [asdict(r) for r in runs]
    result["floor_runs"] = floors
    return result


def print_table(res: dict[str, Any]) -> None:
    c, n = res["configs"], res["pages"]
    print(f"\n{n} pages, medians of {len(res['floor_runs'])} run(s):")
    print(f"  {'configuration':<34} {'pages/s':>8} {'wall s':>7} {'peak RSS MB':>11} "
          f"{'CPU s':>6} {'CPU/page ms':>11} {'others CPU s':>12}")  # fmt: skip
    names = {
        "bare": "(1) bare Scrapy, fetch only",
        "warc": "(2) pipeline, WARC only",
        "full": "(3) pipeline, full",
        "requisites": "(5) pipeline, full + requisites",
        "floor": "(4) extract_article, one core",
    }
    for key, label in names.items():
        row = c[key]
        if key == "floor":
            print(f"  {label:<34} {row['pages_per_s']:>8.1f}   (CPU time, {row['sample']} pages)")
            continue
        per_page = 1000 * row["cpu_seconds"] / n
        print(f"  {label:<34} {row['pages_per_s']:>8.1f} {row['seconds']:>7.1f} "
              f"{row['peak_rss_mb']:>11.0f} {row['cpu_seconds']:>6.1f} "
              f"{per_page:>11.1f} {row['other_cpu_seconds']:>12.1f}")  # fmt: skip
    print(f"  {'    plain trafilatura.extract':<34} {res['trafilatura_pages_per_s']:>8.1f}")
    ok1 = "met" if res["ratio_warc_bare"] >= 0.8 else "NOT met"
    ok2 = "met" if res["ratio_full_floor"] >= 1.5 else "NOT met"
    print(f"  ratio (2)/(1) = {res['ratio_warc_bare']:.3f}  (target >= 0.8: {ok1})")
    print(f"  ratio (3)/(4) = {res['ratio_full_floor']:.3f}  (target >= 1.5: {ok2})")
    d = res["full_detail"]
    print(f"  full run: {d['crawl_seconds']:.1f} s crawling (run summary), "
          f"{d['outside_crawl_seconds']:.1f} s outside it (start-up, index, exit); "
          f"Scrapy memusage/max {d['memusage_max_mb']:.0f} MB (crawl process alone); "
          f"site server CPU {c['full']['server_cpu_seconds']:.1f} s of the same cores")  # fmt: skip
    q = res["requisites"]
    print(f"  page requisites: off (3) {q['full']['bytes_per_article'] / 1024:.0f} KB of WARC "
          f"per article; on (5) {q['requisites']['bytes_per_article'] / 1024:.0f} KB, "
          f"{q['requisites']['requisites_fetched']:.0f} requisites fetched; "
          f"(5)/(3) = {res['ratio_requisites_full']:.3f} of the pages/s")  # fmt: skip


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
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runs = args.runs or (1 if args.large else 3)
    sizes = [5000, 20000] if args.large else [args.pages]
    results = []
    try:
        for n in sizes:
            res = bench_size(n, runs, args.floor_pages, args.seed)
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
        small, large = (r["configs"]["full"]["max_peak_rss_mb"] for r in results)
        growth = large / small - 1
        out["memory"] = {"peak_rss_mb_5000": small, "peak_rss_mb_20000": large,
                         "growth": round(growth, 3),
                         "under_1gb": large < 1024, "within_10pct": growth <= 0.10}  # fmt: skip
        print(f"\nmemory (full pipeline, peak RSS of the process tree): 5000 pages {small:.0f} MB,"
              f" 20000 pages {large:.0f} MB ({growth:+.1%}); < 1 GB: "
              f"{'met' if large < 1024 else 'NOT met'}; within 10 %: "
              f"{'met' if growth <= 0.10 else 'NOT met'}")  # fmt: skip
    write_results(out)


if __name__ == "__main__":
    main()
