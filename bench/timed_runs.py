"""Timing one crawl subprocess: its wall time, its process tree's peak RSS (summed) and each
process's CPU, sampled every ``SAMPLE_EVERY`` seconds from /proc, by kind of process
(:func:`bench.cpu_profile.process_kind`: the crawl process, the extraction workers); the site
server's CPU and anything else busy on the machine meanwhile apart. :func:`timed` runs one
command; :class:`Run` is one timed crawl's figures. Used by :mod:`bench.pipeline_bench` and
:mod:`bench.cluster_bench`. Linux only (/proc).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cpu_profile

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


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class TreeSampler(threading.Thread):
    """Samples a process tree's RSS until stopped; keeps the peak, and each process's CPU."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.peak_procs = 0
        # own CPU seconds of every process of the tree, last seen: the extraction workers hang
        # off a forkserver that outlives the crawl, so nobody we wait for ever reaps them
        self.cpu: dict[int, float] = {}
        self.kinds: dict[int, str] = {}  # pid -> cpu_profile.process_kind of its command line
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            rss, procs = tree_rss(self.pid, self.cpu)
            for pid in self.cpu.keys() - self.kinds.keys():
                self.kinds[pid] = cpu_profile.process_kind(_cmdline(pid))
            if rss > self.peak:
                self.peak, self.peak_procs = rss, procs
            self.stopped.wait(SAMPLE_EVERY)

    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds of the tree's processes by kind: crawl, workers, other, profiler."""
        out: dict[str, float] = {}
        for pid, seconds in self.cpu.items():
            kind = self.kinds.get(pid, "other")
            out[kind] = round(out.get(kind, 0.0) + seconds, 2)
        return out


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
    # the tree's CPU by kind of process (crawl, workers, other), as last sampled
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


Timing = tuple[float, int, int, float, float, float, dict[str, float]]


def timed(cmd: list[str], log: Path, server_pid: int) -> Timing:
    """Run cmd to its exit: (wall seconds, peak tree RSS, processes then, tree CPU, server CPU,
    CPU anything else on the machine used meanwhile, the tree's CPU by kind of process)."""
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
    return seconds, sampler.peak, sampler.peak_procs, cpu, server, other, sampler.cpu_by_kind()
