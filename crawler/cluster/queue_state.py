"""The shared request queue and this worker's leases, in batched steps: the part of
:class:`crawler.cluster.state.ClusterState` the scheduler (:mod:`.scheduler`) drives.

A request is taken under a lease (``{ns}:leases:{worker}``) and its lease ends when the request
is finished, with the next batched step (:data:`lua.SYNC`: end leases, admit and queue
requests, take requests, write "seeded"), from a thread. Reads no settings.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from crawler.cluster import lua
from crawler.cluster.connection import StateConnection

MAX_BATCH = 1000  # requests, or leases, in one batched step (Lua's unpack() takes ~8000 values)


@dataclass
class Push:
    """A request for the shared queue, as :meth:`ClusterState.sync` takes it."""

    fingerprint: str  # scrapy-redis's; "" for a request the filter does not see (dont_filter)
    depth: int  # the filter's depth (0 for a requisite: wanted once, whatever page names it)
    score: int  # -priority
    data: bytes  # the request, serialized (crawler.cluster.serializer); b"": the filter only
    release: str = ""  # the lease of the request it replaces: ended once this one is queued


@dataclass
class SyncResult:
    admitted: list[int]  # per Push: 0 seen already, 1 new, 2 seen only deeper (queued again)
    taken: list[tuple[str, bytes]]  # (lease id, request) taken under this worker's leases
    ended: int  # leases deleted (fewer than asked: requeued by others meanwhile)


class QueueState(StateConnection):
    """The queue and lease steps of a worker's state (:meth:`_init_queue` sets them up)."""

    def _init_queue(self) -> None:
        self._sync = self.redis.register_script(lua.SYNC)
        # leases: ids chosen here (unique per process), the ones handed out, the ones finished
        self._lease_prefix = uuid.uuid4().hex[:6]
        self._lease_numbers = itertools.count(1)
        self._live: set[str] = set()
        self._done: list[str] = []
        self._seeded = False  # said seeded, not yet written (the next batched step writes it)
        # the scheduler's "a step is wanted" (called on the reactor: a lease ended, seeded said)
        self.wake: Any = None

    def lease_ids(self, n: int) -> list[str]:
        """`n` new lease ids, unique to this process (the lease hash is this worker's own)."""
        return [f"{self._lease_prefix}.{next(self._lease_numbers)}" for _ in range(n)]

    def sync(
        self,
        ended: Sequence[str] = (),
        pushes: Sequence[Push] = (),
        lease_ids: Sequence[str] = (),
        drained: bool = True,
    ) -> SyncResult:
        """One batched step (:data:`lua.SYNC`): end the leases `ended`, admit and queue
        `pushes` (ending the leases they replace), take up to ``len(lease_ids)`` requests under
        those ids, and, when `drained` (nothing queued here is left unsent), write "seeded" if
        :meth:`seeded` was said. Blocking: call it from a thread. A RedisError may come after
        Redis ran it: :meth:`recover` finds what it took."""
        with self._lock:
            seeded = self._seeded and drained
            self._seeded = self._seeded and not drained
        args: list[Any] = [len(ended), *ended, len(pushes)]
        for push in pushes:
            args += [push.fingerprint, push.depth, push.score, push.data, push.release]
        args += [len(lease_ids), *lease_ids, "1" if seeded else "0"]
        k = self.keys
        try:
            admitted, taken, n_ended = self._checked(
                self._sync, [k["requests"], k["dupefilter"], self.leases_key, k["run"]], args,
                client=self._sync_redis,
            )  # fmt: skip
        except redis.RedisError:
            if seeded:
                with self._lock:
                    self._seeded = True  # for the next step
            raise
        pairs = [(taken[n].decode(), taken[n + 1]) for n in range(0, len(taken), 2)]
        self.leased(lease for lease, _ in pairs)
        return SyncResult([int(a) for a in admitted], pairs, int(n_ended))

    def recover(self, lease_ids: Sequence[str]) -> list[tuple[str, bytes]]:
        """After a :meth:`sync` that failed: the requests it took all the same (Redis ran it,
        the answer was lost), as (lease id, request); they are this worker's to fetch."""
        if not lease_ids:
            return []
        values = self._sync_redis.hmget(self.leases_key, list(lease_ids))
        found = [(lease, v.split(b"|", 1)[1]) for lease, v in zip(lease_ids, values, strict=True)
                 if v is not None]  # fmt: skip
        self.leased(lease for lease, _ in found)
        return found

    def pop(self) -> tuple[str, bytes] | None:
        """Take the best request of the queue under a lease: (lease id, serialized request)."""
        taken = self.sync(lease_ids=self.lease_ids(1), drained=False).taken
        return taken[0] if taken else None

    def leased(self, leases: Iterable[str]) -> None:
        """Leases this process holds, until :meth:`lease_done` or :meth:`release`."""
        with self._lock:
            self._live.update(leases)

    def lease_done(self, lease: str) -> bool:
        """The lease's request is finished: its lease ends with the next batched step. False
        when it had ended already (or is not this process's)."""
        with self._lock:
            if lease not in self._live:
                return False
            self._live.discard(lease)
            first = not self._done
            self._done.append(lease)
        if first and self.wake is not None:
            self.wake()
        return True

    def release(self, lease: str) -> bool:
        """The lease ends with the request that replaces its own (a retry, a redirect): the
        caller sends it with that request's :class:`Push`. False when it had ended already."""
        with self._lock:
            if lease not in self._live:
                return False
            self._live.discard(lease)
            return True

    def take_done(self, limit: int = MAX_BATCH) -> list[str]:
        """Finished leases for the next batched step (put back with :meth:`put_back_done`)."""
        with self._lock:
            taken, self._done = self._done[:limit], self._done[limit:]
        return taken

    def put_back_done(self, leases: Sequence[str]) -> None:
        with self._lock:
            self._done[:0] = leases

    def seeded_waiting(self) -> bool:
        with self._lock:
            return self._seeded

    def done_waiting(self) -> int:
        with self._lock:
            return len(self._done)

    def complete(self, lease: str) -> bool:
        """End one lease now (tools and tests; the crawl ends them in batches)."""
        with self._lock:
            self._live.discard(lease)
        return bool(self.redis.hdel(self.leases_key, lease))

    def leases(self) -> int:
        return int(self.redis.hlen(self.leases_key))

    def queued(self) -> int:
        return int(self.redis.zcard(self.keys["requests"]))
