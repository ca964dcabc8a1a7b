"""The project's own Scrapy signals, so components hear of each other without knowing each other.

``page_failed``   a URL ended without a page or an article. Arguments: ``url``, ``outlet``,
                  ``reason``, ``status`` (int or None), ``attempts``, ``detail``, ``kind`` (the
                  request's meta kind) and ``retry_after`` (seconds the server asked for, or None).
                  The failure recorder writes it to the manifest and ``failures.jsonl``.
``page_ok``       a URL gave what it should (a hub parsed, an article stored): ``url``. A failure
                  listed for it has healed.
``download_failed`` a download ended in an exception, not a response: ``request``,
                  ``exception``. The WARC capture records the attempt.
``disk_full``     a write failed, or would have taken the archive below its floor of free
                  space: ``error`` (a :class:`storage.diskspace.DiskFull`), ``source`` (the
                  component). The disk guard stops the crawl, once.
``request_queued`` a distributed crawl's scheduler put ``request`` into the shared queue.
``request_done``  the spider is done with a request that ended in an error (recorded, not to be
                  retried in this run): ``request``. A distributed crawl ends its lease.
``text_stored``   an article's text is in the archive (sent on the reactor once the text writer
                  is done with it): ``item`` (the :class:`pipelines.items.ArticleItem`, its
                  ``article`` the text and metadata), ``text_id`` (the manifest's ``texts.id``),
                  ``stem`` (``NNN_HASH``), ``sha256``,
                  ``text_file`` (relative to the archive) and ``outcome`` (``written``, or
                  ``duplicate``: a text stored before, found at another URL). Handlers must not
                  block: the search index and the stories do their work in threads of their own.
``warc_closed``   the crawl is over and the WARC capture has closed its files: ``reason`` (the
                  spider's finish reason), ``parts`` (the files whose index part the writer
                  wrote). The index takes the new files in; handlers may return a Deferred,
                  which the close waits for.
"""

from __future__ import annotations

page_failed = object()
page_ok = object()
download_failed = object()
request_done = object()
request_queued = object()
disk_full = object()
warc_closed = object()
text_stored = object()
