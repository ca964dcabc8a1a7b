"""StoriesUpdater: each text the crawl stores joins a story (``ARCHIVE/stories.sqlite``) as it
is stored.

Connected to ``text_stored`` (sent on the reactor). All the work runs in one thread of its own,
in the order the texts were stored: the first text opens :class:`storage.stories.Stories`
(its LSH index is in the file: nothing to load) and assigns the text, by the manifest id the
signal carries (the stories thread opens no connection to the manifest); a copy of a text stored
before (``outcome`` duplicate) only widens its story's dates. Stats are counted back on the
reactor. The spider's close waits for the thread to finish, inside the archive's lock. A text
that could not be assigned is an error in the log and a stat, not a failed crawl:
``newsarchiver index --stories`` rebuilds the file from the manifest and text files.

Settings: ``STORIES_ENABLED``, ``STORIES_NEAR_DUPLICATE_THRESHOLD``,
``STORIES_RELATED_THRESHOLD``, ``STORIES_WINDOW_DAYS``, ``ARCHIVE_DIR``.
Stats: ``stories/assigned`` (new texts placed), ``stories/new`` (of those, starting a story),
``stories/joined`` (joining one), ``stories/near_duplicates`` (joining as a near-duplicate of a
text in it), ``stories/copies`` (another URL of a text already placed), ``stories/errors``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer
from twisted.python.failure import Failure

from pipelines import signals as na_signals
from pipelines.writer_thread import WriterThread
from storage.stories import Assigned, Stories, stories_path

logger = logging.getLogger(__name__)


class StoriesUpdater:
    def __init__(self, archive: Path, stats: StatsCollector, thresholds: dict[str, float]) -> None:
        self.archive = archive
        self.stats = stats
        self.thresholds = thresholds
        self._stories: Stories | None = None
        self._writer = WriterThread("stories")
        self._pending: set[defer.Deferred[Any]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoriesUpdater:
        s = crawler.settings
        if not s.getbool("STORIES_ENABLED") or not s.getbool("TEXT_ENABLED"):
            raise NotConfigured("STORIES_ENABLED is off")
        assert crawler.stats is not None
        ext = cls(Path(s["ARCHIVE_DIR"]), crawler.stats, {
            "near_threshold": s.getfloat("STORIES_NEAR_DUPLICATE_THRESHOLD"),
            "related_threshold": s.getfloat("STORIES_RELATED_THRESHOLD"),
            "window_days": s.getfloat("STORIES_WINDOW_DAYS"),
        })  # fmt: skip
        crawler.signals.connect(ext.text_stored, signal=na_signals.text_stored)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def text_stored(self, item: Any, text_id: int | None, sha256: str, outcome: str,
                    **_: Any) -> None:  # fmt: skip
        if text_id is None:
            return
        article = item.article
        published = article.published or item.fetched_at
        job = (text_id, sha256, article.title, tuple(article.paragraphs), published, outcome)
        d = self._writer.submit(self._assign, *job)
        self._pending.add(d)
        d.addBoth(self._done, d)

    def _done(self, result: Any, d: defer.Deferred[Any]) -> None:
        self._pending.discard(d)
        if isinstance(result, Failure):
            self.stats.inc_value("stories/errors")
            logger.error("could not assign a text to a story: %s (`newsarchiver index "
                         "--stories` rebuilds the stories)", result.getErrorMessage())  # fmt: skip
            return
        if result is None:
            return
        if result == "copy":
            self.stats.inc_value("stories/copies")
            return
        assigned: Assigned = result
        self.stats.inc_value("stories/assigned")
        self.stats.inc_value("stories/new" if assigned.new else "stories/joined")
        if assigned.near_duplicate_of is not None:
            self.stats.inc_value("stories/near_duplicates")

    def _assign(self, text_id: int, sha256: str, title: str, paragraphs: tuple[str, ...],
                published: str | None, outcome: str) -> Assigned | str | None:  # fmt: skip
        """Stories thread: place the text; "copy" for another URL of a placed text."""
        if self._stories is None:
            self._stories = Stories(stories_path(self.archive), **self.thresholds)
        if outcome != "written" and text_id in self._stories:
            self._stories.touch(text_id, published)
            return "copy"
        return self._stories.assign(text_id, title, paragraphs, published, sha256)

    async def spider_closed(self) -> None:
        if self._pending:
            await maybe_deferred_to_future(
                defer.DeferredList(list(self._pending), consumeErrors=True)
            )
        await self._writer.close(self._close)  # after every write queued before it

    def _close(self) -> None:
        if self._stories is not None:
            self._stories.close()
