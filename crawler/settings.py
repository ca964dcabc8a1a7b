"""Scrapy settings for newsarchiver: every default the project has, in one place.

Scrapy's own settings come first (politeness, limits, components); then the project's, grouped by
prefix with the on/off flag first: ``ARCHIVE_*`` (where the archive lives), ``WARC_*`` (captures),
``EXTRACT_*`` (HTML to clean text), ``TEXT_*`` (text files), ``SEARCH_*`` (the full-text index),
``STORIES_*`` (texts grouped into stories), ``CLUSTER_*`` (distributed crawling through Redis),
``QUIET_*`` (what a quiet crawl reports). Any of them can be overridden with
``-s NAME=VALUE`` on ``newsarchiver crawl`` or ``scrapy crawl``.
"""

from __future__ import annotations

from crawler import __version__

BOT_NAME = "newsarchiver"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- politeness -----------------------------------------------------------------------------
# The outlet config's `user_agent` replaces this one (the spider's `user_agent` attribute).
USER_AGENT = f"newsarchiver/{__version__} (+https://example.org/newsarchiver)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# Scrapy starts this many tasks for every response's output (default 100); a page yields at
# most one item, so 100 tasks per page were pure reactor overhead (about 1 ms a page).
CONCURRENT_ITEMS = 8

# --- limits: a hostile page is cut short, recorded, and the crawl goes on -------------------
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024  # also caps decompressed size (gzip bombs)
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
REDIRECT_MAX_TIMES = 10
# Depth is limited per outlet by the spider (`depth` in the outlet config), not globally.
DEPTH_LIMIT = 0

# --- retries within a run: backoff with jitter, Retry-After honoured ---------------------------
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [403, 408, 429, 500, 502, 503, 504, 522, 524]
RETRY_BASE_DELAY = 2.0  # seconds before the first retry; doubled for each next one
RETRY_MAX_DELAY = 60.0  # cap of the backoff
RETRY_JITTER = True  # wait between half and all of the backoff
RETRY_AFTER_MAX = 120.0  # a longer Retry-After is not waited for: the URL is due in a later run
RETRY_SOFT_FAILURES = True  # error/block/challenge pages with status 200 are retried like a 403
# once per outlet per run, a URL that cannot exist: its answer tells the outlet's soft 404s
SOFT_FAILURE_PROBE = True
# --- retries across runs: a URL that failed is due again 1 h, 4 h, 16 h… later ------------------
RETRY_RUN_BACKOFF = 3600.0
RETRY_RUN_BACKOFF_FACTOR = 4.0
RETRY_RUNS_MAX = 5  # failed runs before a URL is gave_up (retried only by `retry --all`)

# --- components -----------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # responses go from high numbers to low ones
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry.BackoffRetryMiddleware": 550,
    # after decompression (590), before the meta refresh (580) and soft-failure (550) checks,
    # which read the page's text
    "crawler.middlewares.charset.CharsetMiddleware": 585,
    # a 304 read from its capture: before the charset choice, like a page just fetched
    "crawler.middlewares.not_modified.NotModifiedMiddleware": 586,
}
SPIDER_MIDDLEWARES = {
    # a link past URLLENGTH_LIMIT (Scrapy's 2083) is a recorded failure, not only a stat
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "crawler.middlewares.url_length.UrlLengthMiddleware": 800,
}
EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,
    "crawler.extensions.archive_lock.ArchiveLock": 0,  # first: nothing touches the archive before
    "crawler.extensions.run_log.RunLog": 10,
    "crawler.extensions.disk_guard.DiskGuard": 15,
    "crawler.extensions.progress.Progress": 20,
    "crawler.extensions.warc_capture.WarcCapture": 100,
    "crawler.extensions.index_update.IndexUpdater": 110,  # when WarcCapture has closed its files
    "crawler.extensions.failures.FailureRecorder": 200,
    # ARCHIVE/search.sqlite, from the text_stored signal, written in a thread of its own
    "crawler.extensions.search_index.SearchIndexer": 300,
    "crawler.extensions.stories_update.StoriesUpdater": 310,  # text_stored: texts into stories
    "crawler.extensions.run_summary.RunSummary": 900,
}
ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 300,
    "pipelines.store_text.StoreTextPipeline": 500,
    # last: an archived article leaves as an ArchivedArticle of plain values, which feeds
    # (-o items.jsonl / .csv / .xml) and item_scraped listeners get
    "pipelines.output_item.OutputItemPipeline": 900,
}

# CLUSTER_ENABLED on: Redis scheduler, dupefilter and the cluster components (crawler/cluster)
ADDONS = {"crawler.cluster.addon.ClusterAddon": 0}

