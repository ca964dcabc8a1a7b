"""Distributed crawling: 1 worker against 2 workers through one Redis, on one synthetic outlet.

The same synthetic outlet as bench/pipeline_bench.py (N articles, served from a process of its
own) is crawled with the full pipeline by:

1. ``single``    ``newsarchiver crawl`` without Redis (the one-machine baseline);
2. ``redis-1``   one worker through Redis (``--redis``): the cost of the shared queue;
3. ``redis-2``   two workers through the same Redis at once, each with its own archive.

All on this machine: two workers share its cores, so (3) shows the coordination working and
its overhead, not the scaling more machines give. It also counts Redis commands per page
(``INFO stats``: every command of a Lua script counted; target: at most 6, printed met / NOT
met) and the object-store requests a push of the result makes per page, the two figures that
bound scaling across machines. A redis-server (Debian's) is started on a free loopback port
for the run. JSON to bench/results/.

    python -m bench.cluster_bench [--pages 1000] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pipeline_bench import CRAWL_SETTINGS, newsarchiver_cmd, results_header, write_results
from bench.site_server import SiteServer
from bench.synthetic_site import Site
from bench.timed_runs import BenchFailure, TreeSampler

TARGET_REDIS_COMMANDS = 6  # issue 17: Redis commands per page, at most


class Redis:
    """redis-server on a free loopback port, no persistence, for the length of the bench."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise BenchFailure("no redis-server on PATH (make test installs it: apt-get)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(root), "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BenchFailure("redis-server did not start") from None
                time.sleep(0.05)

    def commands(self) -> int:
        return int(self.client.info("stats")["total_commands_processed"])

    def by_command(self) -> dict[str, int]:
        """Calls so far of each command (INFO commandstats), scripts counted as EVALSHA."""
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def crawl_cmd(config: Path, archive: Path, *extra: str) -> list[str]:
    cmd = [*newsarchiver_cmd(), "crawl", "--config", str(config), "--archive", str(archive)]
    # pages only, as measured before page requisites: pipeline_bench's (5) has their cost
    for item in [*CRAWL_SETTINGS, "ARCHIVE_REQUISITES=False"]:
        cmd += ["-s", item]
    return cmd + list(extra)


