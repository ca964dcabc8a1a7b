"""The Redis side of a worker's :class:`crawler.cluster.state.ClusterState`: the client options,
the key names, the connections and the epoch check every Lua step that writes goes through.

The parts of the state (:mod:`.queue_state`, :mod:`.text_claims`, :mod:`.archived_state`, and
the membership steps in :mod:`.state`) are built on :class:`StateConnection`. Reads no settings
(:meth:`ClusterState.from_settings` does).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from typing import Any

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from crawler.cluster import lua
from crawler.redaction import redact_url

# One place for the connection: short timeouts and one quick retry. Every call runs in a thread
# (none on the reactor's), but a Redis that is unreachable must still cost a call a few seconds
# at most: the heartbeat, in a thread too, decides when it is gone for good.
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "retry_on_timeout": True,
    "health_check_interval": 30,
}


def client_options() -> dict[str, Any]:
    """redis-py options for every client of a worker (scrapy-redis's through REDIS_PARAMS)."""
    return {**CLIENT_OPTIONS, "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1)}


# The batched step takes requests: sent again by redis-py after a timeout it could run twice and
# lease requests nobody knows of. Without retries a failure is seen, and ClusterState.recover
# finds what it took.
SYNC_CLIENT_OPTIONS: dict[str, Any] = {**CLIENT_OPTIONS, "retry_on_timeout": False}


class StateLost(redis.RedisError):
    """Redis no longer holds the cluster's epoch this worker joined under: it lost its data
    (restarted without persistence, flushed, evicted). A RedisError, so that every caller that
    survives a failed call survives this one (nothing was written); the cluster extension
    stops the crawl (:data:`crawler.cluster.extension.STATE_LOST_REASON`)."""


def _lost(exc: redis.ResponseError) -> bool:
    return str(exc).startswith(lua.LOST)


class StateConnection:
    """A worker's connections to the cluster's Redis, its key names and its epoch. Thread-safe:
    redis-py pools its connections; ``_lock`` guards what the parts keep in memory."""

    def __init__(self, url: str, name: str, worker: str, client: redis.Redis | None = None) -> None:
        self.url = url
        self.ns = name
        self.worker = worker
        # this process: the alive key holds it, so a second process with the same id is refused
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Any: redis-py's stubs type each command as "result or awaitable" (sync and asyncio)
        self.redis: Any = client or redis.Redis.from_url(url, **client_options())
        self.keys = {
            k: f"{name}:{k}"
            for k in ("requests", "dupefilter", "run", "workers", "texts", "text_seq", "archived",
                      "archived_log", "failures", "epoch")
        }  # fmt: skip
        self.epoch = ""  # learnt at join(); "" (tools that never join): not checked
        self.lost = False  # a script found the epoch gone (StateLost)
        # the cluster extension's "state lost: stop" (called on the reactor, by the scheduler)
        self.on_lost: Any = None
        self.alive_key = f"{name}:alive:{worker}"
        self.leases_key = f"{name}:leases:{worker}"
        # the batched step's own connection, without redis-py's retries (SYNC_CLIENT_OPTIONS)
        self._sync_redis: Any = redis.Redis.from_url(
            url, **SYNC_CLIENT_OPTIONS, retry=Retry(NoBackoff(), 0)
        )
        self._lock = threading.Lock()  # what the threads share

    def close(self) -> None:
        self.redis.close()
        self._sync_redis.close()

    def _checked(self, script: Any, keys: list[str], args: list[Any], **kw: Any) -> Any:
        """Run a script that ends its keys with the epoch and its arguments with the epoch
        joined under (:data:`lua.EPOCH_CHECK`); StateLost if Redis no longer holds it."""
        try:
            return script(keys=[*keys, self.keys["epoch"]], args=[*args, self.epoch], **kw)
        except redis.ResponseError as exc:
            if not _lost(exc):
                raise
            self.lost = True
            raise StateLost(
                f"Redis at {redact_url(self.url)} no longer holds cluster {self.ns}'s state "
                f"(epoch {self.epoch} gone)"
            ) from None
