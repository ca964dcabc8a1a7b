"""TextNumbers: what the text pipeline needs of a distributed crawl, as an interface.

In a distributed crawl the number of a new text and the "stored already?" answer are shared by
every worker. The text pipeline (:mod:`pipelines.store_text`) asks for them through this
Protocol and never imports the cluster: the crawler names the implementation in the
``TEXT_NUMBERS_CLASS`` setting (the cluster add-on sets it to
:class:`crawler.cluster.text_numbers.ClusterTextNumbers`, as it sets ``SCHEDULER``), and the
pipeline builds it with Scrapy's ``build_from_crawler``. Unset: a single crawl, the numbers are
the archive's own.

An implementation raises :class:`TextNumbersUnavailable` when the shared state cannot be
reached (Redis down): the page is then recorded as a failure (``cluster_unavailable``), never
half-stored. Every method but :meth:`TextNumbers.mark_archived` may raise it; all are called
from the text writer's thread.

Settings: ``TEXT_NUMBERS_CLASS`` (read by the pipeline).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class TextNumbersUnavailable(Exception):
    """The shared numbering could not be reached; the message says why (the client's error)."""


class TextNumbers(Protocol):
    def claim_text(self, sha256: str) -> tuple[str, int]:
        """('new' | 'mine', NNN): write the text under NNN. ('stored' | 'elsewhere', NNN):
        another worker has it (stored, or being written)."""
        ...

    def text_stored(self, sha256: str, seq: int) -> None:
        """The text's files are in place: no other worker takes it over."""
        ...

    def text_seq(self) -> int:
        """The next number the shared state would hand out."""
        ...

    def sync_texts(self, stored: Iterable[tuple[str, int]]) -> int:
        """Tell the shared state of the (sha256, number) texts this archive holds, so that no
        number is handed out twice; returns the next number."""
        ...

    def return_numbers(self) -> tuple[int, bool]:
        """At the close: (numbers reserved and not used, whether they were given back)."""
        ...

    def mark_archived(self, urls: Iterable[str], at: str) -> None:
        """The URLs were archived at `at`: every worker's "archived already?" answer."""
        ...
