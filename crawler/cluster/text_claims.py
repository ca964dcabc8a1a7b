"""Text numbers across the cluster: the part of :class:`crawler.cluster.state.ClusterState` the
text writer asks which number a text gets (``{ns}:texts``, ``{ns}:text_seq``).

A new text takes a number this worker reserved ahead, in blocks of 1, 2, 4 … up to
``numbers_ahead`` (``CLUSTER_TEXT_NUMBERS_AHEAD``, read by :meth:`ClusterState.from_settings`);
a text found claimed already is decided by the Lua step :data:`lua.CLAIM_TEXT`. Numbers are
never handed out twice (:meth:`TextClaims.sync_texts` after Redis lost them).
"""

from __future__ import annotations

from collections.abc import Iterable

from crawler.cluster import lua
from crawler.cluster.connection import StateConnection


class TextClaims(StateConnection):
    """Claiming texts and their numbers (:meth:`_init_texts` sets them up)."""

    def _init_texts(self, numbers_ahead: int) -> None:
        r = self.redis
        self._claim_text = r.register_script(lua.CLAIM_TEXT)
        self._return_seq = r.register_script(lua.RETURN_SEQ)
        self._raise_seq = r.register_script(lua.RAISE_SEQ)
        self._reserve = r.register_script(lua.RESERVE)
        # text numbers reserved ahead: [next, end), in blocks of 1, 2, 4 … up to numbers_ahead
        self.numbers_ahead = numbers_ahead
        self._numbers = (0, 0)
        self._block = 1

    def claim_text(self, sha256: str) -> tuple[str, int]:
        """('new' | 'mine', NNN): write it. ('stored' | 'elsewhere', NNN): another has it.
        A new text is one HSETNX under a number reserved ahead (:meth:`_reserved`); the Lua
        step decides only for a text found there already. Called from one thread (the text
        writer's)."""
        number = self._reserved()
        texts = self.keys["texts"]
        if self.redis.hsetnx(texts, sha256, f"{number}|{self.worker}"):
            outcome, seq = "new", number
        else:
            answer, claimed = self._claim_text(
                keys=[texts], args=[sha256, self.worker, self.ns, number]
            )
            outcome, seq = answer.decode(), int(claimed)
        if outcome == "new":
            with self._lock:
                self._numbers = (number + 1, self._numbers[1])
        return outcome, seq

    def _reserved(self) -> int:
        """The next text number this worker reserved; a block reserved first if none is left
        (one INCRBY: 1, 2, 4 … up to ``CLUSTER_TEXT_NUMBERS_AHEAD`` numbers)."""
        with self._lock:
            start, end = self._numbers
            if start < end:
                return start
            block = self._block
        # checked: an empty Redis would hand out numbers the archives used already
        end = int(self._checked(self._reserve, [self.keys["text_seq"]], [block]))
        with self._lock:
            self._numbers = (end - block, end)
            self._block = max(1, min(block * 2, self.numbers_ahead))
        return end - block

    def return_numbers(self) -> tuple[int, bool]:
        """At the close: (numbers reserved and not used, whether they were given back). Not
        given back when another worker reserved numbers after them: skipped, never reused."""
        with self._lock:
            start, end = self._numbers
            self._numbers = (0, 0)
        if start >= end:
            return 0, True
        given = self._return_seq(keys=[self.keys["text_seq"]], args=[end, start])
        return end - start, bool(given)

    def text_stored(self, sha256: str, seq: int) -> None:
        """At once, not written behind: a claim of this worker's that outlived it would be
        taken over, and its text written twice."""
        self.redis.hset(self.keys["texts"], sha256, seq)

    def sync_texts(self, stored: Iterable[tuple[str, int]]) -> int:
        """Tell Redis of texts this worker stored (after Redis lost its data, or a worker's first
        run in a cluster): numbers are never handed out twice. Returns the next number."""
        rows = list(stored)
        if rows:
            pipe = self.redis.pipeline(transaction=False)
            for sha, seq in rows:
                pipe.hsetnx(self.keys["texts"], sha, seq)
            pipe.execute()
        floor = max((seq for _, seq in rows), default=-1) + 1
        return int(self._raise_seq(keys=[self.keys["text_seq"]], args=[floor]))

    def text_seq(self) -> int:
        return int(self.redis.get(self.keys["text_seq"]) or 0)