# An unattended archiver needs neither a telnet console (its password would be in the log) nor
# Scrapy 2.19's remote-control HTTP server (a token and a job file under the user's state dir,
# left behind by a killed crawl); `-s TELNETCONSOLE_ENABLED=1` / `-s REMOTE_CONTROL_ENABLED=1`.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# `scrapy crawl outlets` runs crawler/commands/crawl.py: newsarchiver crawl's checks, lock,
# exit codes and push around Scrapy's own crawl command
COMMANDS_MODULE = "crawler.commands"

LOG_LEVEL = "INFO"
# Scrapy's default request fingerprinter; set explicitly so no deprecation warning is printed.
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

# --- ARCHIVE_*: where everything is written ---------------------------------------------------
ARCHIVE_DIR = "archive"
# Identifies one crawl in the manifest and in runs/<run-id>.json; generated when empty.
ARCHIVE_RUN_ID = ""
ARCHIVE_LOG_RETENTION_DAYS = 30  # logs/<run-id>.log older than this are removed; 0 keeps all
LOGSTATS_INTERVAL = 60.0  # seconds between progress lines
# A crawl does not start, and stops cleanly, with less free space than this on the archive's
# disk (MB): room for the manifest, the summary and the log to finish. 0: no floor.
ARCHIVE_MIN_FREE_MB = 100.0

# Page requisites (crawler/requisites.py): the stylesheets, scripts, images, fonts and icons an
# archived article needs to replay as its reader saw it, on any host (CDNs too), each URL once a
# run. _HUBS: home and section pages' too. Limits: bytes of one requisite, requisites one page (or
# stylesheet) may add, requisites in a run; what a limit leaves out is counted by its reason.
ARCHIVE_REQUISITES = True
ARCHIVE_REQUISITES_HUBS = False
ARCHIVE_REQUISITES_MAX_SIZE = 10 * 1024 * 1024
ARCHIVE_REQUISITES_MAX_PER_PAGE = 150
ARCHIVE_REQUISITES_MAX_PER_RUN = 50_000

# --- WARC_*: every HTTP exchange, as received ---------------------------------------------------
WARC_ENABLED = True
WARC_PREFIX = "newsarchiver"
WARC_MAX_SIZE = 1_000_000_000  # bytes; a file is closed and a new one opened past this size
# gzip level of each record's member (zlib-ng). 6 (zlib's default, Heritrix's) is within 0.8 % of
# 9's size on real news pages at half its CPU; 4 costs 2 % more bytes for 80 % of 6's CPU.
WARC_GZIP_LEVEL = 6
# Exchanges received but not yet written, in bytes: past this the crawl pauses new downloads
# until the writer has caught up to half of it, so a slow disk costs speed, not memory.
WARC_MAX_PENDING_BYTES = 64 * 1024 * 1024
# Every exchange is flushed to the kernel before its text is stored (a SIGKILL loses nothing);
# files are fsynced when rotated and closed. "record": fsync every exchange too, so a power cut
# cannot lose a record whose text exists (a disk flush per page).
WARC_FSYNC = "close"  # or "record"

# --- EXTRACT_*: HTML to clean article text, in worker processes ---------------------------------
EXTRACT_ENABLED = True
EXTRACT_WORKERS = 0  # 0: one per usable core
EXTRACT_MIN_CHARS = 200  # less article text than this is "no article" (reason too_short)
EXTRACT_TIMEOUT = 60.0  # seconds for one page; past it the worker is killed, the page a failure
EXTRACT_FUNCTION = "pipelines.article.extract_article"  # or your own, same signature

# --- PUSH_*: copy the archive to object storage (newsarchiver push, crawl --push) ----------------
PUSH_TO = ""  # s3://bucket/prefix or file:///path; set, a crawl pushes when it ends
PUSH_CREATE_BUCKET = False
PUSH_DELETE_LOCAL_AFTER_VERIFY = False  # remove local WARC files once their upload is verified
PUSH_WORKERS = 2  # files uploaded at once (each also goes in parallel parts)
PUSH_MULTIPART_THRESHOLD = 64 * 1024 * 1024  # bytes; larger files go multipart
PUSH_MULTIPART_CHUNKSIZE = 64 * 1024 * 1024
PUSH_MAX_CONCURRENCY = 8  # parts of one file uploaded at once
PUSH_ADDRESSING_STYLE = "auto"  # auto: path-style for any endpoint URL but AWS's; or path, virtual
# Time a push may take, so a stalled server cannot hold the archive's lock for long: seconds to
# connect, seconds without a byte from the server, retries of a request that failed on the network
# or a 5xx (botocore's standard mode, with backoff), and a deadline for all of one object's upload
# and verification (0: none), which a server trickling bytes cannot stretch. An object that misses
# it fails the push (exit 4; its upload aborted) and goes again next push: at 900 s a 1 GB WARC
# needs 1.2 MB/s.
PUSH_CONNECT_TIMEOUT = 10.0
PUSH_READ_TIMEOUT = 60.0
PUSH_RETRIES = 3
PUSH_OBJECT_TIMEOUT = 900.0
# Scrapy's AWS_* settings are honoured (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION_NAME, AWS_VERIFY); left None, boto3 reads the
# environment, the shared credentials file and AWS_PROFILE.
# Secrets (crawler/redaction.py): NAME_ENV names the environment variable holding a secret
# setting NAME (AWS_SECRET_ACCESS_KEY_ENV=MY_VAR, REDIS_URL_ENV=MY_REDIS_URL…), so the secret is
# on no command line; every *_KEY, *_SECRET, *_TOKEN, *_PASSWORD setting, AWS credential and URL
# password is masked (***) in every log line, run summary, warcinfo record and message.

