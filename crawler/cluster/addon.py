"""ClusterAddon: with ``CLUSTER_ENABLED``, route the crawl through Redis (a Scrapy add-on).

It runs before the settings are frozen, for ``newsarchiver crawl --redis`` and for
``scrapy crawl outlets -s CLUSTER_ENABLED=1 -s REDIS_URL=…`` alike, and sets what scrapy-redis
and the cluster components need: the leasing scheduler and scrapy-redis's dupefilter on keys
under ``CLUSTER_NAME``, a JSON serializer instead of pickle, the queue kept across a worker's
close (the last worker out clears it), the worker extension and lease middleware, the text
numbers shared through Redis (``TEXT_NUMBERS_CLASS``), and the worker id in ``WARC_PREFIX`` so
WARC names stay unique archive-wide.

Settings read: ``CLUSTER_ENABLED``, ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``, ``WARC_PREFIX``,
``ARCHIVE_DIR`` (the default worker id: :mod:`crawler.cluster.identity`).
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from crawler.cluster.connection import client_options
from crawler.cluster.identity import worker_id


class ClusterAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.getbool("CLUSTER_ENABLED"):
            return
        name = settings["CLUSTER_NAME"]
        worker = worker_id(settings)  # the host and the archive, unless given
        # '%' would be read by scrapy-redis's "%(spider)s" key templates
        escaped = name.replace("%", "%%")
        for key, value in {
            "CLUSTER_WORKER_ID": worker,
            "SCHEDULER": "crawler.cluster.scheduler.LeasingScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
            "SCHEDULER_QUEUE_KEY": f"{escaped}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{escaped}:dupefilter",
            "SCHEDULER_SERIALIZER": "crawler.cluster.serializer",
            # the text pipeline's numbering through Redis (pipelines.text_numbers)
            "TEXT_NUMBERS_CLASS": "crawler.cluster.text_numbers.ClusterTextNumbers",
            "SCHEDULER_PERSIST": True,
            "SCHEDULER_FLUSH_ON_START": False,
            "REDIS_PARAMS": client_options(),
            "WARC_PREFIX": f"{settings['WARC_PREFIX']}_{worker}",
        }.items():
            # as strong as the value it replaces: WARC_PREFIX is a project setting, and an
            # add-on's priority is below the project's
            settings.set(key, value, priority=max(settings.getpriority(key) or 0, 15))
        settings["EXTENSIONS"]["crawler.cluster.extension.ClusterWorker"] = 50
        # outermost (last to see the output): what it hands on goes straight to the engine
        settings["SPIDER_MIDDLEWARES"]["crawler.cluster.leases.LeaseMiddleware"] = 5
