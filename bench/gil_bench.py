"""Does WARC compression hold the interpreter lock? Two threads, measured.

The crawl gzips records in its WARC writer thread while the reactor thread runs Python. zlib-ng's
``compress``/``flush`` (as CPython's zlib) let go of the GIL around every ``deflate()`` call,
whatever the size (sha1 does for 2 KB and more); what that does not remove is getting the lock
*back* after each such call: a thread that wants it while another runs Python waits up to
``sys.getswitchinterval()`` (5 ms) for it. So the writer gains from fewer, larger calls. Rows:

0. ``WarcFileWriter, a page's exchange``: the calls that let go of the lock in writing one
   exchange (a response of a news page and its request): zlib-ng compress/flush calls and sha1
   updates of 2 KB or more (the output-buffer rounds inside one compress call not counted);

and, each run for ``--seconds``, with the threads' own CPU time (``time.thread_time``):

1. ``compress alone``: one thread gzips 100 KB of news pages (zlib-ng, level 6) in one call;
2. ``2 threads compress``: two at once; their CPU seconds per second add up to more than 1 only
   if they ran at the same time, i.e. deflate ran without the lock (needs a second core free);
   ``2 threads sorted()`` is the control, a C call that keeps the lock (at most 1);
3. ``python + compress``: the main thread runs a pure-Python loop while a thread compresses, in
   one call a record and in warcio's 16 KB pieces: the main loop's rate against its rate alone
   and the records the thread gets through while the lock is wanted all the time;
4. ``python + WarcFileWriter``: the same with the real writer (storage/warc.py) writing
   exchanges of synthetic article pages (60-135 KB), against the writer alone.

    python -m bench.gil_bench [--seconds 2] [--json out.json]

Figures on a shared machine move with its load (the load average is printed): compare rows of
one run, and runs of the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zlib_ng import zlib_ng

from bench.synthetic_site import Site
from crawler import settings
from storage.layout import ArchiveLayout
from storage.warc import Exchange, WarcFileWriter

LEVEL = 6
CHUNK = 16384  # warcio's BUFF_SIZE: the pieces its writer hands over
RECORD = 100_000


def _pages(n: int) -> list[bytes]:
    site = Site(pages=n)
    return [site.article(i) for i in range(n)]


def compress_whole(data: bytes) -> None:
    gz = zlib_ng.compressobj(LEVEL, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)
    gz.compress(data)
    gz.flush()


def compress_pieces(data: bytes) -> None:
    gz = zlib_ng.compressobj(LEVEL, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)
    for i in range(0, len(data), CHUNK):
        gz.compress(data[i : i + CHUNK])
    gz.flush()


def python_work() -> None:
    total = 0
    for i in range(1000):
        total += i * i


def _schedstat() -> tuple[float, float]:
    """This thread's (CPU, run-queue wait) seconds so far: /proc's schedstat, where the time
    the kernel left it waiting for a core is apart from the time it ran."""
    path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
    with open(path, "rb") as fh:
        ran, waited, _ = fh.read().split()
    return int(ran) / 1e9, int(waited) / 1e9


def _loop(fn: Callable[[], object], stop: threading.Event, out: dict[str, float]) -> None:
    n = 0
    ran, queued = _schedstat()
    start = time.perf_counter()
    while not stop.is_set():
        fn()
        n += 1
    wall = time.perf_counter() - start
    ran_end, queued_end = _schedstat()
    out["per_s"], out["cpu_per_s"] = n / wall, (ran_end - ran) / wall
    # neither running nor waiting for a core: waiting for the interpreter lock (nothing here
    # sleeps or waits on a disk)
    out["lock_wait_%"] = 100 * (1 - (ran_end - ran + queued_end - queued) / wall)


def together(fns: list[Callable[[], object]], seconds: float) -> list[dict[str, float]]:
    """Each fn in a loop in a thread of its own for `seconds`: calls a second, CPU seconds a
    second, and the share of the time it waited for the interpreter lock."""
    stop = threading.Event()
    outs: list[dict[str, float]] = [{} for _ in fns]
    threads = [threading.Thread(target=_loop, args=(fn, stop, out))
               for fn, out in zip(fns, outs, strict=True)]  # fmt: skip
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return outs


class WriterLoop:
    """One exchange a call through a real WarcFileWriter (a new file past 64 MB)."""

    def __init__(self, root: Path, pages: list[bytes]) -> None:
        self.layout = ArchiveLayout(root).ensure()
        self.writer = WarcFileWriter(self.layout, "gil", 64 << 20, {"software": "gil_bench"},
                                     "bench", gzip_level=settings.WARC_GZIP_LEVEL,
                                     fsync_each=settings.WARC_FSYNC == "record")  # fmt: skip
        self.pages = pages
        self.i = 0

    def __call__(self) -> None:
        body = self.pages[self.i % len(self.pages)] + str(self.i).encode()  # never a revisit
        self.i += 1
        self.writer.write_exchange(Exchange(
            url=f"http://bench.invalid/a/{self.i}", method="GET",
            request_headers=[("User-Agent", "bench"), ("Accept-Encoding", "gzip")],
            request_body=b"", status=200,
            response_headers=[("Content-Type", "text/html; charset=utf-8"), ("Server", "b")],
            response_body=body, fetched_at=datetime.now(timezone.utc),
        ))  # fmt: skip

    def close(self) -> None:
        self.writer.close()


class _Counted:
    """A zlib-ng compressor or a sha1 whose calls that let go of the GIL are counted."""

    def __init__(self, real: Any, calls: dict[str, int]) -> None:
        self._real, self._calls = real, calls

    def compress(self, data: bytes) -> bytes:
        self._calls["zlib-ng calls"] += 1
        return bytes(self._real.compress(data))

    def flush(self, *args: Any) -> bytes:
        self._calls["zlib-ng calls"] += 1
        return bytes(self._real.flush(*args))

    def update(self, data: bytes) -> None:
        if len(data) >= SHA1_GIL_MIN:
            self._calls["sha1 calls >= 2 KB"] += 1
        self._real.update(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


SHA1_GIL_MIN = 2048  # hashlib lets go of the GIL for data of this size and more


def calls_per_exchange(pages: list[bytes], exchanges: int = 50) -> dict[str, float]:
    """The calls of one exchange, in the writer, that let go of the GIL (and must take it
    back): zlib-ng's compress/flush and sha1 over 2 KB or more."""
    import hashlib

    calls = {"zlib-ng calls": 0, "sha1 calls >= 2 KB": 0}
    real = (zlib_ng.compress, zlib_ng.compressobj, hashlib.sha1, hashlib.new)

    def compress(data: bytes, *args: Any) -> bytes:
        calls["zlib-ng calls"] += 1
        return bytes(real[0](data, *args))

    def sha1(data: bytes = b"") -> Any:
        counted = _Counted(real[2](), calls)
        counted.update(data)
        return counted

    def new(name: str, data: bytes = b"") -> Any:
        counted = _Counted(real[3](name), calls)
        counted.update(data)
        return counted

    with tempfile.TemporaryDirectory() as tmp:
        loop = WriterLoop(Path(tmp), pages)
        loop()  # the file's warcinfo record, once a file
        zlib_ng.compress = compress  # type: ignore[assignment]
        zlib_ng.compressobj = lambda *a: _Counted(real[1](*a), calls)  # type: ignore[assignment]
        hashlib.sha1, hashlib.new = sha1, new  # type: ignore[assignment]
        try:
            for _ in range(exchanges):
                loop()
        finally:
            zlib_ng.compress, zlib_ng.compressobj, hashlib.sha1, hashlib.new = real
            loop.close()
    return {k: v / exchanges for k, v in calls.items()}