# --- TEXT_*: NNN_HASH.txt + NNN_HASH.json ------------------------------------------------------
TEXT_ENABLED = True
TEXT_FSYNC = True  # fsync each file before it is renamed into place
# the class that numbers texts across workers (pipelines.text_numbers.TextNumbers); empty: the
# archive numbers its own. The cluster add-on sets it (crawler.cluster.text_numbers) with Redis
TEXT_NUMBERS_CLASS = ""

# --- STORIES_*: texts grouped into stories as they are stored (storage/stories.py) ----------
STORIES_ENABLED = True
# Body word-shingle Jaccard (MinHash-estimated) from which two texts are near-duplicates: the
# same copy edited. 0.5 measured on the syndicated variants (bench/stories_bench.py --fixture):
# precision and recall 1.0 from 0.3 to 0.7 (0.83 at 0.8); edited copies score 0.73-0.93,
# unrelated texts under 0.02.
STORIES_NEAR_DUPLICATE_THRESHOLD = 0.5
# Keyword (title + lead, content words) Jaccard from which two reports within
# STORIES_WINDOW_DAYS of each other are the same story though not the same copy.
STORIES_RELATED_THRESHOLD = 0.4
STORIES_WINDOW_DAYS = 3.0

# --- SEARCH_*: ARCHIVE/search.sqlite, full-text search of the texts (newsarchiver search) ------
# on: every text stored is indexed (FTS5) in the crawl's own thread; what a killed crawl missed
# is added when the next one opens. Off: `newsarchiver index --search` builds it.
SEARCH_INDEX_ENABLED = True

# --- CLUSTER_*: several workers, one crawl, through Redis (newsarchiver crawl --redis URL) -----
CLUSTER_ENABLED = False  # off: one machine, Redis never needed
REDIS_URL = ""  # scrapy-redis's setting: redis://[:password@]host:6379/0 (rediss:// for TLS)
CLUSTER_NAME = "newsarchiver"  # prefix of every Redis key: one name per shared archive
CLUSTER_WORKER_ID = ""  # unique per worker (--worker-id); empty: this host's name
CLUSTER_HEARTBEAT = 5.0  # seconds between a worker's "alive" refreshes
CLUSTER_WORKER_TTL = 30  # seconds without a refresh before a worker's requests are requeued
CLUSTER_REDIS_LOST_TIMEOUT = 60.0  # seconds without Redis before a worker stops cleanly
CLUSTER_SEED_ONLY = False  # newsarchiver seed: queue the run's seeds and stop, fetch nothing
CLUSTER_IDLE_POLL = 0.5  # seconds between looks at the queue while other workers still crawl
# Redis is asked in batches, from threads (none of it per page on the reactor):
CLUSTER_SYNC_INTERVAL = 0.5  # seconds between a worker's batched steps: requests it found
#   queued, finished leases ended, requests taken ahead (at once when the engine waits)
CLUSTER_PREFETCH = 32  # requests a worker takes ahead of need (leased; at most 1000)
CLUSTER_TEXT_NUMBERS_AHEAD = 16  # text numbers a worker reserves at a time, at most (1: the
#   archive-wide order of first writes kept exactly, at one more Redis command per text)
CLUSTER_FLUSH_INTERVAL = 1.0  # seconds between writes of a worker's archived URLs and healed
#   failures and reads of the URLs the others archived

# --- QUIET_*: newsarchiver crawl --quiet, for cron (crawler/quiet.py) ---------------------------
# On: nothing printed for a run that went as expected; a short report on stderr for one that
# needs a person (a crash or exit != 0, an outlet that saw no article, too many failures).
QUIET_ENABLED = False
QUIET_FAILURE_RATIO = 0.25  # an outlet's failed URLs / the URLs it requested this run, above it
QUIET_FAILURE_MIN = 3  # ... and at least this many: one 404 in a quiet hour is no news
