"""Distributed crawling: several workers share one crawl through Redis (``--redis URL``).

The request queue is scrapy-redis's, and the seen-URL filter uses its request fingerprints (it
also keeps the smallest depth each URL was queued at); around them, :mod:`.state` keeps what the
workers must agree on (who is alive, who seeds the run, which requests a worker has
taken, the text numbers and hashes), :mod:`.scheduler` leases requests instead of popping them
and asks Redis in batched steps from a thread (the reactor thread makes no Redis call per page),
:mod:`.leases` completes a lease once its page is archived, :mod:`.extension` runs a worker's
heartbeat and decides when the run is over, :mod:`.addon` switches it all on with
``CLUSTER_ENABLED``. Without it nothing here is loaded and Redis is never needed.
"""
