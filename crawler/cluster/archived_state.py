"""Archived URLs and failures shared by the workers: the part of
:class:`crawler.cluster.state.ClusterState` answered from memory and written behind.

"Archived by any worker?" is answered from memory (:meth:`ArchivedState.archived_at_cached`:
loaded once at the start, kept fresh from ``{ns}:archived_log``); archived URLs and healed
failures are written behind, in one pipeline with that read (:meth:`ArchivedState.flush`, from a
thread, :mod:`.extension`); a failure row goes at once. Reads no settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from crawler.cluster import lua
from crawler.cluster.connection import StateConnection
from storage.known_pages import url_key

ARCHIVED_LOG_MAX = 5000  # entries of {ns}:archived_log kept (one a flush of one worker)
SCAN_COUNT = 1000  # fields of {ns}:archived read a round trip at the start
PULL_COUNT = 10_000  # entries of {ns}:archived_log read a flush at most


@dataclass
class FlushResult:
    shared: int = 0  # archived URLs written
    healed: int = 0  # failures deleted
    pulled: int = 0  # archived URLs read from the log (any worker's)


class ArchivedState(StateConnection):
    """Archived URLs and failure rows (:meth:`_init_archived` sets them up)."""

    def _init_archived(self) -> None:
        self._forget_text = self.redis.register_script(lua.FORGET_TEXT)
        # archived URLs: every worker's, in memory by url_key; this worker's, to write behind
        self._archived: dict[int, str] = {}
        self._log_id = "0-0"  # the last archived_log entry read
        self._to_share: dict[str, str] = {}
        self._to_heal: set[str] = set()
        # a heal must not delete a failure row written after it: a row goes in between flushes
        self._flush_lock = threading.Lock()

    def forget_text(self, sha256: str, seq: int, urls: Iterable[str]) -> None:
        """Undo text_stored and mark_archived for a text this worker dropped (its WARC record
        did not survive a crash): the URLs are fetched and the text written again."""
        urls = list(dict.fromkeys(urls))
        k = self.keys
        self._forget_text(keys=[k["texts"], k["archived"], k["archived_log"]],
                          args=[sha256, seq, self.worker, ARCHIVED_LOG_MAX, *urls])  # fmt: skip
        with self._lock:
            for url in urls:
                self._archived.pop(url_key(url), None)
                self._to_share.pop(url, None)

    def load_archived(self) -> int:
        """Read every worker's archived URLs into memory (at the start, in a thread): the
        spider's "archived by any worker?" never waits for Redis. Returns how many."""
        key, log = self.keys["archived"], self.keys["archived_log"]
        last = self.redis.xrevrange(log, count=1)
        log_id = last[0][0].decode() if last else "0-0"  # taken first: nothing falls between
        archived: dict[int, str] = {}
        times: dict[bytes, str] = {}  # one string per distinct time
        cursor = 0
        while True:
            cursor, page = self.redis.hscan(key, cursor, count=SCAN_COUNT)
            for url, at in page.items():
                text = times.get(at)
                if text is None:
                    text = times[at] = at.decode()
                archived[url_key(url.decode("utf-8", "surrogateescape"))] = text
            if not cursor:
                break
        with self._lock:
            archived.update(self._archived)  # this run's, if any came first
            self._archived, self._log_id = archived, log_id
        return len(archived)

    def archived_at_cached(self, url: str) -> str | None:
        """When any worker archived `url`, as known here (loaded by :meth:`load_archived`,
        kept fresh by :meth:`flush`): never a Redis call."""
        return self._archived.get(url_key(url))

    def mark_archived(self, urls: Iterable[str], at: str) -> None:
        """Known here at once, shared with the others by the next :meth:`flush`."""
        with self._lock:
            for url in urls:
                self._archived[url_key(url)] = at
                if self._to_share.get(url, "") < at:
                    self._to_share[url] = at

    def archived_at(self, url: str) -> str | None:
        """Redis's answer (tools and tests; the crawl asks :meth:`archived_at_cached`)."""
        at = self.redis.hget(self.keys["archived"], url)
        return at.decode() if at else None

    def put_failure(self, row: dict[str, Any]) -> None:
        """At once (a failure row is rare), never before a heal of the same URL said earlier."""
        with self._flush_lock:
            with self._lock:
                self._to_heal.discard(row["url"])
            self.redis.hset(self.keys["failures"], row["url"], json.dumps(row, sort_keys=True))

    def heal(self, url: str) -> None:
        """The URL's shared failure row, if any, goes with the next :meth:`flush`."""
        with self._lock:
            self._to_heal.add(url)

    def flush(self, pull: bool = True) -> FlushResult:
        """Write what waits behind (archived URLs, healed failures) and, with `pull`, read what
        the workers archived since the last time, in one pipeline. Blocking: call it from a
        thread. On a RedisError what was taken waits for the next one."""
        with self._flush_lock:
            with self._lock:
                share, self._to_share = self._to_share, {}
                heal, self._to_heal = self._to_heal, set()
                log_id = self._log_id
            k = self.keys
            pipe = self.redis.pipeline(transaction=False)
            if share:
                pipe.hset(k["archived"], mapping=share)
                pipe.xadd(k["archived_log"], share, maxlen=ARCHIVED_LOG_MAX, approximate=True)
            if heal:
                pipe.hdel(k["failures"], *heal)
            if pull:
                pipe.xread({k["archived_log"]: log_id}, count=PULL_COUNT)
            try:
                replies = pipe.execute() if (share or heal or pull) else []
            except redis.RedisError:
                with self._lock:
                    for url, at in share.items():
                        if self._to_share.get(url, "") < at:
                            self._to_share[url] = at
                    self._to_heal |= heal
                raise
            result = FlushResult(shared=len(share), healed=len(heal))
            if pull and replies and replies[-1]:
                result.pulled = self._read_log(replies[-1])
        return result

    def _read_log(self, reply: Any) -> int:
        pulled = 0
        with self._lock:
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    for url, at in fields.items():
                        key = url_key(url.decode("utf-8", "surrogateescape"))
                        if at:
                            text = at.decode()
                            if self._archived.get(key, "") < text:
                                self._archived[key] = text
                        else:  # forgotten (its text dropped): fetched again
                            self._archived.pop(key, None)
                        pulled += 1
                    self._log_id = entry_id.decode()
        return pulled

    def waiting(self) -> dict[str, int]:
        """What is written behind and not yet written (for the log at close)."""
        with self._lock:
            return {"archived": len(self._to_share), "healed": len(self._to_heal)}

    def failures(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.redis.hvals(self.keys["failures"])]

    def failure_values(self) -> list[bytes]:
        """The shared failure rows as stored: anyone who can write to Redis wrote them, so they
        are read through :func:`crawler.cluster.admission.admitted_failures`."""
        return list(self.redis.hvals(self.keys["failures"]))
