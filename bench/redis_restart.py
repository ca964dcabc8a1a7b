"""Redis killed (SIGKILL) and restarted mid-crawl under two workers on one machine.

The bundled demo outlets (in this process, each response slowed down so the crawl lasts) are
crawled by two ``newsarchiver crawl --redis`` workers, each with its own archive and no
``--worker-id`` (the default id: host and archive). Once the site has answered a third of what a
one-machine crawl asks of it, redis-server is killed with SIGKILL, left down ``--down`` seconds
and started again on the same port: with its AOF (``appendfsync always``: nothing acknowledged
is lost) and, in a second case, without persistence (it comes back empty). Figures: requests the
site answered, URLs asked for more than once (from the site's own request log), texts archived
(distinct, across both archives) against a one-machine crawl's, each worker's exit code and
finish reason, the wall time and the Redis error counters.

    python -m bench.redis_restart [--down 3] [--delay 0.1] [--cases aof,none]
"""

from __future__ import annotations

import argparse
import collections
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crawler.demo import DemoSite
from testkit.redis_server import RedisServer

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
ROBOTS = "/robots.txt"


def crawl_cmd(config: Path, archive: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config),
            "--archive", str(archive), *FAST, *extra]  # fmt: skip


def texts(archive: Path) -> set[str]:
    path = archive / "manifest.sqlite"
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {sha for (sha,) in db.execute("SELECT sha256 FROM texts WHERE state = 'stored'")}
    finally:
        db.close()


def summary(archive: Path) -> dict[str, Any]:
    runs = sorted((archive / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text()) if runs else {}


def baseline(work: Path) -> tuple[set[str], int]:
    """A one-machine crawl: its texts and how many requests it made (robots.txt aside)."""
    with DemoSite() as site:
        config = site.write_config(work / "base.yaml")
        subprocess.run(crawl_cmd(config, work / "base"), check=True, capture_output=True)
        asked = sum(1 for r in site.requests if r.path != ROBOTS)
    return texts(work / "base"), asked


def case(work: Path, persist: bool, down: float, delay: float, expected: set[str],
         asked: int) -> dict[str, Any]:  # fmt: skip
    name = f"r{int(time.time())}{'aof' if persist else 'none'}"
    server = RedisServer(work / f"redis-{name}", persist=persist).start()
    result: dict[str, Any] = {"persistence": "aof (appendfsync always)" if persist else "none"}
    try:
        with DemoSite(delay=delay) as site:
            config = site.write_config(work / f"{name}.yaml")
            archives = [work / f"{name}-a", work / f"{name}-b"]
            extra = ["--redis", server.url, "--cluster", name, "-s", "CONCURRENT_REQUESTS=4",
                     "-s", "CLUSTER_HEARTBEAT=0.5", "-s", "CLUSTER_WORKER_TTL=3"]  # fmt: skip
            start = time.monotonic()
            procs = [subprocess.Popen(crawl_cmd(config, a, *extra), stdout=subprocess.DEVNULL,
                                      stderr=(work / f"{a.name}.log").open("w"))
                     for a in archives]  # fmt: skip
            deadline = start + 300
            while (len([r for r in site.requests if r.path != ROBOTS]) < asked // 3
                   and time.monotonic() < deadline):  # fmt: skip
                time.sleep(0.02)  # a condition: a third of the crawl served
            killed_at = time.monotonic() - start
            result["served_before_kill"] = len(site.requests)
            server.kill()
            time.sleep(down)
            server.start()
            result["restarted_after_s"] = round(time.monotonic() - start - killed_at, 2)
            codes = [p.wait(timeout=600) for p in procs]
            result["seconds"] = round(time.monotonic() - start, 1)
            result["killed_at_s"] = round(killed_at, 1)
            pages = [(r.outlet, r.path) for r in site.requests if r.path != ROBOTS]
    finally:
        server.stop()
    counts = collections.Counter(pages)
    got = set().union(*(texts(a) for a in archives))
    per_worker = [texts(a) for a in archives]
    stats = [summary(a).get("stats", {}) for a in archives]
    result.update(
        {
            "exit_codes": codes,
            "finish_reasons": [summary(a).get("finish_reason") for a in archives],
            "requests_served": len(pages),
            "one_machine_requests": asked,
            "urls_fetched_twice_or_more": sum(1 for n in counts.values() if n > 1),
            "extra_fetches": sum(n - 1 for n in counts.values() if n > 1),
            "twice_examples": [f"{o}{p}" for (o, p), n in counts.items() if n > 1][:5],
            "texts_archived": len(got),
            "texts_expected": len(expected),
            "texts_missing": len(expected - got),
            "texts_stored_by_both": len(per_worker[0] & per_worker[1]),
            "redis_errors": [
                {k: v for k, v in s.items() if k.startswith("cluster/redis_errors")} for s in stats
            ],
            "recovered": [s.get("cluster/leases/recovered", 0) for s in stats],
            "reclaimed": [s.get("cluster/leases/reclaimed", 0) for s in stats],
            "state_lost": [s.get("cluster/state_lost", 0) for s in stats],
            "workers": [s.get("cluster/worker") for s in stats],
        }
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--down", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds a response takes")
    parser.add_argument("--cases", default="aof,none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redis-restart-") as tmp:
        work = Path(tmp)
        expected, asked = baseline(work)
        for name in args.cases.split(","):
            out = case(work, name == "aof", args.down, args.delay, expected, asked)
            print(json.dumps(out, indent=1), flush=True)


if __name__ == "__main__":
    main()
