"""Where a crawl's CPU goes: py-spy samples every process of a crawl, grouped by package.

:func:`spy_cmd` wraps a crawl command in ``py-spy record --subprocesses --nonblocking --format
raw``: py-spy starts the crawl and samples its Python stacks, and those of every process it
starts (the extraction workers, forked from a forkserver), at ``rate`` samples a second, leaving
out threads that are waiting. ``--nonblocking`` reads the processes without stopping them: a
stopped thread looks busy to py-spy's idle test, and a crawl's pool threads spend their lives
waiting. (``--native`` would show the C functions too, but needs the processes stopped for each
sample, which counts the waiting threads again and made a crawl three times slower here.) A
sample's self time goes to its innermost Python frame; a call into C (lxml's parser, zlib-ng,
sqlite) counts for the Python line that made it, shown beside each package's hottest function.
A thread inside a system call that does not sleep interruptibly (``fsync`` waiting for the disk,
a ``poll`` returning) counts as busy too: such lines are their thread's time, not all of it CPU.

:func:`breakdown` reads py-spy's raw output: per kind of process (:func:`process_kind`: the
crawl process, the extraction workers, other helpers), the share of its samples by package
(:func:`package_of`: a third-party package and its subpackage, ``twisted.internet``,
``scrapy.core``; a standard-library module as ``asyncio (stdlib)``; the project's own modules
by name, ``storage.warc``) and its hottest functions with their source lines.

py-spy needs to ptrace the crawl (root, or CAP_SYS_PTRACE, as here); where it may not, the
profiled crawl fails and the benchmark says so and goes on without a breakdown.
"""

from __future__ import annotations

import linecache
import re
import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, NamedTuple

PROJECT_PACKAGES = ("crawler", "pipelines", "storage", "bench")
KIND_LABELS = {
    "crawl": "crawl process",
    "workers": "extraction workers",
    "other": "other helpers",
    "profiler": "py-spy",
}
NO_PYTHON_FRAME = "(C only, no Python frame)"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
_STDLIB_PATH = re.compile(r"/lib/python3\.\d+/(?P<rest>.*)$")