def measure(seconds: float) -> dict[str, Any]:
    pages = _pages(40)
    record = b"".join(pages)[:RECORD]
    floats = [random.random() for _ in range(100_000)]
    whole = lambda: compress_whole(record)  # noqa: E731
    pieces = lambda: compress_pieces(record)  # noqa: E731
    keeps_lock = lambda: sorted(floats)  # noqa: E731 - a C call that never lets go of the GIL
    rows: dict[str, dict[str, float]] = {}
    rows["WarcFileWriter, a page's exchange"] = calls_per_exchange(pages)
    py = together([python_work], seconds)[0]
    rows["python loop alone"] = {"loops/s": py["per_s"], "lock wait %": py["lock_wait_%"]}
    (one,) = together([whole], seconds)
    rows["compress alone, one call"] = {
        "records/s": one["per_s"],
        "ms/record": 1000 * one["cpu_per_s"] / one["per_s"],
    }
    for label, pair in (
        ("2 threads compress", (whole, whole)),
        ("2 threads sorted() (control)", (keeps_lock, keeps_lock)),
    ):
        a, b = together(list(pair), seconds)
        rows[label] = {
            "calls/s": a["per_s"] + b["per_s"],
            "cpu s/s": a["cpu_per_s"] + b["cpu_per_s"],
            "lock wait %": (a["lock_wait_%"] + b["lock_wait_%"]) / 2,
        }
    for label, fn in (
        ("compress, one call", whole),
        ("compress, 16 KB pieces", pieces),
        ("python (control)", python_work),
    ):
        main, other = together([python_work, fn], seconds)
        rows[f"python + {label}"] = {
            "main lock wait %": main["lock_wait_%"],
            "worker/s": other["per_s"],
            "worker lock wait %": other["lock_wait_%"],
        }
    with tempfile.TemporaryDirectory() as tmp:
        alone = WriterLoop(Path(tmp) / "a", pages)
        (w,) = together([alone], seconds)
        alone.close()
        rows["WarcFileWriter alone"] = {
            "exchanges/s": w["per_s"],
            "ms/exchange": 1000 * w["cpu_per_s"] / w["per_s"],
        }
        busy = WriterLoop(Path(tmp) / "b", pages)
        main, w = together([python_work, busy], seconds)
        busy.close()
        rows["python + WarcFileWriter"] = {
            "main lock wait %": main["lock_wait_%"],
            "exchanges/s": w["per_s"],
            "writer lock wait %": w["lock_wait_%"],
            "writer ms/exchange": 1000 * w["cpu_per_s"] / w["per_s"],
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = measure(args.seconds)
    for label, figures in rows.items():
        shown = "  ".join(f"{k} {v:8.2f}" for k, v in figures.items())
        print(f"{label:32s} {shown}")
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} "
          f"cores; switch interval {sys.getswitchinterval() * 1000:.0f} ms")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"load": load, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
