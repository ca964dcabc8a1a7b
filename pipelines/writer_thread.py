"""WriterThread: one thread that does a component's disk (and Redis) work, off the reactor.

The WARC capture, the failure recorder, the text store and the stories updater each keep their
files in one thread of their own: their jobs run one at a time and in the order they were
submitted (a WARC record before the index line that names it, a sidecar before its text), and
the reactor never waits on a disk. A job's result comes back as a Deferred fired on the
reactor thread (:func:`~pipelines.twisted_util.deferred_from_future`, any reactor), or awaited
with :meth:`WriterThread.run`.

:meth:`WriterThread.close` runs a last job (closing the component's files) after every job
submitted before it, then ends the thread: the jobs are drained, none is cancelled.

Settings: none (its users read theirs).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from pipelines.twisted_util import deferred_from_future

T = TypeVar("T")


class WriterThread:
    def __init__(self, name: str) -> None:
        """`name` prefixes the thread's name (``text-writer``), as logs and py-spy show it."""
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def submit(self, fn: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        """Queue ``fn(*args)``; a Deferred fired on the reactor with its result or error."""
        return deferred_from_future(self._executor.submit(fn, *args))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the thread, awaited from a coroutine on the reactor."""
        # maybe_deferred_to_future: a bare Deferred cannot be awaited on the asyncio reactor
        return await maybe_deferred_to_future(self.submit(fn, *args))

    async def close(self, last: Callable[[], Any] | None = None) -> None:
        """Run `last` after every job submitted before it, then end the thread."""
        try:
            if last is not None:
                await self.run(last)
        finally:
            self._executor.shutdown(wait=True)

    def shutdown(self) -> None:
        """End the thread without a last job (outside a crawl: its jobs were run directly)."""
        self._executor.shutdown(wait=True)
