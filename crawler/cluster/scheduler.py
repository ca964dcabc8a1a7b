"""LeasingScheduler: scrapy-redis's scheduler, with requests leased instead of popped, and Redis
asked in batches from a thread, never on the reactor.

scrapy-redis pops a request off the shared queue and forgets it: a worker killed with requests
in flight loses them. Here a request is taken under a lease: the step that takes it moves it
into this worker's lease hash (:data:`crawler.cluster.lua.SYNC`), and it is tagged
``meta["cluster_lease"]``; the lease ends when the page is archived or recorded as failed
(:mod:`crawler.cluster.leases`), or when the request goes back into the queue (a retry, a
redirect: the step that queues the new request ends it). A dead worker's leases return to the
queue (:meth:`ClusterState.reclaim`).

scrapy-redis also asks Redis on the reactor thread, once or twice for each request it queues
and once for each it takes. Here the reactor asks nothing. :meth:`enqueue_request` answers at
once: a fingerprint this worker queued already at that depth or shallower is dropped, any other
request is held; :meth:`next_request` hands out requests taken ahead (up to
``CLUSTER_PREFETCH``). A batched step (:meth:`ClusterState.sync`, one Lua script in a thread)
puts the held requests through the shared seen-URL filter into the queue, ends the leases
finished since the last step and takes requests ahead: at once when those taken ahead are down
to half, else ``CLUSTER_SYNC_INTERVAL`` seconds after the last step (held requests and finished
leases wait that long at most, to go together), and every ``CLUSTER_IDLE_POLL`` seconds while
the shared queue is found empty. A busy worker makes a step every ``CLUSTER_PREFETCH`` / 2
pages or so, an idle one a few a second. A held request is in the shared
queue once its step says so: then ``request_queued`` is sent (the lease middleware ends the
lease of the page that found it only after that), or ``request_dropped`` if the filter had seen
it. Requests taken ahead and not started when the crawl closes go back into the queue.

What this worker finds goes through :mod:`crawler.cluster.outgoing` first (a duplicate of one
it queued dropped, one the others would not admit kept here). What is read from Redis is not
trusted: :mod:`crawler.cluster.admission` rebuilds each request
from an allow-list (never ``request_from_dict``), or drops it with its lease
(``cluster/rejected/<reason>``, ``cluster/unreadable``). A request of this process's own the
others would reject is fetched here (``cluster/kept_local/<reason>``): past the shared filter
only, or at once under the lease of the request it replaces (a redirect to another host).

Redis errors are counted and survived: a failed step is sent again (``CLUSTER_SYNC_INTERVAL``
later), after a look for what it may have taken (:meth:`ClusterState.recover`); the cluster
extension decides whether Redis is gone for good (or lost the run: :class:`.connection.StateLost`).
The close, and what never reached Redis by then, is :mod:`crawler.cluster.drain`'s.

Settings: ``URLLENGTH_LIMIT``, ``REDIRECT_MAX_TIMES`` (admission),
scrapy-redis's ``REDIS_URL``, ``SCHEDULER_*`` and ``DUPEFILTER_*`` (set by
:mod:`crawler.cluster.addon`), ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``, ``CLUSTER_SYNC_INTERVAL``,
``CLUSTER_PREFETCH``, ``CLUSTER_IDLE_POLL``, ``CLUSTER_SEED_ONLY``.
Stats: scrapy-redis's ``scheduler/enqueued/redis``, ``scheduler/dequeued/redis``, and
``cluster/syncs``, ``cluster/leases/{taken,released,recovered,ended_elsewhere}``,
``cluster/requeued_shallower``, ``cluster/unreadable``, ``cluster/redis_errors/{sync,open}``,
:mod:`.drain`'s and :mod:`.admission`'s.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.cluster.admission import Admission
from crawler.cluster.connection import StateLost
from crawler.cluster.drain import Held, drain
from crawler.cluster.outgoing import keep_local, push_for
from crawler.cluster.queue_state import MAX_BATCH, SyncResult
from crawler.cluster.state import ClusterState
from pipelines import signals as na_signals
from pipelines.twisted_util import nudge_engine

logger = logging.getLogger(__name__)


@dataclass
class _Batch:
    held: list[Held]
    ended: list[str]  # finished leases
    lease_ids: list[str]  # one for each request to take
    recover: list[str]  # lease ids of failed steps: did they take requests?
    drained: bool  # nothing held is left for a later step


class LeasingScheduler(Scheduler):
    state: ClusterState
    crawler: Crawler
    df: Any  # scrapy-redis's RFPDupeFilter
    seed_only: bool = False
    interval: float = 0.5
    prefetch: int = 16
    idle_poll: float = 0.5
    _added_here: dict[str, int]
    _held: deque[Held]
    _ready: deque[tuple[str, bytes]]  # (lease id, request) taken ahead

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeasingScheduler:
        instance: LeasingScheduler = super().from_crawler(crawler)
        s = crawler.settings
        instance.crawler = crawler
        instance.state = ClusterState.for_crawler(crawler)
        instance.seed_only = s.getbool("CLUSTER_SEED_ONLY")
        instance.interval = s.getfloat("CLUSTER_SYNC_INTERVAL")
        instance.prefetch = s.getint("CLUSTER_PREFETCH")
        instance.idle_poll = s.getfloat("CLUSTER_IDLE_POLL")
        instance._setup()
        return instance

    def _setup(self) -> None:
        self._added_here = {}
        self._held = deque()
        self._ready = deque()
        self._local: deque[Request] = deque()  # this process's own, the others would reject
        self._recover: list[str] = []
        self._in_flight = False
        self._again = False  # work came while a step was in flight
        self._timer: CallLaterResult | None = None
        self._timer_at = math.inf
        self._last_sync = -math.inf
        self._last_take = -math.inf
        self._dry = False  # the last step found fewer requests than it asked for
        self._failing = False
        self._closing = False
        self._waiters: list[Deferred[None]] = []

    def open(self, spider: Spider) -> None:
        # scrapy-redis's open(), but its "Resuming crawl" goes through Spider.log(), which
        # Scrapy deprecated; nothing here flushes: the last worker out clears the run
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer,
        )  # fmt: skip
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        s = self.crawler.settings
        self.admission = Admission(
            spider, self._inc, url_limit=s.getint("URLLENGTH_LIMIT"),
            redirect_max=s.getint("REDIRECT_MAX_TIMES"),
        )  # fmt: skip
        self.state.wake = self._kick  # a finished lease, or "seeded", waits for a step
        try:
            if queued := self.state.queued():  # once, at the start
                logger.info("%d request(s) waiting in the shared queue", queued)
        except redis.RedisError:
            self._inc("cluster/redis_errors/open")

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats:
            self.stats.inc_value(key, count)

    def __len__(self) -> int:
        return len(self._ready) + len(self._held) + len(self._local)

    def has_pending_requests(self) -> bool:
        if self._held or self._in_flight or self._local:
            return True
        # until a step finds the shared queue empty, it may have requests
        return not self.seed_only and (bool(self._ready) or not self._dry)

    # --- the reactor's side: answers at once ------------------------------------------------
    def enqueue_request(self, request: Request) -> bool:
        lease = request.meta.pop("cluster_lease", None)
        push = push_for(self, request)
        if (
            push is not None
            and not push.data
            and (lease is not None or not push.fingerprint or self.seed_only)
        ):
            return keep_local(self, request, lease)
        if lease is not None:
            # the request is in the queue again (or seen, or recorded): this lease is done,
            # ended by the step that queues the new request, or by the next one
            if push is not None and self.state.release(lease):
                push.release = lease
                self._inc("cluster/leases/released")
            elif push is None and self.state.lease_done(lease):
                self._inc("cluster/leases/released")
        if push is None:
            return False  # the engine sends request_dropped
        self._held.append(Held(request, push))
        self._kick(urgent=not self._ready)
        return True

    def next_request(self) -> Request | None:
        if self._local:
            return self._local.popleft()
        if self.seed_only:
            return None  # newsarchiver seed: queue, never take
        while self._ready:
            lease, data = self._ready.popleft()
            if len(self._ready) <= self.prefetch // 2:
                self._kick(urgent=True)  # refilled while half is left: the engine never waits
            # rebuilt from an allow-list, never request_from_dict (crawler.cluster.admission)
            request = self.admission.admit(data, self.serializer.loads)
            if request is None:
                # not admitted: its lease is dropped, so it does not come back forever
                self.state.lease_done(lease)
                self._inc("cluster/unreadable")
                continue
            request.meta["cluster_lease"] = lease
            self._inc("scheduler/dequeued/redis")
            self._inc("cluster/leases/taken")
            return request
        self._kick(urgent=True)  # the engine waits
        return None

    # --- the batched step -------------------------------------------------------------------
    def _kick(self, urgent: bool = False) -> None:
        """Have a step run: at once if `urgent` (requests taken ahead run low, and the queue
        may have some), else CLUSTER_SYNC_INTERVAL after the last one (requests held, leases
        finished: they wait a little to go in one step)."""
        if self._closing:
            return
        if self._in_flight:
            self._again = True
            return
        now = time.monotonic()
        # (an empty queue is not polled at once; one this worker is adding to may be taken from)
        if urgent and not self._failing and (not self._dry or self._held):
            at = now
        else:
            at = self._last_sync + self.interval
            if self._dry and not self._held and not self.state.done_waiting():
                at = max(at, self._last_take + self.idle_poll)  # polling an empty queue
        at = max(at, now)
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = call_later(at - now, self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self._in_flight or self._closing:
            return
        batch = self._take()
        if batch is None:
            return
        self._in_flight = True
        self._last_sync = time.monotonic()
        if batch.lease_ids:
            self._last_take = self._last_sync
        d = threads.deferToThread(self._run, batch)
        d.addCallbacks(self._synced, self._sync_failed, callbackArgs=(batch,),
                       errbackArgs=(batch,))  # fmt: skip
        d.addBoth(self._settled)

    def _take(self, final: bool = False) -> _Batch | None:
        held = [self._held.popleft() for _ in range(min(len(self._held), MAX_BATCH))]
        ended = self.state.take_done()
        recover, self._recover = self._recover, []
        want = 0
        # (after a failed step, first a look for what it took: then new lease ids)
        if not (final or self.seed_only or recover):
            room = self.prefetch - len(self._ready)
            polled_lately = time.monotonic() - self._last_take < self.idle_poll
            if (room >= max(1, self.prefetch // 2) or not self._ready) and not (
                self._dry and polled_lately and not held
            ):
                want = room
        if not (held or ended or want or recover or self.state.seeded_waiting()):
            return None
        return _Batch(held, ended, self.state.lease_ids(want), recover, not self._held)

    def _run(self, batch: _Batch) -> tuple[list[tuple[str, bytes]], SyncResult]:
        """In a thread: the step, after a look for what failed ones took."""
        found = self.state.recover(batch.recover)
        pushes = [held.push for held in batch.held]
        return found, self.state.sync(batch.ended, pushes, batch.lease_ids, batch.drained)

    def _synced(self, out: tuple[list[tuple[str, bytes]], SyncResult], batch: _Batch) -> None:
        found, result = out
        self._failing = False
        self._inc("cluster/syncs")
        if found:
            self._ready.extend(found)
            self._inc("cluster/leases/recovered", len(found))
            logger.warning("%d request(s) taken by a step whose answer was lost: fetched here",
                           len(found))  # fmt: skip
        for held, admitted in zip(batch.held, result.admitted, strict=True):
            request = held.request
            if request is None:
                continue
            if admitted and not held.push.data:  # past the shared filter, fetched here
                self._local.append(request)
                self.crawler.signals.send_catch_log(na_signals.request_queued, request=request)
            elif admitted:
                self._inc("scheduler/enqueued/redis")
                if admitted == 2:
                    self._inc("cluster/requeued_shallower")
                    logger.info("found again at depth %d, less than before, queued again: %s",
                                held.push.depth, request.url)  # fmt: skip
                self.crawler.signals.send_catch_log(na_signals.request_queued, request=request)
            else:
                self.df.log(request, self.spider)
                self.crawler.signals.send_catch_log(signals.request_dropped, request=request,
                                                    spider=self.spider)  # fmt: skip
        asked = len(batch.ended) + sum(1 for held in batch.held if held.push.release)
        if result.ended < asked:  # this worker was thought dead: another requeued them
            self._inc("cluster/leases/ended_elsewhere", asked - result.ended)
        if batch.lease_ids:
            self._ready.extend(result.taken)
            self._dry = len(result.taken) < len(batch.lease_ids)
        elif any(result.admitted):
            self._dry = False
        if result.taken or found or self._local:
            self._nudge()

    def _nudge(self) -> None:
        """Requests are here: the engine takes them now, not at its next heartbeat."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # not crawling (tools, tests)
            return
        nudge_engine(engine)

    def _sync_failed(self, failure: Failure, batch: _Batch) -> None:
        self._inc("cluster/redis_errors/sync")
        if failure.check(StateLost) and self.state.on_lost is not None:
            self.state.on_lost("sync")  # the crawl stops: nothing of the step was written
        elif not failure.check(redis.RedisError):
            logger.error("the batched Redis step failed: %s", failure.getTraceback())
        elif not self._failing:
            logger.warning("the batched Redis step failed (%s): sent again in %.1f s",
                           failure.getErrorMessage(), self.interval)  # fmt: skip
        self._failing = True
        self._held.extendleft(reversed(batch.held))
        self.state.put_back_done(batch.ended)
        self._recover = batch.recover + batch.lease_ids + self._recover

    def _settled(self, _: Any) -> None:
        self._in_flight = False
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)
        if self._closing:
            return
        low = len(self._ready) <= self.prefetch // 2
        if self._again or self._held or self._recover or self.state.done_waiting():
            self._again = False
            self._kick(urgent=low)
        elif low:
            self._kick(urgent=True)

    def sync_now(self) -> None:
        """One step in the caller's thread, as the timer runs them in a crawl (tools, tests)."""
        batch = self._take()
        if batch is None:
            return
        try:
            out = self._run(batch)
        except redis.RedisError:
            self._sync_failed(Failure(), batch)
            raise
        self._synced(out, batch)

    # --- the close --------------------------------------------------------------------------
    def close(self, reason: str) -> Deferred[None]:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return deferred_from_coro(drain(self))