def run_case(name: str, cmds: list[list[str]], work: Path, n: int, redis: Redis) -> dict[str, Any]:
    """Run the commands at once; time until the last exits; check every article was archived
    exactly once across their archives."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    commands_before = redis.commands()
    by_command_before = redis.by_command()
    start = time.perf_counter()
    procs, samplers, logs = [], [], []
    for k, cmd in enumerate(cmds):
        log = (work / f"{name}-{k}.log").open("wb")
        logs.append(log)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        procs.append(proc)
        samplers.append(sampler)
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - start
    for sampler, log in zip(samplers, logs, strict=True):
        sampler.stopped.set()
        sampler.join()
        log.close()
    if any(codes):
        tail = (work / f"{name}-{codes.index(max(codes))}.log").read_text(errors="replace")
        raise BenchFailure(f"{name}: a worker exited {codes}; its log ends:\n{tail[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(cpu, sum(sum(s.cpu.values()) for s in samplers))
    texts = [p for k in range(len(cmds)) for p in (work / f"{name}-a{k}" / "text").glob("*.txt")]
    stems = [p.stem for p in texts]
    hashes = {s.split("_", 1)[1] for s in stems}
    if len(texts) != n or len(hashes) != n or len({s.split("_")[0] for s in stems}) != n:
        raise BenchFailure(f"{name}: {len(texts)} text files, {len(hashes)} distinct, of {n}")
    per_worker = [len(list((work / f"{name}-a{k}" / "text").glob("*.txt")))
                  for k in range(len(cmds))]  # fmt: skip
    warcs = sum(len(list((work / f"{name}-a{k}" / "warc").glob("*.warc.gz")))
                for k in range(len(cmds)))  # fmt: skip
    result = {
        "workers": len(cmds), "seconds": round(seconds, 2), "pages_per_s": round(n / seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_mb": round(sum(s.peak for s in samplers) / 2**20),
        "articles_per_worker": per_worker,
        "redis_commands_per_page": round((redis.commands() - commands_before) / n, 1),
        "redis_commands_per_page_by_command": {
            name: round((calls - by_command_before.get(name, 0)) / n, 2)
            for name, calls in sorted(redis.by_command().items(), key=lambda kv: -kv[1])
            if calls - by_command_before.get(name, 0) >= n / 100
        },
        # what a push uploads: each text and its sidecar, each WARC, and per worker a handful
        # of files (manifest part, index, failures, run summary, log) plus the merge
        "s3_puts_per_page": round((2 * n + warcs + 6 * len(cmds)) / n, 3),
    }  # fmt: skip
    for k in range(len(cmds)):
        shutil.rmtree(work / f"{name}-a{k}", ignore_errors=True)
    return result


def bench(n: int, runs: int, seed: int) -> dict[str, Any]:
    site = Site(n, seed)
    cases: dict[str, list[dict[str, Any]]] = {"single": [], "redis-1": [], "redis-2": []}
    with SiteServer(site) as server, tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        work = Path(tmp)
        redis = Redis(work)
        config = work / "outlets.yaml"
        config.write_text("outlets:\n  - name: synthetic\n"
                          f'    start_urls: ["{server.start_url}"]\n    depth: 2\n')  # fmt: skip
        print(f"\n{n} articles at {server.start_url}; Redis at {redis.url}", flush=True)
        try:
            for k in range(runs):
                for name in cases:
                    workers = 2 if name == "redis-2" else 1
                    cmds = []
                    for w in range(workers):
                        archive = work / f"{name}-a{w}"
                        extra = [] if name == "single" else [
                            "--redis", redis.url, "--worker-id", f"w{w}", "--cluster",
                            f"bench{k}{name.replace('-', '')}",
                        ]  # fmt: skip
                        cmds.append(crawl_cmd(config, archive, *extra))
                    res = run_case(name, cmds, work, n, redis)
                    cases[name].append(res)
                    print(f"  run {k + 1} {name:<8} {res['seconds']:7.1f} s "
                          f"{res['pages_per_s']:7.1f} pages/s  CPU {res['cpu_seconds']:6.1f} s  "
                          f"peak RSS {res['peak_rss_mb']:5d} MB  articles per worker "
                          f"{res['articles_per_worker']}  Redis commands/page "
                          f"{res['redis_commands_per_page']}", flush=True)  # fmt: skip
        finally:
            redis.stop()
    summary = {}
    for name, results in cases.items():
        summary[name] = {key: statistics.median(r[key] for r in results)
                         for key in ("pages_per_s", "seconds", "cpu_seconds", "peak_rss_mb",
                                     "redis_commands_per_page", "s3_puts_per_page")}  # fmt: skip
    summary["ratio_redis1_single"] = round(
        summary["redis-1"]["pages_per_s"] / summary["single"]["pages_per_s"], 3
    )
    summary["ratio_redis2_redis1"] = round(
        summary["redis-2"]["pages_per_s"] / summary["redis-1"]["pages_per_s"], 3
    )
    summary["targets"] = {
        f"redis_commands_per_page/{name}": {
            "value": summary[name]["redis_commands_per_page"],
            "target": f"<= {TARGET_REDIS_COMMANDS}",
            "met": summary[name]["redis_commands_per_page"] <= TARGET_REDIS_COMMANDS,
        }
        for name in ("redis-1", "redis-2")
    }
    return {"pages": n, "summary": summary, "runs": cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        res = bench(args.pages, args.runs, args.seed)
    except BenchFailure as exc:
        print(f"\ncluster_bench: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    s = res["summary"]
    print(f"\n{args.pages} pages, medians of {args.runs} run(s), full pipeline:")
    for name, label in (("single", "one machine, no Redis"), ("redis-1", "1 worker via Redis"),
                        ("redis-2", "2 workers via Redis")):  # fmt: skip
        row = s[name]
        print(
            f"  {label:<24} {row['pages_per_s']:7.1f} pages/s  {row['seconds']:6.1f} s  "
            f"CPU {row['cpu_seconds']:6.1f} s  Redis commands/page "
            f"{row['redis_commands_per_page']:5.1f}  S3 PUTs/page {row['s3_puts_per_page']}"
        )
    print(f"  1 worker via Redis / one machine = {s['ratio_redis1_single']:.3f}")
    print(f"  2 workers / 1 worker (same {os.cpu_count()} cores) = {s['ratio_redis2_redis1']:.3f}")
    by_command = res["runs"]["redis-1"][-1]["redis_commands_per_page_by_command"]
    print(
        "  Redis commands per page, 1 worker: "
        + ", ".join(f"{name} {calls}" for name, calls in by_command.items())
    )
    targets = s["targets"]
    for name, label in (("redis-1", "1 worker"), ("redis-2", "2 workers")):
        target = targets[f"redis_commands_per_page/{name}"]
        print(f"  target: Redis commands per page, {label} = {target['value']:.1f} "
              f"(<= {TARGET_REDIS_COMMANDS}): {'met' if target['met'] else 'NOT met'}")  # fmt: skip
    write_results({**results_header("cluster"), **res})


if __name__ == "__main__":
    main()
