"""WorkerPool: the crawl's CPU work (parsing a page, extracting its text) in worker processes.

One pool per crawl, shared by every component that sends work to it (:meth:`WorkerPool.
for_crawler`): the page analysis of :mod:`crawler.page_analysis`, the probe fingerprints, and
:class:`~pipelines.extract.ExtractPipeline` for items no page worker read. ``EXTRACT_WORKERS``
processes (0: one per usable core) so that the reactor only routes and both cores work.

A call that takes longer than ``EXTRACT_TIMEOUT`` seconds has its worker killed and raises
:class:`WorkTimeout`; a worker that dies takes every call in flight down with it, so after a pool
breaks each of those calls is tried again alone, in a worker of its own: only the call that
kills or hangs that worker is lost (:class:`~concurrent.futures.process.BrokenProcessPool`).

Workers end with the crawl, however it ends: each watches the crawl's process (a pidfd) and exits
when it is gone, so a SIGKILLed crawl leaves no worker process behind.

Settings: ``EXTRACT_WORKERS``, ``EXTRACT_TIMEOUT``. Stats: ``workers/died``, ``workers/timeout``
(and, for the pages they were reading, ``extract/worker_died``, ``extract/timeout``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from pipelines.twisted_util import deferred_from_future

logger = logging.getLogger(__name__)

T = TypeVar("T")
_POOLS: weakref.WeakKeyDictionary[Crawler, WorkerPool] = weakref.WeakKeyDictionary()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _init_worker(crawl_pid: int) -> None:
    """In each worker: quiet logs, and a watchdog that ends the worker with the crawl."""
    # trafilatura warns ("discarding data") for every page without text; the pipeline counts
    # those pages itself, so only errors get through to the crawl's stderr
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.ERROR)
    threading.Thread(target=_exit_with, args=(crawl_pid,), name="crawl-watchdog",
                     daemon=True).start()  # fmt: skip


def _exit_with(crawl_pid: int) -> None:
    """Exit as soon as the crawl process is gone. A SIGKILLed crawl runs no cleanup, and a worker
    would wait for work for ever: it holds its own call queue's write end (so never reads EOF),
    and the forkserver, which waits for its last child, lives on too. The worker's parent is the
    forkserver, not the crawl, so a parent-death signal would not fire: watch the crawl itself."""
    try:
        fd = os.pidfd_open(crawl_pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look once a second
        while True:
            try:
                os.kill(crawl_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(1.0)
    select.select([fd], [], [])  # readable once the process has exited
    os._exit(1)


def stats_counter(crawler: Crawler) -> Callable[[str], None]:
    """``count(key)``: the crawl's stats, which are made after the components that count."""

    def count(key: str) -> None:
        assert crawler.stats is not None
        crawler.stats.inc_value(key)

    return count


class WorkTimeout(Exception):
    """A call ran past the pool's timeout; its worker was killed."""


class WorkerPool:
    def __init__(self, workers: int, count: Callable[[str], None], timeout: float) -> None:
        self.workers = workers or usable_cores()
        self.timeout = timeout
        self.count = count  # a stats counter: the crawl's stats exist only once it starts
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> WorkerPool:
        """The crawl's one pool, made by the first component that asks, closed with the
        spider."""
        if (pool := _POOLS.get(crawler)) is None:
            settings = crawler.settings
            pool = cls(settings.getint("EXTRACT_WORKERS"), stats_counter(crawler),
                       settings.getfloat("EXTRACT_TIMEOUT"))  # fmt: skip
            crawler.signals.connect(pool.close, signal=signals.spider_closed)
            _POOLS[crawler] = pool
        return pool

    def _new_pool(self, workers: int | None = None) -> ProcessPoolExecutor:
        # forkserver: workers are forked from a clean server process, never from the crawler
        # with its reactor threads and open sockets.
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            max_workers=workers or self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )

    def start(self) -> None:
        """Start the workers now (else on the first call): their start-up is not a page's."""
        if self._pool is None and not self._closed:
            self._pool = self._new_pool()
            logger.info("page work runs in %d worker process(es)", self.workers)

    def close(self, *_: Any, **__: Any) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker (a top-level function; arguments and result
        pickle). Raises what it raises, :class:`WorkTimeout`, or BrokenProcessPool when it
        killed its worker even alone."""
        self.start()
        pool = self._pool
        if pool is None:
            raise RuntimeError("the worker pool is closed")
        try:
            return await self._run(pool, fn, args, kwargs)
        except BrokenProcessPool:
            if self._pool is pool:
                self.count("workers/died")
                self._replace_broken_pool()
        except CancelledError:
            pass  # still queued when its pool was replaced: it goes on alone too
        alone = self._new_pool(workers=1)
        try:
            return await self._run(alone, fn, args, kwargs)
        except BrokenProcessPool:
            self.count("workers/died")
            raise
        finally:
            alone.shutdown(wait=False, cancel_futures=True)

    async def _run(self, pool: ProcessPoolExecutor, fn: Callable[..., T], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> T:  # fmt: skip
        d = deferred_from_future(pool.submit(fn, *args, **kwargs))
        if self.timeout > 0:
            from twisted.internet import reactor

            d.addTimeout(self.timeout, reactor)
        try:
            result: T = await maybe_deferred_to_future(d)
            return result
        except defer.TimeoutError:
            # a worker stuck on one call: kill the pool's workers (a running task cannot be
            # cancelled otherwise); the other calls in flight then go on alone
            self.count("workers/timeout")
            self._kill(pool)
            if self._pool is pool:
                self._replace_broken_pool()
            raise WorkTimeout(f"no result after {self.timeout:g} s") from None

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> None:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()

    def _replace_broken_pool(self) -> None:
        old, self._pool = self._pool, (None if self._closed else self._new_pool())
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
