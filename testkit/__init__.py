"""Local servers and tools the tests and the benchmarks share.

The one mock web server of the crawl tests (:mod:`testkit.mockserver`), the Redis and SeaweedFS
(S3) launchers, pywb and ReplayWeb.page replay tools, Chromium, a Range-serving file server and
misbehaving endpoints. ``tests/`` and ``bench/`` import it from the repository root; the product
(``crawler``, ``pipelines``, ``storage``) never does, and it is not installed with them.
"""