def find_py_spy() -> str | None:
    """py-spy beside this interpreter (the venv's, from the `dev` extra), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def spy_cmd(py_spy: str, output: Path, rate: int) -> list[str]:
    """The prefix that runs a command under py-spy, every descendant sampled, raw to output."""
    return [py_spy, "record", "--subprocesses", "--nonblocking", "--format", "raw",
            "--rate", str(rate), "--output", str(output), "--"]  # fmt: skip


def process_kind(cmdline: str) -> str:
    """crawl, workers (the forkserver and the extraction workers it forks), other, profiler."""
    if "multiprocessing.forkserver" in cmdline or "multiprocessing.spawn" in cmdline:
        return "workers"
    if "multiprocessing.resource_tracker" in cmdline or "multiprocessing.resource_sharer" in (
        cmdline
    ):
        return "other"
    if "py-spy" in cmdline.split(" ", 1)[0]:
        return "profiler"
    return "crawl"


def package_of(path: str) -> str:
    """What a sample's file counts under: ``twisted.internet``, ``trafilatura``, ``asyncio
    (stdlib)``, ``storage.warc``. py-spy names files relative to the sys.path entry they came
    from (``scrapy/core/engine.py``), others in full."""
    rel = path
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in rel:
            rel = rel.split(marker, 1)[1]
    if rel.startswith("<frozen "):  # importlib._bootstrap, abc, codecs… built into Python
        return rel.removeprefix("<frozen ").removesuffix(">").split(".")[0] + " (stdlib)"
    if rel.startswith("<"):
        return rel  # <string>: the forkserver's -c code
    if rel.startswith("/"):
        match = _STDLIB_PATH.search(rel)
        rel = match.group("rest") if match else rel.rsplit("/", 1)[-1]
    parts = rel.removesuffix(".py").split("/")
    dotted = [p for p in parts if p != "__init__"] or parts
    top = dotted[0]
    if top in PROJECT_PACKAGES:
        return ".".join(dotted)
    if top in sys.stdlib_module_names:
        return f"{top} (stdlib)"
    return ".".join(dotted[:2]) if len(parts) > 2 else top


def group_of(package: str) -> str:
    """The coarse group of a package: its top level (``scrapy``, ``storage``), or ``stdlib``."""
    return "stdlib" if package.endswith(" (stdlib)") else package.split(".")[0]


class Sample(NamedTuple):
    pid: int
    kind: str
    function: str
    file: str
    line: int
    weight: int  # samples


def parse_raw(text: str) -> list[Sample]:
    """py-spy's raw lines (``process PID:"CMD";…;frame;frame COUNT``, outermost frame first,
    the processes nested as their first frames) as one Sample per line, at its innermost
    frame. A line without a Python frame (a thread in C only) counts as NO_PYTHON_FRAME."""
    samples = []
    for raw in text.splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        pid, cmdline = 0, ""
        while stack.startswith("process "):
            head, sep, rest = stack.partition('";')
            if not sep:  # the process is the whole stack: a thread py-spy saw no frame of
                if not stack.endswith('"'):
                    break
                head, rest = stack[:-1], ""
            number, _, cmdline = head.removeprefix("process ").partition(':"')
            pid = int(number) if number.isdigit() else pid
            stack = rest
        leaf = stack.rsplit(";", 1)[-1] if stack else ""
        match = _FRAME.match(leaf)
        if match is None:
            function, file, line = NO_PYTHON_FRAME, "", 0
        else:
            function, file, line = match["function"], match["file"], int(match["line"])
        samples.append(Sample(pid, process_kind(cmdline), function, file, line, int(count)))
    return samples


def source_line(path: str, line: int) -> str:
    """The line of source a sample points at, from wherever this interpreter finds the file."""
    if not path or path.startswith("<"):
        return ""
    candidates = [Path(path)] if path.startswith("/") else [Path(p) / path for p in sys.path]
    for candidate in candidates:
        if candidate.is_file():
            return linecache.getline(str(candidate), line).strip()
    return ""


def breakdown(
    samples: list[Sample],
    pages: int,
    cpu_seconds: dict[str, float] | None = None,
    top: int = 12,
) -> dict[str, Any]:
    """Per kind of process: samples, the CPU seconds measured for it (``cpu_seconds``, from
    /proc, when given), and its `top` packages and functions by share of self samples, each
    with ms of CPU per page where the CPU is known."""
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    out: dict[str, Any] = {}
    for kind in sorted(by_kind, key=lambda k: list(KIND_LABELS).index(k)):
        kind_samples = by_kind[kind]
        total = sum(s.weight for s in kind_samples)
        cpu = (cpu_seconds or {}).get(kind)
        ms_page = 1000 * cpu / pages if cpu is not None and pages else None

        def share(count: int, ms_page: float | None = ms_page, total: int = total) -> dict[
                str, float]:  # fmt: skip
            row = {"share": round(count / total, 4)}
            if ms_page is not None:
                row["cpu_ms_per_page"] = round(ms_page * count / total, 3)
            return row

        packages: Counter[str] = Counter()
        functions: Counter[tuple[str, str, str, int]] = Counter()
        for s in kind_samples:
            package = package_of(s.file) if s.file else s.function
            packages[package] += s.weight
            functions[(package, s.function, s.file, s.line)] += s.weight
        hottest: dict[str, tuple[str, str, int]] = {}
        for (package, function, file, line), _count in functions.most_common():
            hottest.setdefault(package, (function, file, line))
        rows = []
        for package, count in packages.most_common(top):
            function, file, line = hottest[package]
            rows.append({"package": package, **share(count), "hottest": f"{function}:{line}",
                         "file": file, "source": source_line(file, line)[:120]})  # fmt: skip
        groups: Counter[str] = Counter()
        for package, count in packages.items():
            groups[group_of(package)] += count
        rest = total - sum(c for _, c in packages.most_common(top))
        if rest:
            rows.append({"package": f"({len(packages) - top} others)", **share(rest)})
        out[kind] = {
            "label": KIND_LABELS[kind],
            "samples": total,
            "cpu_seconds": None if cpu is None else round(cpu, 2),
            "cpu_ms_per_page": None if ms_page is None else round(ms_page, 3),
            "by_package": rows,
            "by_group": [{"group": g, **share(c)} for g, c in groups.most_common()],
            "by_function": [
                {
                    "function": function,
                    "where": f"{file}:{line}",
                    "package": package,
                    **share(count),
                    "source": source_line(file, line)[:120],
                }
                for (package, function, file, line), count in functions.most_common(top)
            ],
        }
    return out


def print_breakdown(profile: dict[str, Any], width: int = 130) -> None:
    """The breakdown as a table per kind of process (the profiler's own samples left out)."""
    everything = sum(row["samples"] for row in profile["kinds"].values()) or 1
    for kind, row in profile["kinds"].items():
        if kind == "profiler" or row["samples"] < everything / 100:
            continue  # py-spy's own, and helpers that hardly ran (the resource tracker)
        cpu = (f"{row['cpu_ms_per_page']:.2f} ms CPU per page (timed runs, /proc), "
               if row["cpu_ms_per_page"] is not None else "")  # fmt: skip
        print(f"  {row['label']}: {cpu}{row['samples']} samples")
        print(f"    {'package (self time)':<32} {'share':>6} {'ms/page':>8}  hottest line")
        for pkg in row["by_package"]:
            ms = f"{pkg['cpu_ms_per_page']:8.2f}" if "cpu_ms_per_page" in pkg else " " * 8
            where = ""
            if "hottest" in pkg:
                where = f"{pkg['hottest']}  {pkg['source']}"
            line = f"    {pkg['package']:<32} {100 * pkg['share']:5.1f}% {ms}  {where}"
            print(line[:width] if len(line) > width else line)
        groups = ", ".join(f"{g['group']} {100 * g['share']:.0f}%" for g in row["by_group"][:8])
        print(f"    by top-level package: {groups}")
